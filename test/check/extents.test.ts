// Check stage: dims that are products of sizes (`q: f16[B, HKV * G, N, D]`, language §1) and extents written where an
// index variable is bound (`s[b, h, i, j: T * P]`, `sum[j: M](...)`, language §2).
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { frontEnd } from "../../src/frontend.js";
import { compile } from "../../src/index.js";
import { interpret } from "../../src/interp/interpret.js";
import { extentEquals, productExtent, showExtent, type Expr } from "../../src/check/typed.js";
import { rangeOf } from "../../src/check/ranges.js";
import { checked } from "../support/programs.js";
import { children } from "../../src/graph/walk.js";

const loads = (e: Expr): Extract<Expr, { kind: "load" }>[] => [...(e.kind === "load" ? [e] : []), ...children(e).flatMap(loads)];
const messages = (source: string) => frontEnd(source).diagnostics.map((d) => `${d.severity}: ${d.message}`);

describe("dims that are products of sizes", () => {
  it("prove the grouped-query index h / G in range: the GQA example compiles without a warning or a clamp", () => {
    const source = readFileSync("examples/gqa.attn", "utf8");
    expect(messages(source)).toEqual([]);
    const k = checked(source);
    expect(k.sizes).toEqual(["B", "HKV", "G", "N"]);
    expect(showExtent(k.inputs[0].dims[1])).toBe("HKV * G");
    for (const st of k.statements) for (const l of loads(st.value)) expect(l.clamped, l.tensor).toEqual(l.indices.map(() => false));
    const result = compile(source, { target: "all" });
    expect(result.diagnostics).toEqual([]);
    expect(result.kernels[0].manifest.tensors.map((t) => t.dims)).toEqual([["B", "HKV*G", "N", "D"], ["B", "HKV", "N", "D"], ["B", "HKV", "N", "D"], ["B", "HKV*G", "N", "D"]]);
  });

  it("keep programs with a scalar group size as they were: the index is clamped, with a warning", () => {
    const source = `const D = 16
kernel gqa(q: f16[B, H, N, D], k: f16[B, HKV, N, D], v: f16[B, HKV, N, D], G: i32) -> (o: f16[B, H, N, D]) {
  o[b, h, i, e] = sum[j](softmax[j](sum[d](q[b, h, i, d] * k[b, h / G, j, d])) * v[b, h / G, j, e])
}`;
    expect(messages(source)).toEqual([
      "warning: cannot prove index 2 of `k` is within [0, HKV); it is clamped at run time",
      "warning: cannot prove index 2 of `v` is within [0, HKV); it is clamped at run time",
    ]);
  });

  it("are equal in any order of the factors, and fold numbers", () => {
    const [a, b] = [productExtent([{ kind: "size", name: "HKV" }, { kind: "size", name: "G" }]), productExtent([{ kind: "size", name: "G" }, { kind: "size", name: "HKV" }])];
    expect(extentEquals(a, b)).toBe(true);
    expect(extentEquals(productExtent([{ kind: "const", value: 2 }, { kind: "size", name: "N" }]), { kind: "size", name: "N" })).toBe(false);
    expect(productExtent([{ kind: "const", value: 4 }, { kind: "const", value: 8 }])).toEqual({ kind: "const", value: 32 });
    expect(productExtent([{ kind: "const", value: 1 }, { kind: "size", name: "N" }])).toEqual({ kind: "size", name: "N" });
    // A tensor declared [2 * N] and one declared [N * 2] are read with one index variable.
    expect(messages("kernel f(x: f32[2 * N], y: f32[N * 2]) -> (o: f32[N * 2]) {\n  o[i] = x[i] + y[i]\n}")).toEqual([]);
    expect(messages("kernel f(x: f32[2 * N], y: f32[N]) -> (o: f32[N]) {\n  o[i] = x[i] + y[i]\n}")).toEqual([
      "error: index variable `i` ranges over 2 * N here (dimension 1 of `x`), but over N as dimension 1 of output `o`",
    ]);
  });

  it("give ranges linear in the monomials: h / G < HKV, (h % G) * HKV < HKV * G, j / P < T", () => {
    const v = (name: string): Expr => ({ kind: "var", name, type: "int", span: { start: 0, end: 0 } });
    const size = (name: string): Expr => ({ kind: "size", name, type: "int", span: { start: 0, end: 0 } });
    const int = (value: number): Expr => ({ kind: "const", value, type: "int", span: { start: 0, end: 0 } });
    const bin = (op: "/" | "%" | "*", left: Expr, right: Expr): Expr => ({ kind: "binary", op, left, right, type: "int", span: { start: 0, end: 0 } });
    const extents = new Map([
      ["h", productExtent([{ kind: "size", name: "HKV" }, { kind: "size", name: "G" }])],
      ["j", productExtent([{ kind: "size", name: "T" }, { kind: "const", value: 16, name: "P" }])],
      ["g", { kind: "size", name: "G" } as const],
    ]);
    expect(rangeOf(bin("/", v("h"), size("G")), extents)).toEqual({ lo: { c: 0, terms: {} }, hi: { c: -1, terms: { HKV: 1 } } });
    expect(rangeOf(bin("/", v("j"), int(16)), extents)).toEqual({ lo: { c: 0, terms: {} }, hi: { c: -1, terms: { T: 1 } } });
    const hi = rangeOf(bin("*", v("g"), size("HKV")), extents).hi!;
    expect({ ...hi.terms }).toEqual({ "G*HKV": 1, HKV: -1 });
    // Not provable: h / HKV is below G, but h ranges over HKV * G and G does not divide away from a sum.
    expect(rangeOf(bin("/", v("h"), size("N")), extents).hi).toEqual({ c: -1, terms: { "G*HKV": 1 } });
  });
});

