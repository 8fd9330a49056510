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

/**
 * A call: C's single-precision functions, named as the language's with an `f` (expf, rsqrtf), but for those below;
 * ints have min, max and abs of their own. With `fast` (16-bit inputs, the tensor-core path), tanh and sigmoid
 * are hardware approximations.
 */
function call(fn: MathFn, args: readonly string[], type: ValueType, fast: boolean): string {
  const [a, b, c] = args;
  const int = type === "int";
  switch (fn) {
    case "abs": return int ? `abs(${a})` : `fabsf(${a})`;
    case "min": return args.reduce((x, y) => `${int ? "min" : "fminf"}(${x}, ${y})`);
    case "max": return args.reduce((x, y) => `${int ? "max" : "fmaxf"}(${x}, ${y})`);
    case "clamp": return int ? `min(max(${a}, ${b}), ${c})` : `fminf(fmaxf(${a}, ${b}), ${c})`;
    case "tanh": return fast ? `attnc_tanh_fast(${a})` : `tanhf(${a})`;
    case "sigmoid": return fast ? `fmaf(0.5f, attnc_tanh_fast(0.5f * (${a})), 0.5f)` : `(1.0f / (1.0f + expf(-(${a}))))`;
    // Truncation toward zero, saturating, NaN to 0: the rules of a float stored to i32 (prelude.ts).
    case "i32": return `attnc_to_int(${a})`;
    default: return `${fn}f(${a})`;
  }
}

/** The CUDA dialect; `loads` collects the tensors whose loaders (ld_N, cuda/index.ts) it prints. */
export function cudaDialect(names: CudaNames, options: { fastMath?: boolean; loads?: Set<string> } = {}): Dialect {
  return {
    float: "float",
    int: "int",
    bool: "bool",
    floatLiteral,
    intLiteral: (v) => (v < 0 ? `(${v})` : `${v}`),
    toFloat: (c) => `((float)${c})`,
    call: (fn, args, type) => call(fn, args, type, options.fastMath === true),
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
