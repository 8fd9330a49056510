// Check stage: integer ranges of index expressions with bounds linear in the run-time sizes (each size >= 1).
import { monomialOf, type Expr, type Extent } from "./typed.js";

/**
 * c + sum(coeff * monomial), where a monomial is a product of run-time sizes (each >= 1), keyed by their sorted names
 * joined by `*`: `HKV * G` is the term `G*HKV`. Linear in the monomials, so `h < HKV * G` gives `h / G < HKV`.
 */
export type Linear = { readonly c: number; readonly terms: Readonly<Record<string, number>> };
/** A bound that is unknown is undefined (minus or plus infinity). */
export type Range = { readonly lo?: Linear; readonly hi?: Linear };

export const linear = (c: number, terms: Record<string, number> = {}): Linear => ({ c, terms: Object.assign(Object.create(null), terms) });
export const fromExtent = (e: Extent): Linear => {
  const m = monomialOf(e);
  return m.sizes.length === 0 ? linear(m.scale) : linear(0, { [m.sizes.join("*")]: m.scale });
};
const monomialKey = (a: string, b: string) => [...a.split("*"), ...b.split("*")].sort().join("*");

function combine(a: Linear, b: Linear, k: number): Linear {
  // Sizes by name in a Map: a size may be named `__proto__` or `toString`.
  const terms = new Map(Object.entries(a.terms));
  for (const [name, coeff] of Object.entries(b.terms)) {
    const sum = (terms.get(name) ?? 0) + k * coeff;
    if (sum === 0) terms.delete(name);
    else terms.set(name, sum);
  }
  return { c: a.c + k * b.c, terms: Object.fromEntries(terms) };
}
const add = (a: Linear, b: Linear) => combine(a, b, 1);
const sub = (a: Linear, b: Linear) => combine(a, b, -1);
const scale = (a: Linear, k: number): Linear => combine(linear(0), a, k);
const isConst = (a: Linear) => Object.keys(a.terms).length === 0;

/** a * b, distributed over the monomials. */
function mulLinear(a: Linear, b: Linear): Linear {
  let out = scale(b, a.c);
  for (const [x, k] of Object.entries(a.terms)) {
    out = add(out, linear(0, { [x]: k * b.c }));
    for (const [y, l] of Object.entries(b.terms)) out = add(out, linear(0, { [monomialKey(x, y)]: k * l }));
  }
  return out;
}

/** a / s where s divides every part of a exactly: a size s (its name) or a positive integer; otherwise undefined. */
function divideExactly(a: Linear, s: string | number): Linear | undefined {
  if (typeof s === "number") {
    if (a.c % s !== 0 || Object.values(a.terms).some((k) => k % s !== 0)) return undefined;
    return scale(a, 1 / s);
  }
  if (a.c !== 0) return undefined;
  let out = linear(0);
  for (const [x, k] of Object.entries(a.terms)) {
    const factors = x.split("*");
    const at = factors.indexOf(s);
    if (at < 0) return undefined;
    factors.splice(at, 1);
    out = add(out, factors.length === 0 ? linear(k) : linear(0, { [factors.join("*")]: k }));
  }
  return out;
}

/** The least value of a linear form over sizes >= 1, or -Infinity. */
function least(a: Linear): number {
  let v = a.c;
  for (const coeff of Object.values(a.terms)) v = coeff > 0 ? v + coeff : -Infinity;
  return v;
}
/** a >= b for every choice of sizes >= 1. */
export const provablyGe = (a: Linear, b: Linear): boolean => least(sub(a, b)) >= 0;

const lower = (x: Linear | undefined, y: Linear | undefined) =>
  x === undefined || y === undefined ? undefined : provablyGe(y, x) ? x : provablyGe(x, y) ? y : undefined;
const upper = (x: Linear | undefined, y: Linear | undefined) =>
  x === undefined || y === undefined ? undefined : provablyGe(x, y) ? x : provablyGe(y, x) ? y : undefined;
const opt = <T>(a: Linear | undefined, b: Linear | undefined, f: (a: Linear, b: Linear) => T) =>
  a === undefined || b === undefined ? undefined : f(a, b);

function mulConst(r: Range, k: number): Range {
  if (k >= 0) return { lo: r.lo && scale(r.lo, k), hi: r.hi && scale(r.hi, k) };
  return { lo: r.hi && scale(r.hi, k), hi: r.lo && scale(r.lo, k) };
}

/** The one value of a range whose bounds are equal, if they are. */
const exact = (r: Range): Linear | undefined => (r.lo !== undefined && r.hi !== undefined && showLinear(r.lo) === showLinear(r.hi) ? r.lo : undefined);
/** The size a range is exactly (one size, coefficient 1), if it is. */
const exactSize = (r: Range): string | undefined => {
  const x = exact(r);
  const terms = x && Object.entries(x.terms);
  return terms !== undefined && x!.c === 0 && terms.length === 1 && terms[0][1] === 1 && !terms[0][0].includes("*") ? terms[0][0] : undefined;
};

const constOf = (r: Range): number | undefined =>
  r.lo !== undefined && r.hi !== undefined && isConst(r.lo) && isConst(r.hi) && r.lo.c === r.hi.c ? r.lo.c : undefined;

