// CLI: `attnc run` — one compiled kernel on the WebGPU adapter at hand, with random inputs, against the float64 interpreter.
import type { CompiledKernel } from "../compile.js";
import { interpret } from "../interp/interpret.js";
import { compare, randomArgs, rng, storageTolerance, withinTolerance } from "../interp/inputs.js";
import { createRunner, releaseDevice, requestDevice } from "../runtime/index.js";
import { checkRunSizes } from "../runtime/validate.js";
import type { CheckedKernel, Expr, IndexVar } from "../check/typed.js";
import { children } from "../graph/walk.js";
import { extentValue } from "../interp/interpret.js";
import { own, setOwn } from "../records.js";

/** Sizes and scalars where the user gives none: ragged token counts, 4 query heads over 2 key/value heads. */
const defaultSizes: Readonly<Record<string, number>> = { B: 1, H: 4, HKV: 2, N: 77, M: 93 };
const defaultScalars: Readonly<Record<string, number>> = { G: 2, W: 16, cap: 20, bias: -1 };
const otherSize = 33;

export type RunReport = { readonly text: string; readonly ok: boolean };

/** The most index points the float64 reference may visit (all statements together): some seconds of work. */
export const maxReferenceWork = 2 ** 28;

/** Index points the interpreter visits: per statement, its own and its reductions' index ranges multiplied. */
export function referenceWork(k: CheckedKernel, sizes: Readonly<Record<string, number>>): number {
  const bound = (e: Expr): IndexVar[] => [...(e.kind === "reduce" || e.kind === "softmax" ? e.vars : []), ...children(e).flatMap(bound)];
  return k.statements.reduce((total, s) => {
    const vars = new Map([...s.vars, ...bound(s.value)].map((v) => [v.name, extentValue(v.extent, sizes)]));
    return total + [...vars.values()].reduce((a, b) => a * b, 1);
  }, 0);
}

export async function runKernel(k: CompiledKernel, options: { sizes: Record<string, number>; scalars: Record<string, number>; seed: number }): Promise<RunReport> {
  // Own properties only: a size named `toString` is not Object.prototype's.
  const sizes = Object.fromEntries(k.checked.sizes.map((s) => [s, own(options.sizes, s) ?? own(defaultSizes, s) ?? otherSize]));
  const lines: string[] = [];
  let ok = true;
  try {
    const info = await requestDevice();
    const run = await createRunner(k, { device: info.device });
    // Sizes the device cannot take, or the reference cannot check in reasonable time, fail before any input is made.
    checkRunSizes(k.manifest, run.layout, info.device.limits, 0, sizes);
    const work = referenceWork(k.checked, sizes);
    if (work > maxReferenceWork) {
      throw new RangeError(`the float64 reference would visit about ${work.toExponential(1)} index points at these sizes, more than attnc run checks (2^28): give smaller --sizes`);
    }
    const args = randomArgs(k.checked, sizes, rng(options.seed), { scalars: { ...defaultScalars, ...options.scalars } });
    const want = interpret(k.checked, args, sizes);
    const started = performance.now();
    const got = await run(args, sizes);
    const ms = performance.now() - started;
    const scalars = k.checked.scalars.map((s) => `${s.name}=${+(own(args, s.name) as number).toPrecision(4)}`);
    lines.push(`${k.name}: ${run.layout.schedule} on ${info.description}`);
    lines.push(`  sizes ${Object.entries(sizes).map(([s, v]) => `${s}=${v}`).join(", ")}${scalars.length > 0 ? `; scalars ${scalars.join(", ")}` : ""}; ${ms.toFixed(1)} ms`);
    for (const t of k.manifest.tensors.filter((x) => x.role === "output")) {
      const cmp = compare(own(got, t.name)!, own(want, t.name)!);
      const pass = withinTolerance(cmp, t.dtype);
      ok &&= pass;
      const extra = [cmp.nan > 0 ? `${cmp.nan} NaN` : "", cmp.zeroMismatches > 0 ? `${cmp.zeroMismatches} zeros or infinities differ` : ""].filter((s) => s);
      lines.push(`  ${t.name} (${t.dtype}): max error ${cmp.maxRel.toExponential(2)} of max |reference| (tolerance ${storageTolerance[t.dtype].toExponential(0)})${extra.length > 0 ? `, ${extra.join(", ")}` : ""}: ${pass ? "ok" : "FAILED"}`);
    }
  } catch (e) {
    ok = false;
    const message = (e as Error).message;
    lines.push(message.startsWith(`${k.name}: `) ? message : `${k.name}: ${message}`);
  } finally {
    await releaseDevice();
  }
  return { text: lines.map((l) => `${l}\n`).join(""), ok };
}

/** `B=1,H=2,N=77` → { B: 1, H: 2, N: 77 }; undefined when malformed (or, for sizes, not an integer from 0 to 2^31 - 1). */
export function parseAssignments(text: string, integer: boolean): Record<string, number> | undefined {
  const out: Record<string, number> = {};
  for (const part of text.split(",").filter((p) => p.trim() !== "")) {
    const match = /^\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(-?[0-9.eE+-]+)\s*$/.exec(part);
    const value = match === null ? NaN : Number(match[2]);
    if (match === null || !Number.isFinite(value) || (integer && (!Number.isSafeInteger(value) || value < 0 || value > 2 ** 31 - 1))) return undefined;
    setOwn(out, match[1], value);
  }
  return out;
}
