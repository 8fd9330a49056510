// Interp stage: the float64 reference interpreter, the oracle every backend is checked against.
import type { CheckedKernel, Expr, Extent, Statement, TensorInfo } from "../check/typed.js";
import { extentValueOf, showExtent, tensorsOf, toI32 } from "../check/typed.js";
import { freeVars } from "../check/free-vars.js";
import { roundTo } from "./dtype.js";
import { own, recordOf } from "../records.js";

/**
 * Tensors as row-major arrays of their declared dims; scalar parameters as numbers. Arguments and sizes are read
 * through own properties only (a tensor may be named `toString`, a size `__proto__`), and results have an own
 * property for every output.
 */
export type Arguments = Readonly<Record<string, ArrayLike<number> | number>>;
export type Sizes = Readonly<Record<string, number>>;

export type Env = Float64Array; // index-variable values by slot
export type Compiled = (env: Env) => number;

export const extentValue = (e: Extent, sizes: Sizes): number => extentValueOf(e, (name) => own(sizes, name)!);

/** Validates arguments against the kernel's parameters; returns the error messages. */
export function argumentErrors(kernel: CheckedKernel, args: Arguments, sizes: Sizes): string[] {
  const errors: string[] = [];
  for (const s of kernel.sizes) {
    const v = own(sizes, s);
    if (v === undefined) errors.push(`size \`${s}\` is missing`);
    else if (!Number.isSafeInteger(v) || v < 0 || v > 2 ** 31 - 1) errors.push(`size \`${s}\` must be a non-negative integer below 2^31, got ${v}`);
  }
  if (errors.length > 0) return errors;
  for (const t of kernel.inputs) {
    const a = own(args, t.name);
    const want = t.dims.reduce((n, d) => n * extentValue(d, sizes), 1);
    if (a === undefined) errors.push(`tensor \`${t.name}\` is missing`);
    else if (typeof a === "number") errors.push(`tensor \`${t.name}\` must be an array, got a number`);
    else if (a.length !== want) {
      errors.push(`tensor \`${t.name}\` has ${a.length} elements, but [${t.dims.map((d) => `${showExtent(d)}=${extentValue(d, sizes)}`).join(", ")}] needs ${want}`);
    }
  }
  for (const s of kernel.scalars) {
    const a = own(args, s.name);
    if (typeof a !== "number") errors.push(`scalar \`${s.name}\` must be a number`);
  }
  return errors;
}

/** Runs a checked kernel in float64 on the CPU. Inputs are rounded to their storage dtypes first. */
export function interpret(kernel: CheckedKernel, args: Arguments, sizes: Sizes): Record<string, Float64Array> {
  const { buffers, infos, scalars: scalarValues } = prepare(kernel, args, sizes);

  for (const st of kernel.statements) runStatement(st, { sizes, scalars: scalarValues, buffers, infos });
  return recordOf(kernel.outputs.map((o) => [o.name, buffers.get(o.name)!]));
}

/** Validated, dtype-rounded inputs: the starting state of every executor. */
export function prepare(kernel: CheckedKernel, args: Arguments, sizes: Sizes) {
  const errors = argumentErrors(kernel, args, sizes);
  if (errors.length > 0) throw new Error(`${kernel.name}: ${errors.join("; ")}`);
  const buffers = new Map<string, Float64Array>();
  const infos = new Map<string, TensorInfo>(tensorsOf(kernel).map((t) => [t.name, t]));
  for (const t of kernel.inputs) buffers.set(t.name, Float64Array.from(own(args, t.name) as ArrayLike<number>, (v) => roundTo(t.dtype, v)));
  const scalars = new Map(kernel.scalars.map((s) => [s.name, roundTo(s.dtype, own(args, s.name) as number)]));
  return { buffers, infos, scalars };
}

/** Evaluates one statement over its whole index space into a new buffer. */
export function runStatement(st: Statement, cx: Omit<Context, "slotOf">): void {
  const info = cx.infos.get(st.target)!;
  const dims = st.vars.map((v) => extentValue(v.extent, cx.sizes));
  const slotOf = slotAllocator(st.vars.map((v) => v.name));
  const value = compileExpr(st.value, { ...cx, slotOf });
  const total = dims.reduce((a, b) => a * b, 1);
  const out = new Float64Array(total);
  const env = new Float64Array(64);
  const isInt = info.dtype === "i32";
  for (let flat = 0; flat < total; flat++) {
    let rest = flat;
    for (let k = dims.length - 1; k >= 0; k--) {
      env[k] = rest % dims[k];
      rest = Math.floor(rest / dims[k]);
    }
    const v = value(env);
    out[flat] = isInt ? roundTo("i32", v) : v;
  }
  (cx.buffers as Map<string, Float64Array>).set(st.target, out);
}

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
