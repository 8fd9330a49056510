// Graph stage: canonical forms. Constants fold, factors leave the sums they do not depend on,
// and a softmax written out by hand (max, exp of the difference, sum, divide) becomes softmax.
import type { Expr, IndexVar } from "../check/typed.js";
import { freeVars } from "../check/free-vars.js";
import { exprEqual, renameVar, type NameSupply } from "./substitute.js";
import { rewrite } from "./walk.js";

export function canonicalize(e: Expr, supply: NameSupply): Expr {
  let current = e;
  for (let round = 0; round < 4; round++) {
    const next = rewrite(current, (x) => handSoftmax(pullFactors(foldConstant(x)), supply));
    if (exprEqual(next, current)) return next;
    current = next;
  }
  return current;
}

const isConst = (e: Expr): e is Extract<Expr, { kind: "const" }> => e.kind === "const";

export function foldConstant(e: Expr): Expr {
  switch (e.kind) {
    case "cast":
      return isConst(e.operand) ? { ...e.operand, type: "float", span: e.span } : e;
    case "unary":
      if (!isConst(e.operand)) return e;
      return { kind: "const", value: e.op === "neg" ? -e.operand.value : +!e.operand.value, type: e.type, span: e.span };
    case "binary": {
      const { left: a, right: b } = e;
      if (isConst(a) && isConst(b) && e.type !== "bool" && ["+", "-", "*", "/", "%"].includes(e.op)) {
        const int = e.type === "int";
        const x = a.value;
        const y = b.value;
        // Floats fold to any IEEE value (0.0 / 0.0 is NaN): WGSL rejects a constant expression that is not finite.
        const value =
          e.op === "+" ? x + y : e.op === "-" ? x - y : e.op === "*" ? x * y
          : e.op === "/" ? (int ? (y === 0 ? 0 : Math.floor(x / y)) : x / y)
          : int ? (y === 0 ? 0 : x - y * Math.floor(x / y)) : x - y * Math.floor(x / y);
        if (int && !Number.isSafeInteger(value)) return e;
        return { kind: "const", value: int ? value | 0 : value, type: e.type, span: e.span };
      }
      if (e.op === "*" && isConst(b) && b.value === 1) return a;
      if (e.op === "*" && isConst(a) && a.value === 1) return b;
      return e;
    }
    case "call": {
      if (!e.args.every(isConst) || e.type !== "float") return e;
      const [x] = e.args.map((a) => (a as { value: number }).value);
      const f: Partial<Record<string, (v: number) => number>> = { rsqrt: (v) => 1 / Math.sqrt(v), sqrt: Math.sqrt, exp: Math.exp, log: Math.log, log2: Math.log2, exp2: (v) => 2 ** v };
      const fn = f[e.fn];
      return fn === undefined ? e : { kind: "const", value: fn(x), type: "float", span: e.span };
    }
    default:
      return e;
  }
}

/** The factors of a product, flattened: a * (b * c) -> [a, b, c]. */
export function factors(e: Expr): Expr[] {
  return e.kind === "binary" && e.op === "*" ? [...factors(e.left), ...factors(e.right)] : [e];
}

export function product(parts: readonly Expr[], span: Expr["span"]): Expr {
  if (parts.length === 0) return { kind: "const", value: 1, type: "float", span };
  return parts.reduce((a, b) => {
    const type = a.type === "int" && b.type === "int" ? "int" : "float";
    return { kind: "binary", op: "*", left: a, right: b, type, span };
  });
}

/** sum[d](x * c) -> c * sum[d](x) where c does not depend on d: a scale leaves the contraction. */
function pullFactors(e: Expr): Expr {
  if (e.kind !== "reduce" || e.op !== "sum" || e.type !== "float") return e;
  const parts = factors(e.body);
  const bound = new Set(e.vars.map((v) => v.name));
  const outside = parts.filter((p) => ![...freeVars(p)].some((v) => bound.has(v)));
  if (outside.length === 0 || outside.length === parts.length) return e;
  const inside = parts.filter((p) => !outside.includes(p));
  return { kind: "binary", op: "*", left: { ...e, body: product(inside, e.span) }, right: product(outside, e.span), type: "float", span: e.span };
}

/** exp(X - max[j'](X')) / sum[j''](exp(X'' - max(...))) and exp(X) / sum[j''](exp(X'')) become softmax[j](X). */
function handSoftmax(e: Expr, supply: NameSupply): Expr {
  if (e.kind !== "binary" || e.op !== "/" || e.left.kind !== "call" || e.left.fn !== "exp") return e;
  const numerator = e.left.args[0];
  const denominator = e.right;
  if (denominator.kind !== "reduce" || denominator.op !== "sum" || denominator.vars.length !== 1) return e;
  const sumVar = denominator.vars[0];
  const body = denominator.body;
  if (body.kind !== "call" || body.fn !== "exp") return e;
  for (const j of freeVars(numerator)) {
    // The denominator's exponent must be the numerator's with j renamed to the sum's variable.
    if (!exprEqual(renameVar(numerator, j, sumVar.name, supply), body.args[0])) continue;
    const axis: IndexVar = { name: j, extent: sumVar.extent };
    const x = numerator.kind === "binary" && numerator.op === "-" && isRowMaxOf(numerator.right, numerator.left, j, supply) ? numerator.left : numerator;
    return { kind: "softmax", vars: [axis], body: x, type: "float", span: e.span };
  }
  return e;
}

function isRowMaxOf(m: Expr, x: Expr, j: string, supply: NameSupply): boolean {
  if (m.kind !== "reduce" || m.op !== "max" || m.vars.length !== 1) return false;
  return exprEqual(renameVar(x, j, m.vars[0].name, supply), m.body);
}
