// Interp stage: the float64 reference interpreter, the oracle every backend is checked against.
import type { CheckedKernel, Statement, TensorInfo } from "../check/typed.js";
import { showExtent, tensorsOf } from "../check/typed.js";
import { roundTo } from "./dtype.js";
import { lowerNaiveStage, type ElementProgram } from "../tile/elements.js";
import { own, recordOf } from "../records.js";
import { compileExpr, extentValue, slotAllocator, type Context, type Sizes } from "../graph/evaluate.js";

export { compileExpr, extentValue, logSumExp, slotAllocator, softmaxBase, type Compiled, type Context, type Env, type Sizes } from "../graph/evaluate.js";

/**
 * Tensors as row-major arrays of their declared dims; scalar parameters as numbers. Arguments and sizes are read
 * through own properties only (a tensor may be named `toString`, a size `__proto__`), and results have an own
 * property for every output.
 */
export type Arguments = Readonly<Record<string, ArrayLike<number> | number>>;

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
  runElements(lowerNaiveStage({ kind: "naive", statement: st }), cx);
}

/** Runs an element program (a naive stage) into `cx.buffers`, in float64: each element's index variables from its flat number. */
export function runElements(p: ElementProgram, cx: Omit<Context, "slotOf">): void {
  const info = cx.infos.get(p.target)!;
  const slotOf = slotAllocator(p.vars.map((v) => v.name));
  const value = compileExpr(p.value, { ...cx, slotOf });
  const digits = p.digits.map((x) => ({ slot: slotOf(x.name), extent: extentValue(x.extent, cx.sizes), outermost: x.outermost }));
  const total = p.vars.reduce((n, v) => n * extentValue(v.extent, cx.sizes), 1);
  const out = new Float64Array(total);
  const env = new Float64Array(64);
  for (let flat = 0; flat < total; flat++) {
    let rest = flat;
    for (const x of digits) {
      env[x.slot] = x.outermost ? rest : rest % x.extent;
      if (!x.outermost) rest = Math.floor(rest / x.extent);
    }
    const v = value(env);
    out[flat] = info.dtype === "i32" ? roundTo("i32", v) : v;
  }
  (cx.buffers as Map<string, Float64Array>).set(p.target, out);
}

