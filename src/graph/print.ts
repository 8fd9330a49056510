// Graph stage: printing IR expressions back in .attn syntax (for explain and for comments in generated code).
import type { Expr } from "../check/typed.js";
import { children } from "./walk.js";

const precedence: Record<string, number> = { "||": 1, "&&": 2, "==": 3, "!=": 3, "<": 4, "<=": 4, ">": 4, ">=": 4, "+": 5, "-": 5, "*": 6, "/": 6, "%": 6 };

/**
 * `names` shows each index variable's name (see readableNames); by default names print as they are, so that a
 * fresh variable (`d'1`) stays distinct from the one it was renamed away from (`d`).
 */
export function printExpr(e: Expr, outer = 0, names: (name: string) => string = (n) => n): string {
  return printIn(e, outer, names);
}

function printIn(e: Expr, outer: number, names: (name: string) => string): string {
  const printExpr = (x: Expr, o = 0): string => printIn(x, o, names);
  const wrap = (s: string, p: number) => (p < outer ? `(${s})` : s);
  switch (e.kind) {
    case "const":
      if (e.type === "bool") return e.value ? "true" : "false";
      if (e.value === Infinity) return "inf";
      if (e.value === -Infinity) return wrap("-inf", 7);
      return e.type === "float" && Number.isInteger(e.value) ? `${e.value}.0` : String(e.value);
    case "var":
      return names(e.name);
    case "size": case "scalar": case "ref":
      return e.name;
    case "load":
      return `${e.tensor}[${e.indices.map((x) => printExpr(x)).join(", ")}]`;
    case "cast":
      return printExpr(e.operand, outer);
    case "unary":
      return wrap(`${e.op === "neg" ? "-" : "!"}${printExpr(e.operand, 7)}`, 7);
    case "binary": {
      const p = precedence[e.op];
      return wrap(`${printExpr(e.left, p)} ${e.op} ${printExpr(e.right, p + 1)}`, p);
    }
    case "select":
      return `where(${printExpr(e.cond)}, ${printExpr(e.then)}, ${printExpr(e.otherwise)})`;
    case "call":
      return `${e.fn}(${e.args.map((x) => printExpr(x)).join(", ")})`;
    case "reduce":
      return `${e.op}[${e.vars.map((v) => names(v.name)).join(", ")}](${printExpr(e.body)})`;
    case "softmax":
      return `softmax[${e.vars.map((v) => names(v.name)).join(", ")}](${printExpr(e.body)}${e.sink ? `, sink: ${printExpr(e.sink)}` : ""})`;
  }
}

/**
 * Names for printing the index variables of some expressions together: a fresh name (`d'1`, which no source can
 * write) shows as its base (`d`) where no other variable there is called that, and as `d2`, `d3`, ... where one is;
 * every other name shows as it is. Distinct variables never print alike.
 */
export function readableNames(exprs: readonly Expr[], others: readonly string[] = []): (name: string) => string {
  const all = new Set(others);
  const visit = (x: Expr): void => {
    if (x.kind === "var") all.add(x.name);
    if (x.kind === "reduce" || x.kind === "softmax") for (const v of x.vars) all.add(v.name);
    children(x).forEach(visit);
  };
  exprs.forEach(visit);
  const taken = new Set([...all].filter((n) => !n.includes("'")));
  const shown = new Map<string, string>();
  for (const name of [...all].filter((n) => n.includes("'")).sort()) {
    const base = name.split("'")[0];
    let candidate = base;
    for (let k = 2; taken.has(candidate); k++) candidate = `${base}${k}`;
    taken.add(candidate);
    shown.set(name, candidate);
  }
  return (name) => shown.get(name) ?? name;
}
