// Structural equality up to renaming of bound variables (graph/substitute.ts exprEqual): the renaming is a
// bijection, so a bound variable never matches a free one of the same name, nor two bound ones a single one.
import { describe, expect, it } from "vitest";
import type { Expr, Extent } from "../../src/check/typed.js";
import { exprEqual, renameVar } from "../../src/graph/substitute.js";

const span = { start: 0, end: 0 };
const N: Extent = { kind: "size", name: "N" };
const D: Extent = { kind: "const", value: 16 };
const v = (name: string): Expr => ({ kind: "var", name, type: "int", span });
const load = (tensor: string, ...indices: string[]): Expr => ({ kind: "load", tensor, indices: indices.map(v), clamped: indices.map(() => false), type: "float", span });
const mul = (left: Expr, right: Expr): Expr => ({ kind: "binary", op: "*", left, right, type: "float", span });
const sum = (vars: [string, Extent][], body: Expr): Expr => ({ kind: "reduce", op: "sum", vars: vars.map(([name, extent]) => ({ name, extent })), body, type: "float", span });
const softmax = (axis: string, body: Expr): Expr => ({ kind: "softmax", vars: [{ name: axis, extent: N }], body, type: "float", span });

/** Equal both ways round, or unequal both ways round. */
const equal = (a: Expr, b: Expr) => {
  expect(exprEqual(b, a)).toBe(exprEqual(a, b));
  return exprEqual(a, b);
};

describe("exprEqual", () => {
  it("renames bound variables consistently", () => {
    expect(equal(sum([["d", D]], mul(load("q", "i", "d"), load("k", "j", "d"))), sum([["x", D]], mul(load("q", "i", "x"), load("k", "j", "x"))))).toBe(true);
    expect(equal(sum([["a", D], ["b", D]], load("t", "a", "b")), sum([["x", D], ["y", D]], load("t", "x", "y")))).toBe(true);
  });

  it("does not match two bound variables with one (sum[a, b](t[a, b]) is not sum[a, b](t[a, a]))", () => {
    expect(equal(sum([["a", D], ["b", D]], load("t", "a", "b")), sum([["a", D], ["b", D]], load("t", "a", "a")))).toBe(false);
    expect(equal(sum([["a", D], ["b", D]], load("t", "a", "b")), sum([["x", D], ["y", D]], load("t", "y", "y")))).toBe(false);
  });

  it("does not match a bound variable with a free one of the same name", () => {
    // sum[d](q[i, d] * k[j, d]) against sum[i](q[i, i] * k[j, i]), where the second's i is bound.
    const score = sum([["d", D]], mul(load("q", "i", "d"), load("k", "j", "d")));
    const trace = sum([["i", D]], mul(load("q", "i", "i"), load("k", "j", "i")));
    expect(equal(score, trace)).toBe(false);
    // sum[j](x[j] * y[j]) against sum[k](x[k] * y[j]) with j free in the second.
    expect(equal(sum([["j", N]], mul(load("x", "j"), load("y", "j"))), sum([["k", N]], mul(load("x", "k"), load("y", "j"))))).toBe(false);
  });

  it("keeps nested binders apart when inner names shadow outer ones", () => {
    const a = sum([["x", N]], sum([["y", D]], mul(load("t", "x", "y"), load("u", "y"))));
    const b = sum([["y", N]], sum([["x", D]], mul(load("t", "y", "x"), load("u", "x"))));
    expect(equal(a, b)).toBe(true);
    const c = sum([["y", N]], sum([["y", D]], mul(load("t", "y", "y"), load("u", "y"))));
    expect(equal(a, c)).toBe(false);
  });

  it("compares the extents reductions range over", () => {
    expect(equal(sum([["d", D]], load("t", "i", "d")), sum([["d", N]], load("t", "i", "d")))).toBe(false);
  });

  it("compares a softmax's axis as a variable in scope, and agrees with renaming", () => {
    const body = sum([["d", D]], mul(load("q", "i", "d"), load("k", "j", "d")));
    expect(equal(softmax("j", body), softmax("j", body))).toBe(true);
    expect(equal(sum([["j", N]], softmax("j", body)), sum([["m", N]], softmax("m", renameVar(body, "j", "m", { next: 0 }))))).toBe(true);
    // The first softmax's axis j is the sum's bound j; the second's is a free j (the sum binds m, unused).
    expect(equal(sum([["j", N]], softmax("j", body)), sum([["m", N]], softmax("j", body)))).toBe(false);
  });
});
