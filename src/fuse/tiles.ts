// Fuse stage: tile classification from the mask. Interval analysis of the mask over a (query tile x key tile)
// rectangle, lowered to ordinary expressions over the tile bounds (refs i0, i1, j0, j1), so every backend
// prints and runs it like any other expression.
import type { Expr } from "../check/typed.js";
import { freeVars } from "../check/free-vars.js";
import { foldConstant } from "../graph/canonical.js";
import { rewrite, some } from "../graph/walk.js";

type Span = Expr["span"];
type Bounds = { lo?: Expr; hi?: Expr };
type Truth = { canBeTrue: Expr; canBeFalse: Expr };

const int = (value: number, span: Span): Expr => ({ kind: "const", value, type: "int", span });
const bool = (value: boolean, span: Span): Expr => ({ kind: "const", value: value ? 1 : 0, type: "bool", span });
const tileRef = (name: "i0" | "i1" | "j0" | "j1", span: Span): Expr => ({ kind: "ref", name, type: "int", span });
const bin = (op: Extract<Expr, { kind: "binary" }>["op"], left: Expr, right: Expr, type: "int" | "bool"): Expr =>
  simplify({ kind: "binary", op, left, right, type, span: left.span });
const call = (fn: "min" | "max", a: Expr, b: Expr): Expr => ({ kind: "call", fn, args: [a, b], type: "int", span: a.span });
const not = (a: Expr): Expr => simplify({ kind: "unary", op: "not", operand: a, type: "bool", span: a.span });

/** Constant folding with the boolean identities that keep the generated classification short. */
export function simplify(e: Expr): Expr {
  return rewrite(e, (x) => {
    const f = foldConstant(x);
    if (f.kind === "unary" && f.op === "not" && f.operand.kind === "const") return bool(!f.operand.value, f.span);
    if (f.kind !== "binary") return f;
    const { left: a, right: b } = f;
    const isC = (y: Expr, v: number) => y.kind === "const" && y.type === "bool" && y.value === v;
    if (f.op === "&&") return isC(a, 0) || isC(b, 0) ? bool(false, f.span) : isC(a, 1) ? b : isC(b, 1) ? a : f;
    if (f.op === "||") return isC(a, 1) || isC(b, 1) ? bool(true, f.span) : isC(a, 0) ? b : isC(b, 0) ? a : f;
    if (a.kind === "const" && b.kind === "const" && a.type !== "bool" && b.type !== "bool") {
      const r = f.op === "<" ? a.value < b.value : f.op === "<=" ? a.value <= b.value : f.op === ">" ? a.value > b.value
        : f.op === ">=" ? a.value >= b.value : f.op === "==" ? a.value === b.value : f.op === "!=" ? a.value !== b.value : undefined;
      if (r !== undefined) return bool(r, f.span);
    }
    return f;
  });
}

export type TileVars = {
  readonly query: string;
  readonly key: string;
  /** Where bounds of tensor reads along the query or key axis ask for run-time tile tables (see tileTables). */
  readonly tables?: TableRequest[];
};

/** Granule of the run-time tile tables; a tile of at most 64 rows, or of 128 aligned to 64, spans at most two. */
export const tableGranule = 64;

/** A per-granule minimum or maximum of a tensor along one dimension, computed by a small pre-pass. */
export type TableRequest = { readonly tensor: string; readonly position: number; readonly kind: "min" | "max"; readonly name: string };

/**
 * The table's tensor name: `doc'tilemin1`. It contains `'`, which no source name can (as the compiler's fresh index
 * variables, graph/substitute.ts), so it never meets a user's tensor (`doc_tilemin1`); the emitters spell it as
 * identifier text of its own (emit/names.ts).
 */
export const tableName = (tensor: string, position: number, kind: "min" | "max") => `${tensor}'tile${kind}${position}`;

