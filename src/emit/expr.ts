// Emit stage: the expression printer shared by the CUDA and WGSL printers; a Dialect says where the targets differ.
// Reductions and softmax inside an expression are hoisted into loops written before the expression that uses them.
import type { Expr, Extent, IndexVar, MathFn, RefName, ValueType } from "../check/typed.js";
import type { CodeWriter } from "./writer.js";
import { compileExpr } from "../graph/evaluate.js";
import { children, some } from "../graph/walk.js";
import { nameText } from "./names.js";
import type { Assign, Register } from "../tile/types.js";
import { printScalar, type ScalarSpelling } from "../tile/print.js";

export type LoadExpr = Extract<Expr, { kind: "load" }>;

export type Dialect = {
  readonly float: string; // the f32 type name
  readonly int: string;
  readonly bool: string;
  floatLiteral(value: number): string;
  intLiteral(value: number): string;
  toFloat(code: string): string;
  call(fn: MathFn, args: readonly string[], type: ValueType): string;
  select(cond: string, then: string, otherwise: string, type: ValueType): string;
  /** Floor division and remainder of integers, by zero giving 0. */
  intDiv(a: string, b: string): string;
  intMod(a: string, b: string): string;
  /** Float division where the target has a faster form than `a / b` (absent: `a / b`). */
  floatDiv?(a: string, b: string): string;
  load(e: LoadExpr, indices: readonly string[]): string;
  size(name: string): string;
  scalar(name: string): string;
  ref(name: RefName): string;
  /** `var x: f32 = v;` / `float x = v;` */
  declare(name: string, type: ValueType, value: string): string;
  forLoop(variable: string, extent: string): string;
  /** A line before a loop of a compile-time trip count that lets its iterations' loads overlap (CUDA: an unroll pragma). */
  readonly unrollConstant?: string;
};

/**
 * An index variable in both targets: `ix_` and its name text (names.ts). No generated identifier of either target
 * begins with `ix_` (test/emit/names.test.ts checks the emitted code of the examples).
 */
export const identifier = (name: string): string => `ix_${nameText(name)}`;

/**
 * How deep an expression's code may nest (parentheses and calls) before it is bound to a temporary: Tint parses
 * 128 levels at most (124 chained `+`, 64 unary minuses or 126 nested calls fail), and a node adds at most
 * `nesting(e)` levels to its deepest operand, so no printed expression goes past 32 + 5 + arity.
 */
const maxNesting = 32;

/** The levels of parentheses and calls a node adds around its operands, at most, in either target. */
const nesting = (e: Expr): number => {
  switch (e.kind) {
    case "const": case "var": case "size": case "scalar": case "ref": case "reduce": case "softmax":
      return 0;
    case "call":
      return 5 + e.args.length; // sigmoid's (1 / (1 + exp(-(a)))), min and max folds
    default:
      return 3; // a float % b: (a - b * floor(a / b))
  }
};

/**
 * Whether printExpr prints `e` as one expression, with no statement written before it: no reduction or softmax
 * (their loops) and nothing nested past maxNesting (a temporary), as printNested decides.
 */
export function printsInline(e: Expr): boolean {
  const depth = (x: Expr): number =>
    x.kind === "reduce" || x.kind === "softmax" ? Infinity : children(x).reduce((m, c) => Math.max(m, depth(c)), 0) + nesting(x);
  return depth(e) <= maxNesting;
}

/** The expression's code (temporaries and the loops of reductions written before it), nested at most ~maxNesting deep. */
export function printExpr(e: Expr, d: Dialect, w: CodeWriter): string {
  return printNested(e, d, w).code;
}

function printNested(e: Expr, d: Dialect, w: CodeWriter): { code: string; depth: number } {
  let deepest = 0;
  const p = (x: Expr) => {
    const operand = printNested(x, d, w);
    deepest = Math.max(deepest, operand.depth);
    return operand.code;
  };
  const code = printNode(e, d, w, p);
  // A reduction's or softmax's value is a name; its body went into its own statements.
  if (e.kind === "reduce" || e.kind === "softmax") return { code, depth: 1 };
  const depth = deepest + nesting(e);
  if (depth <= maxNesting) return { code, depth };
  const name = w.fresh("nest");
  w.line(d.declare(name, e.type, code));
  return { code: name, depth: 0 };
}

