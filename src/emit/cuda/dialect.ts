// Emit stage (CUDA): how CUDA C++ spells the IR's literals, calls, loads and names.
import type { Dialect, LoadExpr } from "../expr.js";
import type { MathFn, RefName, ValueType } from "../../check/typed.js";

export type CudaNames = {
  /** Index of each tensor in Params.t (manifest order, then intermediates). */
  readonly tensorIndex: ReadonlyMap<string, number>;
  readonly sizeIndex: ReadonlyMap<string, number>;
  readonly scalarIndex: ReadonlyMap<string, { index: number; dtype: "f32" | "i32" }>;
};

const floatLiteral = (v: number): string => {
  const f = Math.fround(v);
  if (f === Infinity) return "__int_as_float(0x7f800000)";
  if (f === -Infinity) return "__int_as_float(0xff800000)";
  if (Number.isNaN(f)) return "__int_as_float(0x7fc00000)";
  const text = Number.isInteger(f) && Math.abs(f) < 1e15 ? `${f}.0` : f.toPrecision(9);
  return `${text}f`;
};

const floatCalls: Record<MathFn, (a: readonly string[]) => string> = {
  exp: ([a]) => `expf(${a})`,
  exp2: ([a]) => `exp2f(${a})`,
  log: ([a]) => `logf(${a})`,
  log2: ([a]) => `log2f(${a})`,
  sqrt: ([a]) => `sqrtf(${a})`,
  rsqrt: ([a]) => `rsqrtf(${a})`,
  tanh: ([a]) => `tanhf(${a})`,
  sigmoid: ([a]) => `(1.0f / (1.0f + expf(-(${a}))))`,
  floor: ([a]) => `floorf(${a})`,
  ceil: ([a]) => `ceilf(${a})`,
  abs: ([a]) => `fabsf(${a})`,
  min: (args) => args.reduce((x, y) => `fminf(${x}, ${y})`),
  max: (args) => args.reduce((x, y) => `fmaxf(${x}, ${y})`),
  clamp: ([x, lo, hi]) => `fminf(fmaxf(${x}, ${lo}), ${hi})`,
  // Truncation toward zero, saturating, NaN to 0: the rules of a float stored to i32 (prelude.ts).
  i32: ([a]) => `attnc_to_int(${a})`,
};

/** Hardware approximations where a kernel's inputs are 16-bit floats (the tensor-core path). */
const fastFloatCalls: Record<MathFn, (a: readonly string[]) => string> = {
  ...floatCalls,
  tanh: ([a]) => `attnc_tanh_fast(${a})`,
  sigmoid: ([a]) => `fmaf(0.5f, attnc_tanh_fast(0.5f * (${a})), 0.5f)`,
};

/** The CUDA dialect; `loads` collects the tensors whose loaders (ld_N, cuda/index.ts) it prints. */
export function cudaDialect(names: CudaNames, options: { fastMath?: boolean; loads?: Set<string> } = {}): Dialect {
  const calls = options.fastMath ? fastFloatCalls : floatCalls;
  return {
    float: "float",
    int: "int",
    bool: "bool",
    floatLiteral,
    intLiteral: (v) => (v < 0 ? `(${v})` : `${v}`),
    toFloat: (c) => `((float)${c})`,
    call: (fn: MathFn, args: readonly string[], type: ValueType) => {
      if (type === "int") {
        if (fn === "abs") return `abs(${args[0]})`;
        if (fn === "min") return args.reduce((x, y) => `min(${x}, ${y})`);
        if (fn === "max") return args.reduce((x, y) => `max(${x}, ${y})`);
        if (fn === "clamp") return `min(max(${args[0]}, ${args[1]}), ${args[2]})`;
      }
      return calls[fn](args);
    },
    select: (c, a, b) => `(${c} ? ${a} : ${b})`,
    intDiv: (a, b) => `attnc_floordiv(${a}, ${b})`,
    intMod: (a, b) => `attnc_floormod(${a}, ${b})`,
    // __fdividef: two ulps, without the IEEE division's dozen instructions (16-bit inputs only).
    floatDiv: options.fastMath ? (a, b) => `__fdividef(${a}, ${b})` : undefined,
    load: (e: LoadExpr, indices: readonly string[]) => {
      options.loads?.add(e.tensor);
      return `ld_${names.tensorIndex.get(e.tensor)}(p${indices.map((i) => `, ${i}`).join("")})`;
    },
    size: (name) => `p.sz[${names.sizeIndex.get(name)}]`,
    scalar: (name) => {
      const s = names.scalarIndex.get(name)!;
      return s.dtype === "f32" ? `p.sf[${s.index}]` : `p.si[${s.index}]`;
    },
    ref: (name: RefName) => `r_${name}`,
    declare: (name, type, value) => `${type === "float" ? "float" : type === "int" ? "int" : "bool"} ${name} = ${value};`,
    forLoop: (v, extent) => `for (int ${v} = 0; ${v} < ${extent}; ++${v})`,
    // Lets 16 iterations' loads be in flight at once (a tile table's reduction over a 64-id granule; what it saved
    // alone was not isolated, cuda-notes.md step 26).
    unrollConstant: "#pragma unroll 16",
  };
}
