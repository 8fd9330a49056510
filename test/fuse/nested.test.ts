import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { checked, compare, nestedProgram, planned, randomArgs, rng } from "../support/programs.js";
import { interpret } from "../../src/interp/interpret.js";
import { executePlan } from "../../src/interp/execute-plan.js";
import { inlineAll } from "../../src/graph/inline.js";
import { canonicalize } from "../../src/graph/canonical.js";
import { matchChain } from "../../src/fuse/match.js";
import { explainPlan } from "../../src/explain.js";
import { sourceFile } from "../../src/diagnostics/source.js";
import { printExpr } from "../../src/graph/print.js";
import type { FusedStage } from "../../src/plan/plan.js";

const fusedStages = (plan: ReturnType<typeof planned>) => plan.stages.filter((s): s is FusedStage => s.kind === "fused");

describe("an attention feeding another", () => {
  it("is never taken for the other's score function by the matcher", () => {
    // Inlined whole, the inner attention sits in the outer one's scores, with a `sum[j]` of its own over the keys.
    const kernel = checked(nestedProgram({ role: "q", inline: false, innerKey: "j", innerMask: false, outerMask: false }));
    const supply = { next: 0 };
    const value = canonicalize(inlineAll(kernel, supply).get("o")!, supply);
    const found = matchChain(kernel.outputs[0], kernel.statements.find((s) => s.target === "o")!, value, new Set(kernel.inputs.map((t) => t.name)));
    expect(found.ok).toBe(false);
    expect(!found.ok && found.miss.reason).toMatch(/score function holds a (softmax|reduction)/);
  });

  it("runs as two fused stages, each found whole, equal to the interpreter", () => {
    fc.assert(
      fc.property(
        fc.record({
          role: fc.constantFrom("q" as const, "k" as const, "v" as const),
          inline: fc.boolean(),
          innerKey: fc.constantFrom("j" as const, "t" as const),
          innerMask: fc.boolean(),
          outerMask: fc.boolean(),
        }),
        fc.integer({ min: 1, max: 2 ** 30 }),
        (nesting, seed) => {
          const plan = planned(nestedProgram(nesting));
          expect(plan.schedule).toBe("fused");
          expect(plan.stages.map((s) => s.kind)).toEqual(["fused", "fused"]);
          const [inner, outer] = fusedStages(plan);
          // The inner chain reads the inputs, the outer one reads the inner one's buffer in the role it feeds.
          expect([inner.chain.q.tensor, inner.chain.k.tensor, inner.chain.v.tensor]).toEqual(["x", "ki", "vi"]);
          expect(plan.buffers.map((t) => t.name)).toEqual([inner.chain.output.name]);
          const roles = { q: outer.chain.q.tensor, k: outer.chain.k.tensor, v: outer.chain.v.tensor };
          expect(roles).toEqual({ q: "q", k: "k", v: "v", [nesting.role]: inner.chain.output.name });
          expect(printExpr(inner.chain.scoreMod)).toBe("score * 0.5");
          expect(printExpr(outer.chain.scoreMod)).toBe("score");
          expect(inner.chain.mask !== undefined).toBe(nesting.innerMask);
          expect(outer.chain.mask !== undefined).toBe(nesting.outerMask);

          const random = rng(seed);
          const sizes = { B: 1 + Math.floor(random() * 2), H: 1 + Math.floor(random() * 2), N: 1 + Math.floor(random() * 20), M: 1 + Math.floor(random() * 20), P: 1 + Math.floor(random() * 20) };
          const args = randomArgs(plan.kernel, sizes, random, { scale: 3 });
          const tile = { blockQ: 1 + Math.floor(random() * 9), blockK: 1 + Math.floor(random() * 9) };
          const want = interpret(plan.kernel, args, sizes).o;
          const c = compare(executePlan(plan, args, sizes, tile).outputs.o, want);
          expect(c.nan).toBe(0);
          expect(c.zeroMismatches).toBe(0);
          expect(c.maxRel).toBeLessThan(2e-4);
        },
      ),
      { numRuns: 60, seed: 20261203 },
    );
  });

  it("explains both chains", () => {
    const text = nestedProgram({ role: "q", inline: true, innerKey: "t", innerMask: true, outerMask: false });
    const out = explainPlan(planned(text), sourceFile("test.attn", text));
    expect(out).toMatch(/fused attention chain for `o_inner` \(sum\[t\]\(softmax\[t\]\(where/);
    expect(out).toMatch(/query: +x\[b, h, i, y\]\n +key: +ki\[b, h, t, y\]\n +value: +vi\[b, h, t, d\]/);
    expect(out).toMatch(/fused attention chain for `o` \(o\[b, h, i, e\] = /);
    expect(out).toMatch(/query: +o_inner\[b, h, i, d\]\n +key: +k\[b, h, j, d\]\n +value: +v\[b, h, j, e\]/);
    expect(out.match(/score mod: +score\b.*/g)).toEqual(["score mod:   score * 0.5", "score mod:   score"]);
  });

  it("keeps an intermediate attention that a naive statement and a chain both read, computing it once", () => {
    const plan = planned(`const D = 8
kernel shared(q: f32[N, D], k: f32[M, D], v: f32[M, D], k2: f32[M, D], v2: f32[M, D]) -> (o: f32[N, D], norm: f32[N]) {
  a[i, e] = sum[j](softmax[j](sum[d](q[i, d] * k[j, d])) * v[j, e])
  o[i, e] = sum[j](softmax[j](sum[d](a[i, d] * k2[j, d])) * v2[j, e])
  norm[i] = sum[e](a[i, e] * a[i, e])
}`);
    expect(plan.stages.map((s) => (s.kind === "naive" ? `naive ${s.statement.target}` : `fused ${s.chain.output.name}`))).toEqual(["fused a", "naive norm", "fused o"]);
    const sizes = { N: 9, M: 13 };
    const args = randomArgs(plan.kernel, sizes, rng(4));
    const want = interpret(plan.kernel, args, sizes);
    const got = executePlan(plan, args, sizes, { blockQ: 4, blockK: 5 }).outputs;
    for (const name of ["o", "norm"]) expect(compare(got[name], want[name]).maxRel, name).toBeLessThan(2e-4);
  });
});
