// Emit stage (WGSL): how WGSL spells the IR's literals, calls, loads and names.
import type { Dialect, LoadExpr } from "../expr.js";
import { nameText } from "../names.js";
import type { MathFn, RefName, ValueType } from "../../check/typed.js";

const largestFloat = 3.4028234663852886e38;

/**
 * An f32 literal. Infinities and the extremes come from bits through a function call: WGSL evaluates constant
 * expressions at shader creation and rejects any that is not a finite f32.
 */
export const wgslFloat = (v: number): string => {
  const f = Math.fround(v);
  if (f === Infinity) return "attnc_f32(0x7f800000u)";
  if (f === -Infinity) return "attnc_f32(0xff800000u)";
  if (Number.isNaN(f)) return "attnc_f32(0x7fc00000u)";
  if (f === largestFloat) return "attnc_f32(0x7f7fffffu)";
  if (f === -largestFloat) return "attnc_f32(0xff7fffffu)";
  const text = Number.isInteger(f) && Math.abs(f) < 1e15 ? `${Math.abs(f)}.0` : Math.abs(f).toPrecision(9);
  return f < 0 || Object.is(f, -0) ? `(-${text}f)` : `${text}f`;
};

export const wgslInt = (v: number): string => (v === -2147483648 ? "i32(-2147483647 - 1)" : v < 0 ? `(${v}i)` : `${v}i`);

const fold = (fn: string, args: readonly string[]) => args.reduce((x, y) => `${fn}(${x}, ${y})`);

/**
 * User names in WGSL, by kind: a tensor's binding `t_`, loader `ld_` and store `st_`, a size's function `size_`, a
 * scalar's `scalar_`, an index variable `ix_` (expr.ts), each followed by the name text (names.ts), which never
 * begins with `_` (WGSL reserves `__`) and, after its prefix, is no keyword. No identifier the WGSL printers
 * generate begins with one of these prefixes (test/emit/names.test.ts).
 */
export const wgslUserPrefixes = ["t_", "ld_", "st_", "size_", "scalar_", "ix_"] as const;
export const tensorIdentifier = (name: string): string => nameText(name);
export const sizeFunction = (name: string): string => `size_${nameText(name)}`;
export const scalarFunction = (name: string): string => `scalar_${nameText(name)}`;

/**
 * A value as a store to a tensor of i32 elements (`toInt`) or of floats takes it. A float goes to i32 through
 * attnc_to_i32, as `i32(x)` does (truncation toward zero, saturating at the i32 range, NaN to 0: docs/language.md):
 * WGSL's own i32() of a NaN or out-of-range f32 is the implementation's choice. CUDA's attnc_store does the same
 * through attnc_to_int (cuda/prelude.ts).
 */
export function storedValue(code: string, type: ValueType, toInt: boolean): string {
  if (type === "bool") return toInt ? `select(0i, 1i, ${code})` : `select(0.0f, 1.0f, ${code})`;
  if (type === "float" && toInt) return `attnc_to_i32(${code})`;
  if (type === "int" && !toInt) return `f32(${code})`;
  return code;
}

/** The tensors a stage's code names: through their loader, their store, or their words directly (fast tile loads). */
export type TensorUses = { readonly loads: Set<string>; readonly stores: Set<string>; readonly words: Set<string> };
export const noTensorUses = (): TensorUses => ({ loads: new Set(), stores: new Set(), words: new Set() });

/** The WGSL dialect, recording in `uses` the tensors whose loaders it prints. */
export const recordingDialect = (uses: TensorUses): Dialect => ({
  ...wgslDialect,
  load: (e, indices) => {
    uses.loads.add(e.tensor);
    return wgslDialect.load(e, indices);
  },
});

export const wgslDialect: Dialect = {
  float: "f32",
  int: "i32",
  bool: "bool",
  floatLiteral: wgslFloat,
  intLiteral: wgslInt,
  toFloat: (c) => `f32(${c})`,
  // WGSL's built-ins have the language's names (exp, log2, floor, abs, ...), but for these.
  call: (fn: MathFn, args: readonly string[]) => {
    const [a, b, c] = args;
    switch (fn) {
      case "rsqrt": return `inverseSqrt(${a})`;
      // Vulkan drivers may compute tanh as a quotient of exponentials, NaN for large arguments; tanh(15) rounds to 1 in f32.
      case "tanh": return `tanh(clamp(${a}, -15.0f, 15.0f))`;
      case "sigmoid": return `(1.0f / (1.0f + exp(-(${a}))))`;
      case "min": return fold("min", args);
      case "max": return fold("max", args);
      case "clamp": return `min(max(${a}, ${b}), ${c})`;
      case "i32": return `attnc_to_i32(${a})`;
      default: return `${fn}(${a})`;
    }
  },
  select: (c, a, b) => `select(${b}, ${a}, ${c})`,
  intDiv: (a, b) => `attnc_div(${a}, ${b})`,
  intMod: (a, b) => `attnc_mod(${a}, ${b})`,
  load: (e: LoadExpr, indices: readonly string[]) => `ld_${tensorIdentifier(e.tensor)}(${indices.join(", ")})`,
  size: (name) => `${sizeFunction(name)}()`,
  scalar: (name) => `${scalarFunction(name)}()`,
  ref: (name: RefName) => `r_${name}`,
  declare: (name, type, value) => `var ${name}: ${type === "float" ? "f32" : type === "int" ? "i32" : "bool"} = ${value};`,
  forLoop: (v, extent) => `for (var ${v}: i32 = 0i; ${v} < ${extent}; ${v}++)`,
};