/** Bounds of an integer expression over the tile; a side is undefined where it cannot be bounded. */
function bounds(e: Expr, t: TileVars): Bounds {
  const span = e.span;
  if (e.type === "bool") return {};
  const deps = freeVars(e);
  if (!deps.has(t.query) && !deps.has(t.key) && !some(e, (x) => x.kind === "softmax" || x.kind === "reduce")) {
    return e.type === "int" ? { lo: e, hi: e } : {}; // the same value everywhere in the tile
  }
  switch (e.kind) {
    case "var":
      if (e.name === t.query) return { lo: tileRef("i0", span), hi: tileRef("i1", span) };
      if (e.name === t.key) return { lo: tileRef("j0", span), hi: tileRef("j1", span) };
      return {};
    case "load":
      return tableBounds(e, t);
    case "unary": {
      if (e.op !== "neg") return {};
      const a = bounds(e.operand, t);
      return { lo: a.hi && neg(a.hi), hi: a.lo && neg(a.lo) };
    }
    case "binary": {
      const a = bounds(e.left, t);
      const b = bounds(e.right, t);
      const both = (x?: Expr, y?: Expr, op: "+" | "-" = "+") => (x && y ? bin(op, x, y, "int") : undefined);
      switch (e.op) {
        case "+": return { lo: both(a.lo, b.lo), hi: both(a.hi, b.hi) };
        case "-": return { lo: both(a.lo, b.hi, "-"), hi: both(a.hi, b.lo, "-") };
        case "*": {
          const k = e.right.kind === "const" ? e.right.value : e.left.kind === "const" ? e.left.value : undefined;
          const x = e.right.kind === "const" ? a : b;
          if (k === undefined) return {};
          const scale = (y?: Expr) => y && bin("*", y, int(k, span), "int");
          return k >= 0 ? { lo: scale(x.lo), hi: scale(x.hi) } : { lo: scale(x.hi), hi: scale(x.lo) };
        }
        case "/": {
          // Floor division by a positive constant or size is monotone in the numerator.
          const positive = (e.right.kind === "const" && e.right.value > 0) || e.right.kind === "size";
          if (!positive) return {};
          const div = (y?: Expr) => y && bin("/", y, e.right, "int");
          return { lo: div(a.lo), hi: div(a.hi) };
        }
        case "%":
          return e.right.kind === "const" && e.right.value > 0 ? { lo: int(0, span), hi: int(e.right.value - 1, span) } : {};
        default:
          return {};
      }
    }
    case "call": {
      const rs = e.args.map((x) => bounds(x, t));
      const fold = (side: "lo" | "hi", fn: "min" | "max") =>
        rs.every((r) => r[side] !== undefined) ? rs.map((r) => r[side]!).reduce((x, y) => call(fn, x, y)) : undefined;
      if (e.fn === "min") return { lo: fold("lo", "min"), hi: fold("hi", "min") };
      if (e.fn === "max") return { lo: fold("lo", "max"), hi: fold("hi", "max") };
      if (e.fn === "clamp") {
        const [x, lo, hi] = rs;
        const clampTo = (y?: Expr) => (y && lo.lo && hi.hi ? call("min", call("max", y, lo.lo), hi.hi) : undefined);
        return { lo: clampTo(x.lo) ?? lo.lo, hi: clampTo(x.hi) ?? hi.hi };
      }
      return {};
    }
    case "select": {
      const a = bounds(e.then, t);
      const b = bounds(e.otherwise, t);
      return { lo: a.lo && b.lo && call("min", a.lo, b.lo), hi: a.hi && b.hi && call("max", a.hi, b.hi) };
    }
    default:
      return {};
  }
}

/**
 * t[.., i, ..] with every other index the same across the tile: its range over the tile is read from tables of
 * per-granule minima and maxima of t along that dimension, at the granules of the tile's two ends.
 */
