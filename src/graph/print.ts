// Graph stage: printing IR expressions back in .attn syntax (for explain and for comments in generated code).
import type { Expr } from "../check/typed.js";

const precedence: Record<string, number> = { "||": 1, "&&": 2, "==": 3, "!=": 3, "<": 4, "<=": 4, ">": 4, ">=": 4, "+": 5, "-": 5, "*": 6, "/": 6, "%": 6 };

export function printExpr(e: Expr, outer = 0): string {
  const wrap = (s: string, p: number) => (p < outer ? `(${s})` : s);
  switch (e.kind) {
    case "const":
      if (e.type === "bool") return e.value ? "true" : "false";
      if (e.value === Infinity) return "inf";
      if (e.value === -Infinity) return wrap("-inf", 7);
      return e.type === "float" && Number.isInteger(e.value) ? `${e.value}.0` : String(e.value);
    case "var": case "size": case "scalar": case "ref":
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
      return `${e.op}[${e.vars.map((v) => v.name).join(", ")}](${printExpr(e.body)})`;
    case "softmax":
      return `softmax[${e.vars.map((v) => v.name).join(", ")}](${printExpr(e.body)}${e.sink ? `, sink: ${printExpr(e.sink)}` : ""})`;
  }
}
