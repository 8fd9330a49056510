// Check stage: the index variables an expression reads but does not bind.
import type { Expr } from "./typed.js";

export function freeVars(e: Expr): Set<string> {
  const out = new Set<string>();
  const walk = (x: Expr, bound: ReadonlySet<string>): void => {
    switch (x.kind) {
      case "var":
        if (!bound.has(x.name)) out.add(x.name);
        return;
      case "load":
        return x.indices.forEach((i) => walk(i, bound));
      case "cast":
      case "unary":
        return walk(x.operand, bound);
      case "binary":
        walk(x.left, bound);
        return walk(x.right, bound);
      case "select":
        walk(x.cond, bound);
        walk(x.then, bound);
        return walk(x.otherwise, bound);
      case "call":
        return x.args.forEach((a) => walk(a, bound));
      case "reduce": {
        const inner = new Set([...bound, ...x.vars.map((v) => v.name)]);
        return walk(x.body, inner);
      }
      case "softmax":
        // softmax[j] reads the current j: its axis stays free.
        walk(x.body, bound);
        if (x.sink !== undefined) walk(x.sink, bound);
        return;
      default:
        return;
    }
  };
  walk(e, new Set());
  return out;
}