function tableBounds(e: Extract<Expr, { kind: "load" }>, t: TileVars): Bounds {
  if (t.tables === undefined || e.type !== "int") return {};
  const varying = e.indices.map((x) => freeVars(x)).map((f) => f.has(t.query) || f.has(t.key));
  const position = varying.indexOf(true);
  if (position < 0 || varying.lastIndexOf(true) !== position) return {};
  const index = e.indices[position];
  if (index.kind !== "var") return {};
  const [first, last] = index.name === t.query ? (["i0", "i1"] as const) : (["j0", "j1"] as const);
  const span = e.span;
  const granule = (end: "i0" | "i1" | "j0" | "j1"): Expr => bin("/", tileRef(end, span), int(tableGranule, span), "int");
  const read = (kind: "min" | "max", end: "i0" | "i1" | "j0" | "j1"): Expr => {
    const name = tableName(e.tensor, position, kind);
    if (!t.tables!.some((r) => r.name === name)) t.tables!.push({ tensor: e.tensor, position, kind, name });
    return { ...e, tensor: name, indices: e.indices.map((x, k) => (k === position ? granule(end) : x)), clamped: e.clamped.map((c, k) => (k === position ? false : c)) };
  };
  return { lo: call("min", read("min", first), read("min", last)), hi: call("max", read("max", first), read("max", last)) };
}

const neg = (x: Expr): Expr => simplify({ kind: "unary", op: "neg", operand: x, type: "int", span: x.span });

/** The refs that are the tile's bounds, the same for every element of it. */
const tileBounds = new Set(["i0", "i1", "j0", "j1"]);

/** Whether a condition can be true, and can be false, somewhere in the tile (conservative: true when unknown). */
export function truth(e: Expr, t: TileVars): Truth {
  const span = e.span;
  const unknown = { canBeTrue: bool(true, span), canBeFalse: bool(true, span) };
  const deps = freeVars(e);
  // The score (and any value of one element, rather than of the tile) may differ at every element: a condition on
  // it can be true and false within a tile (`where(s > 0, s, -inf)`).
  if (some(e, (x) => x.kind === "ref" && !tileBounds.has(x.name))) return unknown;
  if (!deps.has(t.query) && !deps.has(t.key)) return { canBeTrue: e, canBeFalse: not(e) };
  switch (e.kind) {
    case "unary": {
      const a = truth(e.operand, t);
      return { canBeTrue: a.canBeFalse, canBeFalse: a.canBeTrue };
    }
    case "binary": {
      if (e.op === "&&" || e.op === "||") {
        const a = truth(e.left, t);
        const b = truth(e.right, t);
        return e.op === "&&"
          ? { canBeTrue: bin("&&", a.canBeTrue, b.canBeTrue, "bool"), canBeFalse: bin("||", a.canBeFalse, b.canBeFalse, "bool") }
          : { canBeTrue: bin("||", a.canBeTrue, b.canBeTrue, "bool"), canBeFalse: bin("&&", a.canBeFalse, b.canBeFalse, "bool") };
      }
      if (e.left.type !== "int" || e.right.type !== "int") return unknown;
      const a = bounds(e.left, t);
      const b = bounds(e.right, t);
      const cmp = (op: "<" | "<=" | "==", x?: Expr, y?: Expr) => (x && y ? bin(op, x, y, "bool") : bool(true, span));
      switch (e.op) {
        case "<": return { canBeTrue: cmp("<", a.lo, b.hi), canBeFalse: cmp("<=", b.lo, a.hi) };
        case "<=": return { canBeTrue: cmp("<=", a.lo, b.hi), canBeFalse: cmp("<", b.lo, a.hi) };
        case ">": return { canBeTrue: cmp("<", b.lo, a.hi), canBeFalse: cmp("<=", a.lo, b.hi) };
        case ">=": return { canBeTrue: cmp("<=", b.lo, a.hi), canBeFalse: cmp("<", a.lo, b.hi) };
        case "==":
        case "!=": {
          const overlap = bin("&&", cmp("<=", a.lo, b.hi), cmp("<=", b.lo, a.hi), "bool");
          const allEqual = a.lo && a.hi && b.lo && b.hi
            ? bin("&&", bin("&&", bin("==", a.lo, a.hi, "bool"), bin("==", b.lo, b.hi, "bool"), "bool"), bin("==", a.lo, b.lo, "bool"), "bool")
            : bool(false, span);
          const t2 = { canBeTrue: overlap, canBeFalse: not(allEqual) };
          return e.op === "==" ? t2 : { canBeTrue: t2.canBeFalse, canBeFalse: t2.canBeTrue };
        }
        default: return unknown;
      }
    }
    case "select": {
      const c = truth(e.cond, t);
      const a = truth(e.then, t);
      const b = truth(e.otherwise, t);
      return {
        canBeTrue: bin("||", bin("&&", c.canBeTrue, a.canBeTrue, "bool"), bin("&&", c.canBeFalse, b.canBeTrue, "bool"), "bool"),
        canBeFalse: bin("||", bin("&&", c.canBeTrue, a.canBeFalse, "bool"), bin("&&", c.canBeFalse, b.canBeFalse, "bool"), "bool"),
      };
    }
    default:
      return unknown;
  }
}

