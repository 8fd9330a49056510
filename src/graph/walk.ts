// Graph stage: generic traversal of the expression IR (children, map, any), and the product extents of a kernel.
import { showExtent, tensorsOf, type CheckedKernel, type Expr, type Extent } from "../check/typed.js";

export function children(e: Expr): readonly Expr[] {
  switch (e.kind) {
    case "load": return e.indices;
    case "cast": case "unary": return [e.operand];
    case "binary": return [e.left, e.right];
    case "select": return [e.cond, e.then, e.otherwise];
    case "call": return e.args;
    case "reduce": return [e.body];
    case "softmax": return e.sink === undefined ? [e.body] : [e.body, e.sink];
    default: return [];
  }
}

/** Rebuilds e with each child replaced by f(child). */
export function mapChildren(e: Expr, f: (x: Expr) => Expr): Expr {
  switch (e.kind) {
    case "load": return { ...e, indices: e.indices.map(f) };
    case "cast": return { ...e, operand: f(e.operand) };
    case "unary": return { ...e, operand: f(e.operand) };
    case "binary": return { ...e, left: f(e.left), right: f(e.right) };
    case "select": return { ...e, cond: f(e.cond), then: f(e.then), otherwise: f(e.otherwise) };
    case "call": return { ...e, args: e.args.map(f) };
    case "reduce": return { ...e, body: f(e.body) };
    case "softmax": return e.sink === undefined ? { ...e, body: f(e.body) } : { ...e, body: f(e.body), sink: f(e.sink) };
    default: return e;
  }
}

/** Bottom-up rewrite: children first, then the node itself. */
export function rewrite(e: Expr, rule: (x: Expr) => Expr): Expr {
  return rule(mapChildren(e, (c) => rewrite(c, rule)));
}

export function some(e: Expr, test: (x: Expr) => boolean): boolean {
  return test(e) || children(e).some((c) => some(c, test));
}

export const loadsOf = (e: Expr): Extract<Expr, { kind: "load" }>[] => {
  const out: Extract<Expr, { kind: "load" }>[] = [];
  const visit = (x: Expr): void => {
    if (x.kind === "load") out.push(x);
    children(x).forEach(visit);
  };
  visit(e);
  return out;
};

/** The distinct products of sizes among a kernel's dims and index extents. */
export function productExtents(k: CheckedKernel): Extent[] {
  const out = new Map<string, Extent>();
  const note = (e: Extent) => e.kind === "product" && out.set(showExtent(e), e);
  const visit = (e: Expr): void => {
    if (e.kind === "reduce" || e.kind === "softmax") e.vars.forEach((v) => note(v.extent));
    children(e).forEach(visit);
  };
  for (const t of tensorsOf(k)) t.dims.forEach(note);
  for (const st of k.statements) {
    st.vars.forEach((v) => note(v.extent));
    visit(st.value);
  }
  return [...out.values()];
}
