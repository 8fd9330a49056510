import { describe, expect, it } from "vitest";
import { compare, planned, randomArgs, rng } from "../support/programs.js";
import { interpret } from "../../src/interp/interpret.js";
import { executePlan } from "../../src/interp/execute-plan.js";
import { printExpr } from "../../src/graph/print.js";
import type { FusedStage } from "../../src/plan/plan.js";

const fusedStages = (source: string) => planned(source, { D: 16 }).stages.filter((s): s is FusedStage => s.kind === "fused");

const handWritten = `
const D = 16
kernel hand(q: f16[B, H, N, D], k: f16[B, H, M, D], v: f16[B, H, M, D]) -> (o: f16[B, H, N, D]) {
  s[b, h, i, j] = where(j <= i, sum[d](q[b, h, i, d] * k[b, h, j, d]) * rsqrt(D), -inf)
  m[b, h, i] = max[j](s[b, h, i, j])
  e[b, h, i, j] = exp(s[b, h, i, j] - m[b, h, i])
  l[b, h, i] = sum[j](e[b, h, i, j])
  p[b, h, i, j] = e[b, h, i, j] / l[b, h, i]
  o[b, h, i, x] = sum[j](p[b, h, i, j] * v[b, h, j, x])
}`;

describe("the chain matcher", () => {
  it("finds the chain in a softmax written out by hand", () => {
    const [stage] = fusedStages(handWritten);
    expect(stage).toBeDefined();
    expect(stage.chain.normalizer.kind).toBe("softmax");
    expect(printExpr(stage.chain.mask!)).toBe("j <= i");
    expect(stage.chain.valueVar.name).toBe("x");
  });

  it("finds the chain in the one-statement form", () => {
    const [stage] = fusedStages(`kernel one(q: f32[N, D], k: f32[M, D], v: f32[M, D]) -> (o: f32[N, D]) {
      o[i, e] = sum[j](softmax[j](sum[d](q[i, d] * k[j, d])) * v[j, e])
    }`);
    expect(stage.chain.rowVars).toEqual([]);
    expect(stage.chain.queryVar.name).toBe("i");
    expect(stage.chain.mask).toBeUndefined();
  });

  it("finds grouped-query head maps and keeps them in the key and value loads", () => {
    const [stage] = fusedStages(`kernel gqa(q: f16[B, H, N, D], k: f16[B, HKV, M, D], v: f16[B, HKV, M, D], G: i32) -> (o: f16[B, H, N, D]) {
      o[b, h, i, e] = sum[j](softmax[j](sum[d](q[b, h, i, d] * k[b, h / G, j, d])) * v[b, h / G, j, e])
    }`);
    expect(printExpr(stage.chain.k)).toBe("k[b, h / G, j, d]");
    expect(printExpr(stage.chain.v)).toBe("v[b, h / G, j, e]");
    expect(stage.chain.rowVars.map((v) => v.name)).toEqual(["b", "h"]);
  });

  it("tells a second score apart whose bound variable has the name of the first's free one (no miscompile)", () => {
    // t[j] = sum[i](q[i, i] * k[j, i]) inlined into o keeps its bound `i`, the name of o's query: compared up to a
    // renaming that is not a bijection, it was taken for the score sum[d](q[i, d] * k[j, d]) and fused as such.
    const source = `const D = 16
kernel two(q: f32[D, D], k: f32[N, D], v: f32[N, D]) -> (o: f32[D, D]) {
  t[j] = sum[i](q[i, i] * k[j, i])
  o[i, e] = sum[j](softmax[j](sum[d](q[i, d] * k[j, d]) + t[j]) * v[j, e])
}`;
    const plan = planned(source);
    expect(plan.misses.map((m) => m.reason)).toContain("the probabilities read two different scores");
    const sizes = { N: 37 };
    const args = randomArgs(plan.kernel, sizes, rng(1));
    const c = compare(executePlan(plan, args, sizes, { blockQ: 8, blockK: 8 }).outputs.o, interpret(plan.kernel, args, sizes).o);
    expect(c.maxRel).toBeLessThan(1e-5);
  });

  it("refuses a softmax over the wrong axis, and says why", () => {
    const plan = planned(`kernel wrong(q: f32[N, D], k: f32[M, D], v: f32[M, D]) -> (o: f32[N, D]) {
      s[i, j] = sum[d](q[i, d] * k[j, d])
      p[i, j] = softmax[i](s[i, j])
      o[i, e] = sum[j](p[i, j] * v[j, e])
    }`, { D: 8 });
    expect(plan.schedule).toBe("naive");
    expect(plan.misses[0].reason).toMatch(/softmax normalises over `i`, but the values are summed over `j`/);
  });

  it("takes sigmoid as an element-wise normaliser that needs no rewrite", () => {
    const [stage] = fusedStages(`kernel sig(q: f32[N, D], k: f32[M, D], v: f32[M, D]) -> (o: f32[N, D]) {
      o[i, e] = sum[j](sigmoid(where(j <= i, sum[d](q[i, d] * k[j, d]), -inf)) * v[j, e])
    }`);
    expect(stage.chain.normalizer.kind).toBe("elementwise");
    expect(stage.chain.maskedIsZero).toBe(true);
  });

  it("joins a logsumexp output to the chain, and keeps the sink", () => {
    const [stage, ...rest] = fusedStages(`kernel lse(q: f16[B, H, N, D], k: f16[B, H, M, D], v: f16[B, H, M, D], sinks: f32[H])
        -> (o: f16[B, H, N, D], lse: f32[B, H, N]) {
      s[b, h, i, j] = sum[d](q[b, h, i, d] * k[b, h, j, d])
      o[b, h, i, e] = sum[j](softmax[j](s[b, h, i, j], sink: sinks[h]) * v[b, h, j, e])
      lse[b, h, i] = logsumexp[j](s[b, h, i, j])
    }`);
    expect(rest).toEqual([]);
    expect(stage.chain.extras.map((x) => [x.output.name, x.kind])).toEqual([["lse", "logsumexp"]]);
    expect(stage.chain.normalizer.kind === "softmax" && printExpr(stage.chain.normalizer.sink!)).toBe("sinks[h]");
  });

  it("keeps an epilogue after the contraction and statements before the chain", () => {
    const plan = planned(`kernel gated(q: f32[N, D], k: f32[M, D], v: f32[M, D], g: f32[N, D]) -> (o: f32[N, D]) {
      qs[i, d] = q[i, d] * 2.0
      a[i, e] = sum[j](softmax[j](sum[d](qs[i, d] * k[j, d])) * v[j, e])
      o[i, e] = a[i, e] * sigmoid(g[i, e])
    }`, { D: 8 });
    const stage = plan.stages.find((s): s is FusedStage => s.kind === "fused")!;
    expect(printExpr(stage.chain.epilogue)).toBe("acc * sigmoid(g[i, e])");
    // The scaled query is inlined and its factor leaves the contraction: no stage of its own.
    expect(printExpr(stage.chain.scoreMod)).toBe("score * 2.0");
    expect(plan.stages.filter((s) => s.kind === "naive")).toEqual([]);
  });

  it("matches several chains in one kernel", () => {
    const stages = fusedStages(`kernel two(q: f32[N, D], k: f32[M, D], v: f32[M, D], k2: f32[M, D]) -> (o: f32[N, D], o2: f32[N, D]) {
      o[i, e] = sum[j](softmax[j](sum[d](q[i, d] * k[j, d])) * v[j, e])
      o2[i, e] = sum[j](softmax[j](where(j <= i, sum[d](q[i, d] * k2[j, d]), -inf)) * v[j, e])
    }`);
    expect(stages.map((s) => s.chain.output.name)).toEqual(["o", "o2"]);
  });

  it("falls back to naive with a reason when there is no score", () => {
    const plan = planned(`kernel mean(v: f32[M, D]) -> (o: f32[D]) {
      o[e] = sum[j](v[j, e]) / 3.0
    }`, { D: 8 });
    expect(plan.schedule).toBe("naive");
    expect(plan.misses[0].reason).toMatch(/no value tensor|not a sum over keys|no score/);
  });

  it("names the sum over keys, not the score's sum inside it, where values are gathered through a page table", () => {
    const plan = planned(`const P = 4
kernel paged(q: f32[N, D], kc: f32[NP, P, D], vc: f32[NP, P, D], pages: i32[T]) -> (o: f32[N, D]) {
      o[i, e] = sum[j: T * P](softmax[j](sum[d](q[i, d] * kc[clamp(pages[j / P], 0, NP - 1), j % P, d])) * vc[clamp(pages[j / P], 0, NP - 1), j % P, e])
    }`, { D: 8 });
    expect(plan.schedule).toBe("naive");
    expect(plan.misses[0].reason).toBe("the sum over `j` reads no value tensor indexed by `j` itself (`v[.., j, e]`): keys and values gathered through a table (a paged cache) run naive");
  });
});
