// The CUDA emitter's hoisting pass: tensor reads independent of the key go per row, independent of the query per column.
import { describe, expect, it } from "vitest";
import { hoist, type Hoisted } from "../../src/graph/hoist.js";
import { printExpr } from "../../src/graph/print.js";
import type { Expr } from "../../src/check/typed.js";
import { planned } from "../support/programs.js";

function chainOf(source: string) {
  const stage = planned(source, { D: 16 }).stages.find((s) => s.kind === "fused");
  if (stage === undefined || stage.kind !== "fused") throw new Error("no fused stage");
  return stage.chain;
}

const both = (e: Expr, key: string, query: string, hoisted: Hoisted[]) => hoist(hoist(e, "row", key, hoisted), "column", query, hoisted);

describe("hoisting tensor reads out of the score code", () => {
  it("reads a document id once per row and once per column, and leaves the comparison per score", () => {
    const c = chainOf(`kernel doc(q: f16[B, H, N, D], k: f16[B, H, N, D], v: f16[B, H, N, D], ids: i32[B, N]) -> (o: f16[B, H, N, D]) {
  s[b, h, i, j] = where(j <= i && ids[b, i] == ids[b, j], sum[d](q[b, h, i, d] * k[b, h, j, d]), -inf)
  o[b, h, i, e] = sum[j](softmax[j](s[b, h, i, j]) * v[b, h, j, e])
}`);
    const hoisted: Hoisted[] = [];
    const mask = both(c.mask!, c.keyVar.name, c.queryVar.name, hoisted);
    expect(hoisted.map((h) => [h.name, h.over, printExpr(h.value)])).toEqual([["h0", "row", "ids[b, i]"], ["h1", "column", "ids[b, j]"]]);
    expect(printExpr(mask)).toBe("j <= i && h0 == h1");
  });

  it("hoists ALiBi's slope per row, shares equal reads, and keeps reads that need both indices", () => {
    const c = chainOf(`kernel a(q: f32[H, N, D], k: f32[H, N, D], v: f32[H, N, D], slopes: f32[H], t: f32[N, N]) -> (o: f32[H, N, D]) {
  s[h, i, j] = sum[d](q[h, i, d] * k[h, j, d]) + slopes[h] * (j - i) + slopes[h] + t[i, j]
  o[h, i, e] = sum[j](softmax[j](s[h, i, j]) * v[h, j, e])
}`);
    const hoisted: Hoisted[] = [];
    const mod = both(c.scoreMod, c.keyVar.name, c.queryVar.name, hoisted);
    expect(hoisted.map((h) => [h.over, printExpr(h.value)])).toEqual([["row", "slopes[h]"]]);
    expect(printExpr(mod)).toContain("t[i, j]");
    expect(printExpr(mod).match(/h0/g)).toHaveLength(2);
  });
});
