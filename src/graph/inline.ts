// Graph stage: inlining intermediates, so each output is one expression over inputs.
import type { CheckedKernel, Expr, Extent } from "../check/typed.js";
import { tensorsOf } from "../check/typed.js";
import { substitute, type NameSupply } from "./substitute.js";
import { children, rewrite, some } from "./walk.js";

export const extentExpr = (e: Extent, span: Expr["span"]): Expr =>
  e.kind === "const" ? { kind: "const", value: e.value, type: "int", span }
  : e.kind === "size" ? { kind: "size", name: e.name, type: "int", span }
  : e.factors.map((f) => extentExpr(f, span)).reduce((left, right) => ({ kind: "binary", op: "*", left, right, type: "int", span }));

/**
 * The most nodes an inlined value may have. The attention chains of examples/ inline into 20-100 nodes; a value above
 * this is read as a tensor. It also bounds how much deeper inlining makes an expression than the statements were.
 */
export const inlineBudget = 256;

const size = (e: Expr): number => children(e).reduce((total, c) => total + size(c), 1);

/**
 * The value of every statement with the tensors it reads from other statements inlined.
 * A statement holding a softmax is inlined only where it is read at plain index variables,
 * since softmax[j] must stay a softmax over a variable. Tensors in `keep` stay loads (the plan materializes them).
 */
export function inlineAll(kernel: CheckedKernel, supply: NameSupply, keep: ReadonlySet<string> = new Set()): Map<string, Expr> {
  const defined = new Map(kernel.statements.map((s) => [s.target, s]));
  const dims = new Map(tensorsOf(kernel).map((t) => [t.name, t.dims]));
  const inlined = new Map<string, Expr>();
  const sizes = new Map<string, number>();
  for (const st of kernel.statements) {
    const value = rewrite(st.value, (e) => {
      if (e.kind !== "load" || !defined.has(e.tensor) || keep.has(e.tensor)) return e;
      // A large value stays a tensor of its own, which the plan computes in a naive stage: copying it into every
      // read would grow exponentially along a chain (t2 = t1 * t1, t3 = t2 * t2, ...).
      if (sizes.get(e.tensor)! > inlineBudget) return e;
      const source = defined.get(e.tensor)!;
      const body = inlined.get(e.tensor)!;
      const hasSoftmax = some(body, (x) => x.kind === "softmax");
      if (hasSoftmax && !e.indices.every((i) => i.kind === "var")) return e;
      const tensorDims = dims.get(e.tensor)!;
      const map = new Map<string, Expr>();
      source.vars.forEach((v, k) => {
        const index = e.indices[k];
        map.set(v.name, e.clamped[k] ? clampIndex(index, tensorDims[k]) : index);
      });
      return substitute(body, map, supply);
    });
    inlined.set(st.target, value);
    sizes.set(st.target, size(value));
  }
  return inlined;
}

function clampIndex(index: Expr, dim: Extent): Expr {
  const span = index.span;
  const top: Expr = { kind: "binary", op: "-", left: extentExpr(dim, span), right: { kind: "const", value: 1, type: "int", span }, type: "int", span };
  return { kind: "call", fn: "clamp", args: [index, { kind: "const", value: 0, type: "int", span }, top], type: "int", span };
}
