// Graph stage: the expression IR evaluated in float64: an expression compiled to a closure over index-variable slots,
// the meaning every stage relies on (the interpreter, the executors, constant folding, tile classification).
import type { Expr, Extent, TensorInfo } from "../check/typed.js";
import { extentValueOf, toI32 } from "../check/typed.js";
import { freeVars } from "../check/free-vars.js";
import { own } from "../records.js";

export type Sizes = Readonly<Record<string, number>>;

export type Env = Float64Array; // index-variable values by slot
export type Compiled = (env: Env) => number;

export const extentValue = (e: Extent, sizes: Sizes): number => extentValueOf(e, (name) => own(sizes, name)!);

/** Slots for index variables and refs, the given names first, in order. */
export function slotAllocator(first: readonly string[]): (name: string) => number {
  const slots = new Map<string, number>();
  const slotOf = (name: string): number => {
    if (!slots.has(name)) slots.set(name, slots.size);
    return slots.get(name)!;
  };
  first.forEach(slotOf);
  return slotOf;
}

export type Context = {
  slotOf: (name: string) => number;
  sizes: Sizes;
  scalars: ReadonlyMap<string, number>;
  buffers: ReadonlyMap<string, Float64Array>;
  infos: ReadonlyMap<string, TensorInfo>;
};

const wrap = (v: number) => v | 0;
const floorDiv = (a: number, b: number) => (b === 0 ? 0 : Math.floor(a / b));
const floorMod = (a: number, b: number) => (b === 0 ? 0 : a - b * Math.floor(a / b));