function printNode(e: Expr, d: Dialect, w: CodeWriter, p: (x: Expr) => string): string {
  const folded = nonFiniteConstant(e);
  if (folded !== undefined) return d.floatLiteral(folded);
  switch (e.kind) {
    case "const":
      return e.type === "bool" ? String(e.value !== 0) : e.type === "int" ? d.intLiteral(e.value) : d.floatLiteral(e.value);
    case "var":
      return identifier(e.name);
    case "size":
      return d.size(e.name);
    case "scalar":
      return d.scalar(e.name);
    case "ref":
      return d.ref(e.name);
    case "load":
      return d.load(e, e.indices.map(p));
    case "cast":
      return d.toFloat(p(e.operand));
    case "unary":
      return e.op === "neg" ? `(-${p(e.operand)})` : `(!${p(e.operand)})`;
    case "binary": {
      const a = p(e.left);
      const b = p(e.right);
      const int = e.left.type === "int" && e.right.type === "int";
      if (int && e.op === "/") return d.intDiv(a, b);
      if (int && e.op === "%") return d.intMod(a, b);
      // A float divisor known to be zero: the IEEE result is spelled out, since a device compiler may take x / 0.0 for
      // undefined (lavapipe gives 0); x % 0.0 is x - 0 * floor(x / 0), NaN.
      const zero = e.op === "/" || e.op === "%" ? constantZero(e.right) : undefined;
      if (zero !== undefined && e.op === "%") return d.floatLiteral(NaN);
      if (zero !== undefined) {
        const [above, below] = zero === "+0" ? [Infinity, -Infinity] : [-Infinity, Infinity];
        const nonPositive = d.select(`(${a} < ${d.floatLiteral(0)})`, d.floatLiteral(below), d.floatLiteral(NaN), "float");
        return d.select(`(${a} > ${d.floatLiteral(0)})`, d.floatLiteral(above), nonPositive, "float");
      }
      if (e.op === "%") return `(${a} - ${b} * floor(${a} / ${b}))`;
      if (e.op === "/" && d.floatDiv !== undefined) return d.floatDiv(a, b);
      // IEEE: x != y holds where either is NaN; WGSL (Tint) compares ordered, so != is printed as !(==).
      if (e.op === "!=" && !int) return `(!(${a} == ${b}))`;
      return `(${a} ${e.op} ${b})`;
    }
    case "select":
      return d.select(p(e.cond), p(e.then), p(e.otherwise), e.type);
    case "call":
      return d.call(e.fn, e.args.map(p), e.type);
    case "reduce": {
      const result = w.fresh("red");
      // min and max of ints stay ints (a float holds them exactly only below 2^24: document ids above it would
      // merge in the tile tables); of floats, they start from +-inf.
      const intBound = e.type === "int" && (e.op === "min" || e.op === "max");
      const init = e.op === "sum" ? (e.type === "int" ? d.intLiteral(0) : d.floatLiteral(0))
        : intBound ? (e.op === "min" ? d.intLiteral(2147483647) : `(${d.intLiteral(-2147483647)} - ${d.intLiteral(1)})`)
        : e.op === "min" ? d.floatLiteral(Infinity) : d.floatLiteral(-Infinity);
      const type: ValueType = (e.op === "max" || e.op === "min") && !intBound ? "float" : e.type;
      if (e.op === "logsumexp") {
        // Two passes: the row max, then the sum of exponentials shifted by it, kept finite (language.md section 7):
        // all -inf gives -inf, a +inf gives +inf, a NaN NaN.
        const max = w.fresh("lse_max");
        w.line(d.declare(max, "float", d.floatLiteral(-Infinity)));
        loops(e.vars, d, w, () => w.line(`${max} = max(${max}, ${d.toFloat(p(e.body))});`));
        const base = w.fresh("lse_base");
        w.line(d.declare(base, "float", finiteBase(max, d)));
        const sum = w.fresh("lse_sum");
        w.line(d.declare(sum, "float", d.floatLiteral(0)));
        loops(e.vars, d, w, () => w.line(`${sum} = ${sum} + exp(${d.toFloat(p(e.body))} - ${base});`));
        w.line(d.declare(result, "float", `(${base} + log(${sum}))`));
        return result;
      }
      w.line(d.declare(result, type, init));
      loops(e.vars, d, w, () => {
        const body = type === "float" ? d.toFloat(p(e.body)) : p(e.body);
        w.line(e.op === "sum" ? `${result} = ${result} + ${body};` : `${result} = ${e.op}(${result}, ${body});`);
      });
      return e.type === "int" && type === "float" ? `${d.int}(${result})` : result;
    }
    case "softmax": {
      // Row statistics by loops over the axis, then this element's probability: exp(x - c) / sum with c the row
      // max kept finite, and 0 where the sum is 0 (a fully masked row); see language.md section 7.
      const max = w.fresh("sm_max");
      const sum = w.fresh("sm_sum");
      const sink = e.sink === undefined ? undefined : p(e.sink);
      w.line(d.declare(max, "float", sink ?? d.floatLiteral(-Infinity)));
      const bodyAt = () => p(e.body);
      loops(e.vars, d, w, () => w.line(`${max} = max(${max}, ${bodyAt()});`), true);
      const base = w.fresh("sm_base");
      w.line(d.declare(base, "float", finiteBase(max, d)));
      w.line(d.declare(sum, "float", sink === undefined ? d.floatLiteral(0) : `exp(${sink} - ${base})`));
      loops(e.vars, d, w, () => w.line(`${sum} = ${sum} + exp(${bodyAt()} - ${base});`), true);
      const result = w.fresh("sm");
      w.line(d.declare(result, "float", d.select(`(${sum} == ${d.floatLiteral(0)})`, d.floatLiteral(0), `(exp(${bodyAt()} - ${base}) / ${sum})`, "float")));
      return result;
    }
  }
}

