// Graph stage: inlining intermediates, so each output is one expression over inputs.
import type { CheckedKernel, Expr, Extent } from "../check/typed.js";
import { tensorsOf } from "../check/typed.js";
import { substitute, type NameSupply } from "./substitute.js";
import { rewrite, some } from "./walk.js";

export const extentExpr = (e: Extent, span: Expr["span"]): Expr =>
  e.kind === "const" ? { kind: "const", value: e.value, type: "int", span } : { kind: "size", name: e.name, type: "int", span };

/**
 * The value of every statement with the tensors it reads from other statements inlined.
 * A statement holding a softmax is inlined only where it is read at plain index variables,
 * since softmax[j] must stay a softmax over a variable. Tensors in `keep` stay loads (the plan materializes them).
 */
export function inlineAll(kernel: CheckedKernel, supply: NameSupply, keep: ReadonlySet<string> = new Set()): Map<string, Expr> {
  const defined = new Map(kernel.statements.map((s) => [s.target, s]));
  const dims = new Map(tensorsOf(kernel).map((t) => [t.name, t.dims]));
  const inlined = new Map<string, Expr>();
  for (const st of kernel.statements) {
    const value = rewrite(st.value, (e) => {
      if (e.kind !== "load" || !defined.has(e.tensor) || keep.has(e.tensor)) return e;
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
  }
  return inlined;
}

function clampIndex(index: Expr, dim: Extent): Expr {
  const span = index.span;
  const top: Expr = { kind: "binary", op: "-", left: extentExpr(dim, span), right: { kind: "const", value: 1, type: "int", span }, type: "int", span };
  return { kind: "call", fn: "clamp", args: [index, { kind: "const", value: 0, type: "int", span }, top], type: "int", span };
}
