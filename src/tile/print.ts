// Tile stage: printing a tile program: its row formulas (Scalar) through a spelling table, as C-like infix with only
// the parentheses precedence needs (the CUDA and WGSL printers differ only in the table), and the whole program as
// text for `explain`.
import type { Expr } from "../check/typed.js";
import type { Register, Scalar, TileProgram, TileOp, FinishOp } from "./types.js";

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

/** Spells the formulas as the program's own notation (for explain and tests): registers by name, functions by op. */
export const programSpelling = (expr: (e: Expr) => string): ScalarSpelling => ({
  reg: (r) => r, float: (v) => (v === -Infinity ? "-inf" : v === Infinity ? "inf" : `${Number(v.toPrecision(9))}`), expr, noKeys: "M == 0",
  exp2: (a) => `exp2(${a})`, log2: (a) => `log2(${a})`, max: (a, b) => `max(${a}, ${b})`, belowInf: (a) => `belowInf(${a})`,
  finite: (a) => `finite(${a})`, fma: (a, b, c) => `fma(${a}, ${b}, ${c})`, select: (c, t, o) => `where(${c}, ${t}, ${o})`,
});

/** The program as lines of text: the row state, the ops on each live key tile, the ops that finish a row. */
export function printProgram(p: TileProgram, expr: (e: Expr) => string): string[] {
  const t = programSpelling(expr);
  const op = (o: TileOp | FinishOp): string[] => {
    switch (o.op) {
      case "scores": return ["S = Q K^T"];
      case "scoreMod": return [`s = ${expr(o.value)}`];
      case "mask": return [p.mask === undefined ? "mask keys past the end" : `mask: s = -inf unless ${expr(p.mask)}, in tiles not full`];
      case "normalise": return [`p = ${expr(o.fn)}`];
      case "tileMax": return [`${o.into} = max over the tile of s${o.init ? `, and ${o.init}` : ""}`];
      case "assign": return o.steps.map((s) => `${s.reg} = ${printScalar(s.value, t)}`);
      case "exponentiate": return [`s = ${printScalar(o.value, t)} (score = s), summed into ${o.sum}`];
      case "rescale": return [`O *= ${o.by}`];
      case "accumulate": return ["O += P V"];
      case "rowSum": return [`${o.reg} summed across the threads of the row`];
      case "storeStatistic": return [`store ${o.store.output.name} = ${expr(o.store.epilogue)}`];
      case "storeOutput": return [`store ${p.stage.chain.output.name} = ${expr(p.stage.chain.epilogue)} with acc = O${o.scale ? ` * ${o.scale}` : ""}`];
    }
  };
  return [
    `state:    ${p.state.map((s) => `${s.reg} = ${t.float(s.init)}`).join(", ") || "none"}`,
    ...p.tile.flatMap(op).map((l, k) => `${k === 0 ? "key tile: " : "          "}${l}`),
    ...p.finish.flatMap(op).map((l, k) => `${k === 0 ? "finish:   " : "          "}${l}`),
  ];
}