/** Tile classes: `full` where every element is kept (no mask code), `empty` where none is (skipped). */
export function classifyTiles(mask: Expr | undefined, t: TileVars, span: Span): { full: Expr; empty: Expr } {
  if (mask === undefined) return { full: bool(true, span), empty: bool(false, span) };
  const r = truth(mask, t);
  return { full: not(r.canBeFalse), empty: not(r.canBeTrue) };
}

/**
 * The keys a query tile [i0, i1] can see, from the mask's conjuncts of the form `j <= E`, `j < E`, `j >= E`,
 * `j > E`, `j == E` and `j / C == E` (E free of j). Undefined sides mean 0 and M - 1.
 */
export function keyRange(mask: Expr | undefined, t: TileVars): { lo?: Expr; hi?: Expr } {
  if (mask === undefined) return {};
  const conjuncts = (e: Expr): Expr[] => (e.kind === "binary" && e.op === "&&" ? [...conjuncts(e.left), ...conjuncts(e.right)] : [e]);
  const lows: Expr[] = [];
  const highs: Expr[] = [];
  const isKey = (e: Expr) => e.kind === "var" && e.name === t.key;
  const freeOfKey = (e: Expr) => !freeVars(e).has(t.key);
  const tileOnly = (e: Expr): Bounds => bounds(e, { ...t, key: "\u0000" });
  for (const c of conjuncts(mask)) {
    if (c.kind !== "binary") continue;
    let { op, left, right } = c;
    if (isKey(right) && freeOfKey(left)) {
      const flip: Record<string, typeof op> = { "<": ">", "<=": ">=", ">": "<", ">=": "<=", "==": "==" };
      if (flip[op] === undefined) continue;
      [left, right, op] = [right, left, flip[op]];
    }
    if (isKey(left) && freeOfKey(right)) {
      const r = tileOnly(right);
      const one = int(1, c.span);
      if ((op === "<=" || op === "==") && r.hi) highs.push(r.hi);
      if (op === "<" && r.hi) highs.push(bin("-", r.hi, one, "int"));
      if ((op === ">=" || op === "==") && r.lo) lows.push(r.lo);
      if (op === ">" && r.lo) lows.push(bin("+", r.lo, one, "int"));
      continue;
    }
    // Chunks: j / C == E gives C * lo(E) <= j <= C * hi(E) + C - 1.
    const chunk = (x: Expr, y: Expr) =>
      op === "==" && x.kind === "binary" && x.op === "/" && isKey(x.left) && x.right.kind === "const" && x.right.value > 0 && freeOfKey(y) ? { c: x.right, other: y } : undefined;
    const m = chunk(left, right) ?? chunk(right, left);
    if (m !== undefined) {
      const r = tileOnly(m.other);
      if (r.lo) lows.push(bin("*", r.lo, m.c, "int"));
      if (r.hi) highs.push(bin("-", bin("+", bin("*", r.hi, m.c, "int"), m.c, "int"), int(1, c.span), "int"));
    }
  }
  const lo = lows.length === 0 ? undefined : lows.reduce((a, b) => call("max", a, b));
  const hi = highs.length === 0 ? undefined : highs.reduce((a, b) => call("min", a, b));
  return { lo, hi };
}
