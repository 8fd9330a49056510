// The rules of language.md section 7 for non-finite values, on the interpreter (the oracle), and the fused CPU
// executor against it over many random non-finite programs.
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { checked, planned } from "../support/programs.js";
import { interpret } from "../../src/interp/interpret.js";
import { executePlan } from "../../src/interp/execute-plan.js";
import { nonFiniteArgs, nonFiniteMismatches, nonFiniteProgram } from "../support/nonfinite.js";

const attention = (sink: boolean) => checked(`kernel a(s: f32[N, M], v: f32[M, 1], sinks: f32[1]) -> (o: f32[N, 1], lse: f32[N], p: f32[N, M]) {
  o[i, e] = sum[j](softmax[j](s[i, j]${sink ? ", sink: sinks[0]" : ""}) * v[j, e])
  lse[i] = logsumexp[j](s[i, j])
  p[i, j] = softmax[j](s[i, j]${sink ? ", sink: sinks[0]" : ""})
}`);
const run = (scores: number[], sink?: number) => {
  const M = scores.length;
  return interpret(attention(sink !== undefined), { s: scores, v: scores.map((_, j) => j + 1), sinks: [sink ?? 0] }, { N: 1, M });
};

describe("non-finite values in the interpreter", () => {
  it("gives a +inf score NaN at its position and 0 elsewhere, so the output is NaN, and logsumexp +inf", () => {
    const out = run([1, Infinity, 2]);
    expect([...out.p]).toEqual([0, NaN, 0]);
    expect(out.o[0]).toBeNaN();
    expect(out.lse[0]).toBe(Infinity);
  });

  it("propagates a NaN score to the whole row and to logsumexp", () => {
    const out = run([1, NaN, -Infinity]);
    expect([...out.p].every(Number.isNaN)).toBe(true);
    expect(out.o[0]).toBeNaN();
    expect(out.lse[0]).toBeNaN();
  });

  it("gives a fully masked row 0, and logsumexp -inf", () => {
    const out = run([-Infinity, -Infinity]);
    expect([...out.p, out.o[0]]).toEqual([0, 0, 0]);
    expect(out.lse[0]).toBe(-Infinity);
  });

  it("lets a +inf sink take all the weight (output 0), a -inf sink none, and a NaN sink give NaN", () => {
    expect([...run([1, 2], Infinity).p, run([1, 2], Infinity).o[0]]).toEqual([0, 0, 0]);
    expect([...run([-Infinity, -Infinity], Infinity).p]).toEqual([0, 0]);
    expect([...run([0, 0], -Infinity).p]).toEqual([0.5, 0.5]);
    expect(run([1, 2], NaN).o[0]).toBeNaN();
    expect(run([-Infinity], NaN).o[0]).toBeNaN();
    // A +inf score with a +inf sink is still a +inf score: NaN.
    expect(run([Infinity, 1], Infinity).o[0]).toBeNaN();
  });

  it("gives an empty key range the empty sum, 0, whatever the sink, and logsumexp -inf", () => {
    const out = run([], NaN);
    expect(out.o[0]).toBe(0);
    expect(out.lse[0]).toBe(-Infinity);
  });

  it("divides by zero per IEEE, folded constants included", () => {
    const k = checked(`kernel d(x: f32[N]) -> (a: f32[N], b: f32[N], c: f32[N]) {
      a[i] = x[i] / 0.0
      b[i] = 0.0 / 0.0
      c[i] = where(x[i] != x[i], 1.0, 2.0)
    }`);
    const out = interpret(k, { x: [1, -1, 0, NaN] }, { N: 4 });
    expect([...out.a]).toEqual([Infinity, -Infinity, NaN, NaN]);
    expect([...out.b].every(Number.isNaN)).toBe(true);
    expect([...out.c]).toEqual([2, 2, 2, 1]);
  });
});

describe("the fused CPU executor on non-finite programs", () => {
  it("equals the interpreter, NaN for NaN and infinities exact", () => {
    fc.assert(
      fc.property(
        fc.record({
          mod: fc.constantFrom("bias" as const, "divide" as const, "plus-inf" as const, "nan" as const, "plain" as const),
          mask: fc.constantFrom(undefined, "j <= i" as const, "j < klen[b]" as const),
          normaliser: fc.constantFrom("softmax" as const, "sink" as const, "sigmoid" as const),
        }),
        fc.integer({ min: 1, max: 2 ** 30 }),
        fc.record({ B: fc.integer({ min: 1, max: 3 }), N: fc.integer({ min: 0, max: 12 }), M: fc.integer({ min: 0, max: 15 }) }),
        fc.record({ blockQ: fc.integer({ min: 1, max: 8 }), blockK: fc.integer({ min: 1, max: 8 }) }),
        (v, seed, sizes, tile) => {
          const plan = planned(nonFiniteProgram(v));
          expect(plan.schedule).toBe("fused");
          const args = nonFiniteArgs(plan.kernel, sizes, seed);
          const want = interpret(plan.kernel, args, sizes);
          const got = executePlan(plan, args, sizes, tile).outputs;
          for (const name of ["o", "lse"]) expect(nonFiniteMismatches(got[name], want[name], 2e-4), name).toEqual([]);
        },
      ),
      { numRuns: 300, seed: 20261203 },
    );
  });
});
