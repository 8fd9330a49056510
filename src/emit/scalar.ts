// Emit stage: the tile program's row formulas (tile/types.ts Scalar) printed through a target's spelling table, as
// C-like infix with only the parentheses precedence needs. The CUDA and WGSL printers differ only in the table.
import type { Expr } from "../check/typed.js";
import type { Register, Scalar } from "../tile/types.js";

export type ScalarSpelling = {
  readonly reg: (r: Register) => string;
  readonly float: (v: number) => string;
  readonly expr: (e: Expr) => string;
  readonly noKeys: string;
  readonly exp2: (a: string) => string;
  readonly log2: (a: string) => string;
  readonly max: (a: string, b: string) => string;
  readonly belowInf: (a: string) => string;
  /** Prints tile/types.ts's `finite` of `a` (a printed primary expression). */
  readonly finite: (a: string) => string;
  readonly fma: (a: string, b: string, c: string) => string;
  /** `cond`, `then` and `otherwise` are printed already, parenthesised below a comparison (cond) or a sum. */
  readonly select: (cond: string, then: string, otherwise: string) => string;
};

const precedence = { "||": 1, "==": 2, "+": 3, "-": 3, "*": 4, "/": 4 } as const;
const primary = 9;

export function printScalar(s: Scalar, t: ScalarSpelling): string {
  return print(s, t).code;
}

function print(s: Scalar, t: ScalarSpelling): { code: string; level: number } {
  const at = (x: Scalar, level: number) => {
    const p = print(x, t);
    return p.level >= level ? p.code : `(${p.code})`;
  };
  const whole = (x: Scalar) => print(x, t).code;
  switch (s.kind) {
    case "reg": return { code: t.reg(s.reg), level: primary };
    case "const": return { code: t.float(s.value), level: primary };
    case "expr": return { code: t.expr(s.expr), level: 0 };
    case "noKeys": return { code: t.noKeys, level: 2 };
    case "unary":
      switch (s.op) {
        case "neg": return { code: `-${at(s.arg, primary)}`, level: 5 };
        case "exp2": return { code: t.exp2(whole(s.arg)), level: primary };
        case "log2": return { code: t.log2(whole(s.arg)), level: primary };
        case "belowInf": return { code: t.belowInf(whole(s.arg)), level: primary };
        case "finite": return { code: t.finite(at(s.arg, primary)), level: 0 };
      }
      break;
    case "binary": {
      if (s.op === "max") return { code: t.max(whole(s.left), whole(s.right)), level: primary };
      const level = precedence[s.op];
      // Left-associative: the right operand of - and / needs parentheses at its own level.
      const right = s.op === "-" || s.op === "/" || s.op === "==" ? level + 1 : level;
      return { code: `${at(s.left, level)} ${s.op} ${at(s.right, right)}`, level };
    }
    case "fma": return { code: t.fma(whole(s.a), whole(s.b), whole(s.c)), level: primary };
    case "select": return { code: t.select(at(s.cond, 2), at(s.then, 3), at(s.otherwise, 3)), level: 0 };
  }
  throw new Error("internal: unknown scalar");
}
