// The library's compile(): front end, schedule, and the emitters for each requested target.
import { frontEnd } from "./frontend.js";
import { manifestOf, type Manifest } from "./manifest.js";
import type { Diagnostic } from "./diagnostics/diagnostic.js";
import type { CheckedKernel } from "./check/typed.js";
import { planKernel, type KernelPlan } from "./plan/plan.js";
import { resolve } from "./diagnostics/source.js";
import { emitWgsl } from "./emit/wgsl/index.js";
import { emitCuda } from "./emit/cuda/index.js";
import { emitTsWrapper } from "./emit/ts/index.js";

export type Target = "cuda" | "wgsl" | "all";

export type CompileOptions = {
  readonly target?: Target;
  readonly defines?: Readonly<Record<string, number>>;
  readonly fileName?: string;
  readonly kernel?: string;
  readonly schedule?: "auto" | "fused" | "naive";
  readonly arch?: "sm_80" | "sm_90a";
};

export type CompiledKernel = {
  readonly name: string;
  readonly manifest: Manifest;
  readonly checked: CheckedKernel;
  readonly plan: KernelPlan;
  readonly wgsl?: string;
  readonly ts?: string;
  readonly cuda?: string;
  readonly header?: string;
};

export type CompileResult = { readonly diagnostics: readonly Diagnostic[]; readonly kernels: readonly CompiledKernel[] };

export function compile(source: string, options: CompileOptions = {}): CompileResult {
  const fileName = options.fileName ?? "<input>";
  const front = frontEnd(source, { fileName, defines: options.defines });
  const diagnostics: Diagnostic[] = [...front.diagnostics];
  let checked = front.kernels;
  if (options.kernel !== undefined) {
    checked = checked.filter((k) => k.name === options.kernel);
    if (checked.length === 0 && !diagnostics.some((d) => d.severity === "error")) {
      diagnostics.push({
        severity: "error", message: `no kernel named \`${options.kernel}\` (the file has ${front.kernels.map((k) => `\`${k.name}\``).join(", ") || "none"})`,
        file: fileName, line: 1, column: 1, endLine: 1, endColumn: 1,
      });
    }
  }
  const target = options.target ?? "all";
  const kernels: CompiledKernel[] = [];
  for (const k of checked) {
    const planned = planKernel(k, options.schedule ?? "auto");
    diagnostics.push(...planned.diagnostics.map((d) => resolve(front.file, d)));
    if (planned.diagnostics.some((d) => d.severity === "error")) continue;
    const plan = planned.plan;
    const manifest = manifestOf(k, plan.schedule);
    let compiled: CompiledKernel = { name: k.name, manifest, checked: k, plan };
    if (target !== "cuda") {
      const wgsl = emitWgsl(plan);
      const ts = wgsl && emitTsWrapper(manifest, wgsl.code);
      if (wgsl !== undefined) compiled = { ...compiled, wgsl: wgsl.code };
      if (ts !== undefined) compiled = { ...compiled, ts };
    }
    if (target !== "wgsl") {
      const cuda = emitCuda(plan, { arch: options.arch ?? "sm_80" });
      if (cuda !== undefined) compiled = { ...compiled, cuda: cuda.source, header: cuda.header };
    }
    kernels.push(compiled);
  }
  return { diagnostics, kernels };
}