describe("written extents", () => {
  it("bind a variable that indexes no tensor directly: a paged cache", () => {
    const source = readFileSync("examples/paged-kv.attn", "utf8");
    expect(messages(source)).toEqual([]);
    const k = checked(source);
    const s = k.statements.find((x) => x.target === "s")!;
    expect(showExtent(s.vars[3].extent)).toBe("T * P");
    for (const l of loads(s.value)) expect(l.clamped, l.tensor).toEqual(l.indices.map(() => false));
  });

  it("on the left, in a sum and in a softmax, agreeing with what is inferred", () => {
    const k = checked(`kernel f(x: f32[N], w: f32[M]) -> (o: f32[N], r: f32[N]) {
  start[i: N] = i * 2
  ramp[i: N] = sum[j: 4 * M](j % 3)
  o[i: N] = x[i] * start[i] + ramp[i]
  r[i] = sum[m](softmax[m: M](w[m] * 0.5) * w[m])
}`);
    const out = interpret(k, { x: [1, 2, 3], w: [0.5, -1] }, { N: 3, M: 2 });
    const ramp = [0, 1, 2, 0, 1, 2, 0, 1].reduce((a, b) => a + b, 0);
    expect([...out.o]).toEqual([0 + ramp, 2 * 2 + ramp, 3 * 4 + ramp]);
    const p = [Math.exp(0.25), Math.exp(-0.5)];
    expect(out.r[0]).toBeCloseTo((p[0] * 0.5 - p[1]) / (p[0] + p[1]), 12);
  });

  it("say how to write one where an extent cannot be inferred", () => {
    expect(messages("kernel f(x: f32[N]) -> (o: f32[N]) {\n  t[i, j] = x[i] + j\n  o[i] = x[i] + sum[j](t[i, j])\n}")[0]).toBe("error: cannot infer the extent of index variable `j`");
    const d = frontEnd("kernel f(x: f32[N, M]) -> (o: f32[N]) {\n  o[i] = sum[k](k) * x[i, 0]\n}").diagnostics[0];
    expect(d.hint).toBe("use `k` directly as an index of a tensor (`x[k]`), or write its extent where it is bound: `sum[k: M](...)`");
  });

  it("parse with ternaries inside brackets and trailing commas", () => {
    expect(messages("kernel f(x: f32[N]) -> (o: f32[N]) {\n  o[i: N,] = x[i > 0 ? i : 0] + sum[j: N, c: 2,](x[j] * c)\n}")).toEqual([]);
  });
});
