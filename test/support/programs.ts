// Test support: compiling .attn text to checked kernels and plans, and random inputs for them.
import { frontEnd } from "../../src/frontend.js";
import { planKernel, type ScheduleRequest } from "../../src/plan/plan.js";
import type { CheckedKernel } from "../../src/check/typed.js";

export { compare, randomArgs, rng } from "../../src/interp/inputs.js";

export function checked(source: string, defines: Record<string, number> = {}): CheckedKernel {
  const result = frontEnd(source, { fileName: "test.attn", defines });
  const errors = result.diagnostics.filter((d) => d.severity === "error");
  if (errors.length > 0) throw new Error(errors.map((e) => `${e.line}:${e.column} ${e.message}`).join("\n"));
  return result.kernels[0];
}

export const planned = (source: string, defines: Record<string, number> = {}, request: ScheduleRequest = "auto") =>
  planKernel(checked(source, defines), request).plan;
