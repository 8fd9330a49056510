// Execution-test support: compiling an example for WebGPU, running it, and comparing with the float64 interpreter.
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { expect } from "vitest";
import { compile, type CompiledKernel } from "../../src/compile.js";
import { createRunner, type Outputs, type RunnerOptions } from "../../src/runtime/index.js";
import { interpret } from "../../src/interp/interpret.js";
import { compare, randomArgs, rng } from "../support/programs.js";
import type { DType } from "../../src/syntax/ast.js";

export const examplesDir = join(import.meta.dirname, "../../examples");
export const examples = readdirSync(examplesDir).filter((f) => f.endsWith(".attn")).sort();
export const exampleSource = (file: string) => readFileSync(join(examplesDir, file), "utf8");

/** Every floating-point tensor's storage type replaced (i32 tensors and scalars stay). */
export const withDtype = (source: string, dtype: DType): string => source.replace(/\b(f16|bf16|f32)\[/g, `${dtype}[`);

/** Examples that do not fuse yet, and why: they are run naive only. */
export const naiveOnly: Readonly<Record<string, string>> = { "paged-kv.attn": "a paged cache's keys are gathered through the page table (issue 16)" };

/** Scalars the examples take, at values that keep every variant interesting at small sizes. */
export const exampleScalars = { G: 2, W: 5, cap: 3, bias: -1 };

export function compileOne(source: string, options: { defines?: Record<string, number>; schedule: "fused" | "naive" }): CompiledKernel {
  const result = compile(source, { target: "wgsl", defines: options.defines, schedule: options.schedule, fileName: "test.attn" });
  const errors = result.diagnostics.filter((d) => d.severity === "error");
  if (errors.length > 0) throw new Error(errors.map((e) => `${e.line}:${e.column} ${e.message}`).join("\n"));
  return result.kernels[0];
}

/** Largest error allowed, relative to the largest |reference| of the output, by the storage type of the output. */
export const tolerance: Record<DType, number> = { f32: 2e-5, i32: 0, f16: 2e-3, bf16: 1.2e-2 };

export type Case = {
  readonly source: string;
  readonly defines?: Record<string, number>;
  readonly sizes: Record<string, number>;
  readonly scalars?: Record<string, number>;
  readonly seed?: number;
  /** Input values scaled by this (large logits). */
  readonly scale?: number;
  readonly tolerance?: number;
};

/** The interpreter's outputs, once a case (fused and naive share them). */
export function reference(c: Case) {
  const kernel = compileOne(c.source, { defines: c.defines, schedule: "naive" }).checked;
  const sizes = Object.fromEntries(kernel.sizes.map((s) => [s, c.sizes[s]]));
  const args = randomArgs(kernel, sizes, rng(c.seed ?? 1), { scale: c.scale, scalars: { ...exampleScalars, ...c.scalars } });
  return { args, sizes, want: interpret(kernel, args, sizes) };
}

export async function runCase(c: Case, schedule: "fused" | "naive", ref = reference(c), options: RunnerOptions = {}): Promise<{ kernel: CompiledKernel; got: Outputs; schedule: string }> {
  const kernel = compileOne(c.source, { defines: c.defines, schedule });
  const run = await createRunner(kernel, options);
  const got = await run(ref.args, ref.sizes);
  for (const t of kernel.manifest.tensors.filter((x) => x.role === "output")) {
    const cmp = compare(got[t.name], ref.want[t.name]);
    const label = `${kernel.name} ${schedule} \`${t.name}\` (${t.dtype})`;
    expect(got[t.name].length, label).toBe(ref.want[t.name].length);
    expect(cmp.nan, `${label}: NaN`).toBe(0);
    expect(cmp.zeroMismatches, `${label}: exact zeros and infinities`).toBe(0);
    expect(cmp.maxRel, `${label}: max relative error`).toBeLessThanOrEqual(c.tolerance ?? tolerance[t.dtype]);
  }
  return { kernel, got, schedule: run.layout.schedule };
}