export function compileExpr(e: Expr, cx: Context): Compiled {
  const c = (x: Expr) => compileExpr(x, cx);
  switch (e.kind) {
    case "const": {
      const v = e.value;
      return () => v;
    }
    case "var": {
      const slot = cx.slotOf(e.name);
      return (env) => env[slot];
    }
    case "ref": {
      const slot = cx.slotOf(`$${e.name}`);
      return (env) => env[slot];
    }
    case "size": {
      const v = own(cx.sizes, e.name)!;
      return () => v;
    }
    case "scalar": {
      const v = cx.scalars.get(e.name)!;
      return () => v;
    }
    case "cast":
      return c(e.operand);
    case "load": {
      const info = cx.infos.get(e.tensor)!;
      const buffer = cx.buffers.get(e.tensor)!;
      const dims = info.dims.map((d) => extentValue(d, cx.sizes));
      const idx = e.indices.map(c);
      const clamped = e.clamped;
      const name = e.tensor;
      return (env) => {
        let flat = 0;
        for (let k = 0; k < dims.length; k++) {
          let i = idx[k](env);
          if (clamped[k]) i = Math.max(0, Math.min(dims[k] - 1, i));
          else if (!(i >= 0 && i < dims[k])) throw new Error(`internal: index ${i} of \`${name}\` outside [0, ${dims[k]})`);
          flat = flat * dims[k] + i;
        }
        return dims.some((d) => d === 0) ? 0 : buffer[flat];
      };
    }
    case "unary": {
      const a = c(e.operand);
      if (e.op === "not") return (env) => (a(env) ? 0 : 1);
      return e.type === "int" ? (env) => wrap(-a(env)) : (env) => -a(env);
    }
    case "binary": {
      const a = c(e.left);
      const b = c(e.right);
      const int = e.left.type === "int" && e.right.type === "int";
      switch (e.op) {
        case "+": return int ? (env) => wrap(a(env) + b(env)) : (env) => a(env) + b(env);
        case "-": return int ? (env) => wrap(a(env) - b(env)) : (env) => a(env) - b(env);
        case "*": return int ? (env) => Math.imul(a(env), b(env)) : (env) => a(env) * b(env);
        case "/": return int ? (env) => floorDiv(a(env), b(env)) : (env) => a(env) / b(env);
        case "%": return int ? (env) => floorMod(a(env), b(env)) : (env) => { const x = a(env), y = b(env); return x - y * Math.floor(x / y); };
        case "<": return (env) => +(a(env) < b(env));
        case "<=": return (env) => +(a(env) <= b(env));
        case ">": return (env) => +(a(env) > b(env));
        case ">=": return (env) => +(a(env) >= b(env));
        case "==": return (env) => +(a(env) === b(env));
        case "!=": return (env) => +(a(env) !== b(env));
        case "&&": return (env) => +(a(env) !== 0 && b(env) !== 0);
        case "||": return (env) => +(a(env) !== 0 || b(env) !== 0);
      }
    }
    // falls through (unreachable: every operator returns)
    case "select": {
      if (e.kind !== "select") throw new Error("unreachable");
      const cond = c(e.cond);
      const a = c(e.then);
      const b = c(e.otherwise);
      return (env) => (cond(env) !== 0 ? a(env) : b(env));
    }
    case "call": {
      const args = e.args.map(c);
      const [a, b, d] = args;
      switch (e.fn) {
        case "exp": return (env) => Math.exp(a(env));
        case "exp2": return (env) => 2 ** a(env);
        case "log": return (env) => Math.log(a(env));
        case "log2": return (env) => Math.log2(a(env));
        case "sqrt": return (env) => Math.sqrt(a(env));
        case "rsqrt": return (env) => 1 / Math.sqrt(a(env));
        case "tanh": return (env) => Math.tanh(a(env));
        case "sigmoid": return (env) => 1 / (1 + Math.exp(-a(env)));
        case "floor": return (env) => Math.floor(a(env));
        case "ceil": return (env) => Math.ceil(a(env));
        case "abs": return e.type === "int" ? (env) => wrap(Math.abs(a(env))) : (env) => Math.abs(a(env));
        case "min": return (env) => Math.min(...args.map((f) => f(env)));
        case "max": return (env) => Math.max(...args.map((f) => f(env)));
        case "clamp": return (env) => Math.min(Math.max(a(env), b(env)), d(env));
        case "i32": return (env) => toI32(a(env));
      }
    }
    // falls through (unreachable)
    case "reduce": {
      if (e.kind !== "reduce") throw new Error("unreachable");
      const body = c(e.body);
      const loop = axisLoop(e.vars, cx);
      const int = e.type === "int";
      switch (e.op) {
        case "sum":
          return (env) => { let s = 0; loop(env, () => { s = int ? wrap(s + body(env)) : s + body(env); }); return s; };
        case "max":
          return (env) => { let s = -Infinity; loop(env, () => { s = Math.max(s, body(env)); }); return s; };
        case "min":
          return (env) => { let s = Infinity; loop(env, () => { s = Math.min(s, body(env)); }); return s; };
        case "logsumexp":
          return (env) => {
            const values: number[] = [];
            loop(env, () => { values.push(body(env)); });
            return logSumExp(values);
          };
      }
    }
    // falls through (unreachable)
    case "softmax": {
      if (e.kind !== "softmax") throw new Error("unreachable");
      const body = c(e.body);
      const sink = e.sink === undefined ? undefined : c(e.sink);
      const loop = axisLoop(e.vars, cx);
      const axisSlots = new Set(e.vars.map((v) => cx.slotOf(v.name)));
      const rowSlots = [...freeVars(e)].map(cx.slotOf).filter((s) => !axisSlots.has(s));
      // Row statistics are cached per value of the other free variables: one pass per row, not one per element.
      const rows = new Map<string, { max: number; sum: number }>();
      return (env) => {
        const key = rowSlots.map((s) => env[s]).join(",");
        let row = rows.get(key);
        if (row === undefined) {
          const saved = e.vars.map((v) => env[cx.slotOf(v.name)]);
          const values: number[] = [];
          loop(env, () => { values.push(body(env)); });
          e.vars.forEach((v, k) => { env[cx.slotOf(v.name)] = saved[k]; });
          const s = sink === undefined ? -Infinity : sink(env);
          const max = softmaxBase(Math.max(s, ...values));
          let sum = Math.exp(s - max);
          for (const v of values) sum += Math.exp(v - max);
          row = { max, sum };
          rows.set(key, row);
        }
        return row.sum === 0 ? 0 : Math.exp(body(env) - row.max) / row.sum;
      };
    }
  }
}

/**
 * The shift c of softmax and logsumexp (exp(x - c)): the row maximum, kept finite (here in float64; the f32
 * executors keep it within the f32 range), so that a +inf score gives exp(+inf) = +inf rather than
 * exp(inf - inf) = NaN, and a row of -inf gives exp(-inf) = 0 (language.md section 7).
 */
export const softmaxBase = (max: number, largest = Number.MAX_VALUE): number => Math.min(Math.max(max, -largest), largest);

/** c + log(sum(exp(x - c))): -inf for no values or all -inf, +inf with a +inf value, NaN with a NaN. */
export function logSumExp(values: readonly number[]): number {
  const c = softmaxBase(values.reduce((a, b) => Math.max(a, b), -Infinity));
  let sum = 0;
  for (const v of values) sum += Math.exp(v - c);
  return c + Math.log(sum);
}

/** Calls `each` once per point of the product of the variables' ranges, with their slots set in env. */
function axisLoop(vars: readonly { name: string; extent: Extent }[], cx: Context): (env: Env, each: () => void) => void {
  const slots = vars.map((v) => cx.slotOf(v.name));
  const extents = vars.map((v) => extentValue(v.extent, cx.sizes));
  return (env, each) => {
    const go = (k: number): void => {
      if (k === slots.length) return each();
      for (let x = 0; x < extents[k]; x++) {
        env[slots[k]] = x;
        go(k + 1);
      }
    };
    go(0);
  };
}
