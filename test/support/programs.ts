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

/** One attention feeding another's q, k or v, through an intermediate `a` or written inline. */
export type Nesting = {
  readonly role: "q" | "k" | "v";
  readonly inline: boolean;
  /** The inner attention's key index: the outer one's name (`j`, only through an intermediate) or another. */
  readonly innerKey: "j" | "t";
  readonly innerMask: boolean;
  readonly outerMask: boolean;
};

export function nestedProgram(n: Nesting): string {
  const key = n.inline ? "t" : n.innerKey;
  const head = n.inline ? "y" : "d";
  // The inner attention at query row `r`, value column `c`; its queries run along the outer queries (q) or keys (k, v).
  const inner = (r: string, c: string) => {
    const score = `sum[${head}](x[b, h, ${r}, ${head}] * ki[b, h, ${key}, ${head}]) * 0.5`;
    return `sum[${key}](softmax[${key}](${n.innerMask ? `where(${key} <= ${r} + 2, ${score}, -inf)` : score}) * vi[b, h, ${key}, ${c}])`;
  };
  const a = (r: string, c: string) => (n.inline ? inner(r, c) : `a[b, h, ${r}, ${c}]`);
  const q = n.role === "q" ? a("i", "d") : "q[b, h, i, d]";
  const k = n.role === "k" ? a("j", "d") : "k[b, h, j, d]";
  const v = n.role === "v" ? a("j", "e") : "v[b, h, j, e]";
  const score = `sum[d](${q} * ${k})`;
  const rows = n.role === "q" ? "N" : "M";
  return `const D = 8
kernel nested(q: f32[B, H, N, D], k: f32[B, H, M, D], v: f32[B, H, M, D], x: f32[B, H, ${rows}, D], ki: f32[B, H, P, D], vi: f32[B, H, P, D])
    -> (o: f32[B, H, N, D]) {
  ${n.inline ? "" : `a[b, h, r, c] = ${inner("r", "c")}`}
  o[b, h, i, e] = sum[j](softmax[j](${n.outerMask ? `where(j <= i, ${score}, -inf)` : score}) * ${v})
}`;
}
