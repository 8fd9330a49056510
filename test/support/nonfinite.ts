// Test support: small random attention programs whose scores, sinks and divisors are non-finite, and a comparison
// that holds NaN equal to NaN and infinities exact (docs/language.md section 7, non-finite values).
import { rng } from "../../src/interp/inputs.js";
import type { CheckedKernel } from "../../src/check/typed.js";

export type NonFiniteVariant = {
  /** How the score is made: a bias with infinities and NaN, a division by values that are sometimes 0, or a constant. */
  readonly mod: "bias" | "divide" | "plus-inf" | "nan" | "plain";
  readonly mask?: "j <= i" | "j < klen[b]";
  readonly normaliser: "softmax" | "sink" | "sigmoid";
};

export function nonFiniteProgram(v: NonFiniteVariant): string {
  const dot = "sum[d](q[b, i, d] * k[b, j, d])";
  const score = {
    bias: `${dot} * 0.5 + bias[b, i, j]`,
    divide: `${dot} / z[b, j]`,
    "plus-inf": `where(j != i, ${dot}, inf)`,
    nan: `where(j != i + 1, ${dot}, 0.0 / 0.0)`,
    plain: `${dot} * 0.5`,
  }[v.mod];
  const masked = v.mask === undefined ? score : `where(${v.mask}, ${score}, -inf)`;
  const p = v.normaliser === "sigmoid" ? "sigmoid(s[b, i, j])" : v.normaliser === "sink" ? "softmax[j](s[b, i, j], sink: sinks[b])" : "softmax[j](s[b, i, j])";
  return `const D = 4
kernel nonfinite(q: f32[B, N, D], k: f32[B, M, D], v: f32[B, M, D], bias: f32[B, N, M], z: f32[B, M], sinks: f32[B], klen: i32[B])
    -> (o: f32[B, N, D], lse: f32[B, N]) {
  s[b, i, j] = ${masked}
  o[b, i, e] = sum[j](${p} * v[b, j, e])
  lse[b, i] = logsumexp[j](s[b, i, j])
}`;
}

const special = [Infinity, -Infinity, NaN];

/** Inputs with infinities and NaN in the bias, zeros (of both signs) in the divisors, and any of them in the sinks. */
export function nonFiniteArgs(kernel: CheckedKernel, sizes: { B: number; N: number; M: number }, seed: number): Record<string, Float64Array> {
  const random = rng(seed);
  const { B, N, M } = sizes;
  const finite = () => random() * 4 - 2;
  const make = (count: number, f: () => number) => Float64Array.from({ length: count }, f);
  void kernel;
  return {
    q: make(B * N * 4, finite), k: make(B * M * 4, finite), v: make(B * M * 4, finite),
    bias: make(B * N * M, () => (random() < 0.15 ? special[Math.floor(random() * 3)] : finite())),
    z: make(B * M, () => (random() < 0.25 ? (random() < 0.5 ? 0 : -0) : finite())),
    sinks: make(B, () => (random() < 0.6 ? special[Math.floor(random() * 3)] : finite())),
    klen: make(B, () => Math.floor(random() * (M + 1))),
  };
}

/** Positions where got and want differ: NaN must meet NaN, an infinity or a zero the same value, the rest within tol. */
export function nonFiniteMismatches(got: ArrayLike<number>, want: ArrayLike<number>, tol: number): string[] {
  let scale = 1e-30;
  for (let x = 0; x < want.length; x++) if (Number.isFinite(want[x])) scale = Math.max(scale, Math.abs(want[x]));
  const out: string[] = [];
  if (got.length !== want.length) return [`length ${got.length}, want ${want.length}`];
  for (let x = 0; x < want.length; x++) {
    const [g, w] = [got[x], want[x]];
    const ok = Number.isNaN(w) ? Number.isNaN(g) : !Number.isFinite(w) || w === 0 ? g === w : Math.abs(g - w) <= tol * scale;
    if (!ok) out.push(`[${x}] got ${g}, want ${w}`);
  }
  return out;
}
