// `i32(x)` and `f32(x)`: the checker's types, the interpreter's rule (truncation toward zero, saturating at the i32
// range, NaN gives 0, as a float stored to i32), and a T5 bucketed relative bias against a direct computation.
import { describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import { compile } from "../../src/compile.js";
import { frontEnd } from "../../src/frontend.js";
import { interpret } from "../../src/interp/interpret.js";
import { executePlan } from "../../src/interp/execute-plan.js";
import { roundTo } from "../../src/interp/dtype.js";
import { checked, compare, planned, randomArgs, rng } from "../support/programs.js";

const messages = (source: string) => frontEnd(source).diagnostics.map((d) => `${d.severity}: ${d.message}`);

describe("i32(x) and f32(x)", () => {
  it("types i32 of a float as an integer (usable as an index), f32 as a float, and checks the argument count", () => {
    expect(messages("kernel f(x: f32[N], t: f32[8]) -> (y: f32[N]) {\n  y[i] = t[clamp(i32(x[i] * 4.0), 0, 7)] + f32(i) / 2\n}")).toEqual([]);
    expect(messages("kernel f(x: f32[N]) -> (y: f32[N]) {\n  y[i] = i32(x[i], 2)\n}")).toEqual(["error: `i32` takes 1 argument, but 2 were given"]);
    expect(messages("kernel f(x: f32[N]) -> (y: f32[N]) {\n  y[i] = x[i32(x[i])]\n}")).toEqual(["warning: cannot prove index 1 of `x` is within [0, N); it is clamped at run time"]);
    expect(messages("kernel f(x: f32[N]) -> (y: f32[N]) {\n  y[i] = x[f32(i)]\n}")).toEqual(["error: an index must be an integer, but this is a float"]);
    expect(messages("kernel f(x: f32[N]) -> (y: f32[N]) {\n  y[i] = i33(x[i])\n}")).toEqual(["error: unknown function `i33`"]);
    const hint = frontEnd("kernel f(x: f32[N]) -> (y: f32[N]) {\n  y[i] = i33(x[i])\n}").diagnostics[0].hint;
    expect(hint).toBe("did you mean `i32`?");
  });

  it("truncates toward zero, saturates at the i32 range and gives 0 for NaN, in the interpreter and folded", () => {
    const kernel = checked("kernel f(x: f32[N]) -> (y: i32[N], z: i32[N]) {\n  y[i] = i32(x[i])\n  z[i] = i32(x[i]) + i32(-2.5)\n}");
    const x = [3.7, -3.7, 0.5, -0.5, 1e10, -1e10, Infinity, -Infinity, NaN, 2147483520, -2147483648];
    const out = interpret(kernel, { x: Float64Array.from(x) }, { N: x.length });
    expect([...out.y]).toEqual([3, -3, 0, 0, 2147483647, -2147483648, 2147483647, -2147483648, 0, 2147483520, -2147483648]);
    expect([...out.z].slice(0, 4)).toEqual([1, -5, -2, -2]);
  });

  it("emits the explicit conversion helpers for CUDA and WGSL", () => {
    const result = compile("kernel f(x: f32[N]) -> (y: i32[N]) {\n  y[i] = i32(x[i]) * 2\n}", { target: "all" });
    const [k] = result.kernels;
    expect(k.cuda).toMatch(/attnc_to_int\(/);
    expect(k.wgsl).toMatch(/fn attnc_to_i32\(x: f32\) -> i32/);
    expect(k.wgsl).toMatch(/attnc_to_i32\(/);
  });
});

/** T5's _relative_position_bucket(j - i, bidirectional=False, num_buckets=32, max_distance=128), in float64. */
function t5Bucket(i: number, j: number): number {
  const n = Math.max(i - j, 0);
  if (n < 16) return n;
  return Math.min(16 + Math.trunc((Math.log(n / 16) / Math.log(128 / 16)) * 16), 31);
}

describe("the T5 bucketed relative bias example", () => {
  const source = readFileSync("examples/t5-bias.attn", "utf8");

  it("fuses, and equals attention with T5's buckets computed directly", () => {
    const plan = planned(source);
    expect(plan.schedule).toBe("fused");
    const sizes = { B: 1, H: 2, N: 200 };
    const args = randomArgs(plan.kernel, sizes, rng(11));
    const got = interpret(plan.kernel, args, sizes).o;
    // As stored: q, k and v in f16.
    const [q, k, v] = ["q", "k", "v"].map((n) => (args[n] as Float64Array).map((x) => roundTo("f16", x)));
    const rel = args.rel as Float64Array;
    const { H, N } = sizes;
    const D = 64;
    const want = new Float64Array(H * N * D);
    for (let h = 0; h < H; h++) {
      for (let i = 0; i < N; i++) {
        const scores = Array.from({ length: i + 1 }, (_, j) => {
          let s = 0;
          for (let d = 0; d < D; d++) s += q[(h * N + i) * D + d] * k[(h * N + j) * D + d];
          return s + rel[h * 32 + t5Bucket(i, j)];
        });
        const top = Math.max(...scores);
        const weights = scores.map((s) => Math.exp(s - top));
        const total = weights.reduce((a, b) => a + b, 0);
        for (let e = 0; e < D; e++) {
          let acc = 0;
          weights.forEach((w, j) => (acc += (w / total) * v[(h * N + j) * D + e]));
          want[(h * N + i) * D + e] = acc;
        }
      }
    }
    // The interpreter rounds the f16 output; compare at f16's precision.
    expect(compare(got, want).maxRel).toBeLessThan(2e-3);
    // Buckets beyond 16 are in use at N = 200 (distances up to 199 reach the last bucket).
    expect(t5Bucket(199, 0)).toBe(31);
    expect(t5Bucket(40, 0)).toBe(23);
    const fused = executePlan(plan, args, sizes, { blockQ: 16, blockK: 32 }).outputs.o;
    expect(compare(fused, got).maxRel).toBeLessThan(4e-3);
  });
});
