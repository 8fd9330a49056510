// Inlining shares what it would copy: a chain of statements each reading the one before twice stays linear in size
// (it doubled a step before: 12 s at 20 steps, out of heap at 100), while the small intermediates of an attention
// program still inline, so it still fuses, and a large intermediate becomes a naive stage the fused kernel reads.
import { describe, expect, it } from "vitest";
import { compile } from "../../src/compile.js";
import { inlineAll, inlineBudget } from "../../src/graph/inline.js";
import { children } from "../../src/graph/walk.js";
import type { Expr } from "../../src/check/typed.js";
import { interpret } from "../../src/interp/interpret.js";
import { executePlan } from "../../src/interp/execute-plan.js";
import { checked, compare, planned, randomArgs, rng } from "../support/programs.js";

const size = (e: Expr): number => children(e).reduce((n, c) => n + size(c), 1);

/** t1 = t0 * t0, t2 = t1 * t1, ...: inlined naively, t_n has 2^n reads of t0. */
const squaring = (steps: number) => {
  const lines = Array.from({ length: steps }, (_, k) => `  t${k + 1}[i] = t${k}[i] * t${k}[i]`);
  return `kernel chain(t0: f32[N]) -> (y: f32[N]) {\n${lines.join("\n")}\n  y[i] = t${steps}[i]\n}\n`;
};

describe("inlining within a size budget", () => {
  it("keeps every inlined value of a 1000-step squaring chain small", () => {
    const values = inlineAll(checked(squaring(1000)), { next: 0 });
    for (const [name, value] of values) expect(size(value), name).toBeLessThanOrEqual(2 * inlineBudget + 1);
  });

  it("compiles the 100-step chain, and computes t0^(2^k) like the interpreter", () => {
    const started = Date.now();
    const result = compile(squaring(100), { target: "cuda" });
    expect(result.diagnostics.filter((d) => d.severity === "error")).toEqual([]);
    expect(Date.now() - started).toBeLessThan(10_000); // ran out of heap before; about 0.3 s now
    const source = squaring(6);
    const plan = planned(source);
    const sizes = { N: 7 };
    const t0 = Float64Array.from([1, -1, 0.5, 1.01, -0.99, 2, 0]);
    const out = interpret(plan.kernel, { t0 }, sizes).y;
    // The float64 reference: the f32 input squared six times.
    const want = [...t0].map((x) => Array.from({ length: 6 }).reduce<number>((y) => y * y, Math.fround(x)));
    expect([...out]).toEqual(want);
  });

  it("fuses an attention chain whose score modification reads an intermediate too large to inline", () => {
    // bias is a 10-step squaring of rel: too large to inline, so it is computed by a naive stage before the chain.
    const steps = Array.from({ length: 10 }, (_, k) => `  r${k + 1}[h, i, j] = r${k}[h, i, j] * r${k}[h, i, j] * 0.5 + 0.25`);
    const source = `const D = 8
kernel biased(q: f32[B, H, N, D], k: f32[B, H, M, D], v: f32[B, H, M, D], r0: f32[H, N, M]) -> (o: f32[B, H, N, D]) {
${steps.join("\n")}
  s[b, h, i, j] = sum[d](q[b, h, i, d] * k[b, h, j, d]) * rsqrt(D) + r10[h, i, j]
  p[b, h, i, j] = softmax[j](where(j <= i, s[b, h, i, j], -inf))
  o[b, h, i, e] = sum[j](p[b, h, i, j] * v[b, h, j, e])
}`;
    const plan = planned(source);
    expect(plan.schedule).toBe("fused");
    const naive = plan.stages.filter((s) => s.kind === "naive").map((s) => s.kind === "naive" && s.statement.target);
    expect(naive).toContain("r10");
    expect(plan.buffers.map((b) => b.name)).toContain("r10");
    const sizes = { B: 2, H: 2, N: 9, M: 11 };
    const args = randomArgs(plan.kernel, sizes, rng(3));
    const want = interpret(plan.kernel, args, sizes).o;
    const got = executePlan(plan, args, sizes, { blockQ: 4, blockK: 3 }).outputs.o;
    const c = compare(got, want);
    expect(c.nan).toBe(0);
    expect(c.maxRel).toBeLessThan(2e-4);
  });
});