/** The shift of a softmax or logsumexp: the row max clamped to the finite f32 range. */
const finiteBase = (max: string, d: Dialect): string =>
  d.call("min", [d.call("max", [max, d.floatLiteral(-largestF32)], "float"), d.floatLiteral(largestF32)], "float");

const largestF32 = 3.4028234663852886e38;

const constantKinds = new Set<Expr["kind"]>(["const", "unary", "binary", "call", "cast", "select"]);

/** The f32 value of a float expression of constants alone, as the interpreter computes it; undefined otherwise. */
function constantValue(e: Expr): number | undefined {
  if (e.type !== "float" || some(e, (x) => !constantKinds.has(x.kind))) return undefined;
  return Math.fround(compileExpr(e, { slotOf: () => 0, sizes: {}, scalars: new Map(), buffers: new Map(), infos: new Map() })(new Float64Array(1)));
}

/**
 * The value of a float expression of constants alone (`0.0 / 0.0`, `exp(100.0)`) where it is not a finite f32:
 * printed as written, WGSL would reject it (a constant expression must be finite), so it is printed as its value.
 */
function nonFiniteConstant(e: Expr): number | undefined {
  const value = e.kind === "const" ? undefined : constantValue(e);
  return value === undefined || Number.isFinite(value) ? undefined : value;
}

/** Whether a float expression of constants alone is zero, and of which sign. */
function constantZero(e: Expr): "+0" | "-0" | undefined {
  const value = constantValue(e);
  return value !== 0 ? undefined : Object.is(value, -0) ? "-0" : "+0";
}

/** An extent's value in a target: a literal, the run-time size, or their product. */
export const extentCode = (e: Extent, d: Dialect): string =>
  e.kind === "const" ? d.intLiteral(e.value) : e.kind === "size" ? d.size(e.name) : `(${e.factors.map((f) => extentCode(f, d)).join(" * ")})`;

/** Nested loops over index variables; with shadow, the loop variables shadow the enclosing ones of the same name. */
function loops(vars: readonly IndexVar[], d: Dialect, w: CodeWriter, body: () => void, shadow = false): void {
  const go = (k: number): void => {
    if (k === vars.length) return body();
    const v = vars[k];
    if (v.extent.kind === "const" && d.unrollConstant !== undefined) w.line(d.unrollConstant);
    w.block(d.forLoop(identifier(v.name), extentCode(v.extent, d)), () => go(k + 1));
  };
  if (shadow) w.block("", () => go(0));
  else go(0);
}

/**
 * A tile program's row formulas, a statement each; a register not in `declared` is declared where first assigned
 * (`declare`: the target's keyword, `float` or `var`), and added.
 */
export function printAssigns(w: CodeWriter, steps: readonly Assign[], spelling: ScalarSpelling, declared: Set<Register>, declare: string): void {
  for (const s of steps) {
    const local = !declared.has(s.reg);
    declared.add(s.reg);
    w.line(`${local ? `${declare} ` : ""}${spelling.reg(s.reg)} = ${printScalar(s.value, spelling)};`);
  }
}