/** The range of an integer expression, given the extents of its index variables. */
export function rangeOf(e: Expr, extents: ReadonlyMap<string, Extent>): Range {
  switch (e.kind) {
    case "const":
      return { lo: linear(e.value), hi: linear(e.value) };
    case "var": {
      const extent = extents.get(e.name);
      return extent === undefined ? {} : { lo: linear(0), hi: sub(fromExtent(extent), linear(1)) };
    }
    case "size":
      return { lo: linear(0, { [e.name]: 1 }), hi: linear(0, { [e.name]: 1 }) };
    case "unary":
      return e.op === "neg" ? mulConst(rangeOf(e.operand, extents), -1) : {};
    case "binary": {
      const a = rangeOf(e.left, extents);
      const b = rangeOf(e.right, extents);
      switch (e.op) {
        case "+":
          return { lo: opt(a.lo, b.lo, add), hi: opt(a.hi, b.hi, add) };
        case "-":
          return { lo: opt(a.lo, b.hi, sub), hi: opt(a.hi, b.lo, sub) };
        case "*": {
          const ka = constOf(a);
          const kb = constOf(b);
          if (kb !== undefined) return mulConst(a, kb);
          if (ka !== undefined) return mulConst(b, ka);
          // A range times one positive value (a size, or a product of sizes) scales both bounds by it.
          const positive = (r: Range) => exact(r) !== undefined && least(r.lo!) >= 1;
          if (positive(b)) return { lo: a.lo && mulLinear(a.lo, b.lo!), hi: a.hi && mulLinear(a.hi, b.lo!) };
          if (positive(a)) return { lo: b.lo && mulLinear(b.lo, a.lo!), hi: b.hi && mulLinear(b.hi, a.lo!) };
          return {};
        }
        case "/": {
          const aNonNegative = a.lo !== undefined && least(a.lo) >= 0;
          // x <= U - 1 with U a multiple of the divisor s gives x / s <= U / s - 1 (floor division, x >= 0).
          const k = constOf(b);
          const divisor = k ?? exactSize(b);
          const multiple = aNonNegative && a.hi !== undefined && divisor !== undefined && (typeof divisor === "string" || divisor > 0)
            ? divideExactly(add(a.hi, linear(1)), divisor) : undefined;
          if (k !== undefined && k > 0) {
            const div = (x: Linear | undefined) => (x !== undefined && isConst(x) ? linear(Math.floor(x.c / k)) : undefined);
            const lo = a.lo !== undefined && isConst(a.lo) ? div(a.lo) : aNonNegative ? linear(0) : undefined;
            // For x >= 0 and k >= 1, x / k <= x.
            const hi = div(a.hi) ?? (multiple && sub(multiple, linear(1))) ?? (aNonNegative ? a.hi : undefined);
            return { lo, hi };
          }
          // A non-negative value divided by a positive size stays non-negative and no larger.
          const bPositive = b.lo !== undefined && least(b.lo) >= 1;
          if (!(bPositive && aNonNegative)) return {};
          return { lo: linear(0), hi: (multiple && sub(multiple, linear(1))) ?? a.hi };
        }
        case "%": {
          const k = constOf(b);
          if (k !== undefined && k > 0) return { lo: linear(0), hi: linear(k - 1) };
          if (b.hi !== undefined && b.lo !== undefined && least(b.lo) >= 1) return { lo: linear(0), hi: sub(b.hi, linear(1)) };
          return {};
        }
        default:
          return {};
      }
    }
    case "select": {
      const a = rangeOf(e.then, extents);
      const b = rangeOf(e.otherwise, extents);
      return { lo: lower(a.lo, b.lo), hi: upper(a.hi, b.hi) };
    }
    case "call": {
      const rs = e.args.map((x) => rangeOf(x, extents));
      switch (e.fn) {
        case "min":
          return { lo: rs.map((r) => r.lo).reduce(lower), hi: rs.map((r) => r.hi).reduce((x, y) => (x === undefined ? y : y === undefined ? x : lower(x, y))) };
        case "max":
          return { lo: rs.map((r) => r.lo).reduce((x, y) => (x === undefined ? y : y === undefined ? x : upper(x, y))), hi: rs.map((r) => r.hi).reduce(upper) };
        case "clamp": {
          const [x, lo, hi] = rs;
          const low = x.lo === undefined ? lo.lo : lo.lo === undefined ? x.lo : upper(x.lo, lo.lo) ?? lo.lo;
          const high = x.hi === undefined ? hi.hi : hi.hi === undefined ? x.hi : lower(x.hi, hi.hi) ?? hi.hi;
          return { lo: low, hi: high };
        }
        case "abs": {
          const [x] = rs;
          if (x.lo !== undefined && least(x.lo) >= 0) return x;
          if (x.hi !== undefined && least(scale(x.hi, -1)) >= 0) return mulConst(x, -1);
          return { lo: linear(0), hi: upper(x.hi, x.lo && scale(x.lo, -1)) };
        }
        default:
          return {};
      }
    }
    default:
      return {};
  }
}

/** Whether an index range is provably inside [0, dim), provably entirely outside it, or neither. */
export function classifyIndex(r: Range, dim: Extent): "inside" | "outside" | "unknown" {
  const top = sub(fromExtent(dim), linear(1));
  if (r.lo !== undefined && r.hi !== undefined && least(r.lo) >= 0 && provablyGe(top, r.hi)) return "inside";
  if (r.lo !== undefined && least(sub(r.lo, top)) >= 1) return "outside";
  if (r.hi !== undefined && least(scale(r.hi, -1)) >= 1) return "outside";
  return "unknown";
}

export const showLinear = (a: Linear): string => {
  const parts = Object.entries(a.terms).map(([n, k]) => (k === 1 ? n : k === -1 ? `-${n}` : `${k}*${n}`));
  if (a.c !== 0 || parts.length === 0) parts.push(String(a.c));
  return parts.join(" + ").replace(/\+ -/g, "- ");
};
