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

/** A causal ALiBi kernel written in four statements (scores, bias and mask, softmax, values), at head dim D. */
export const alibiCausalSource = (D: number) => `# Causal attention with ALiBi biases.
const D = ${D}

kernel alibi_causal(
  q: f16[B, H, N, D],
  k: f16[B, H, M, D],
  v: f16[B, H, M, D],
  slopes: f32[H],
) -> (o: f16[B, H, N, D]) {
  s[b, h, i, j] = sum[d](q[b, h, i, d] * k[b, h, j, d]) * rsqrt(D)
  a[b, h, i, j] = where(j <= i, s[b, h, i, j] + slopes[h] * (j - i), -inf)
  p[b, h, i, j] = softmax[j](a[b, h, i, j])
  o[b, h, i, e] = sum[j](p[b, h, i, j] * v[b, h, j, e])
}
`;
