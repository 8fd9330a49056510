// Emit stage (WGSL): what every module declares: the parameters, integer helpers, tensor bindings, loaders and stores.
import type { Extent, TensorInfo } from "../../check/typed.js";
import type { CodeWriter } from "../writer.js";
import { scalarFunction, sizeFunction, tensorIdentifier, wgslDialect } from "./dialect.js";
import { extentCode as sharedExtentCode } from "../expr.js";
import type { BufferBinding } from "../../manifest.js";
import { commentText } from "../names.js";

/** A dimension's value in WGSL: a literal, the run-time size, or their product. */
export const extentCode = (e: Extent): string => sharedExtentCode(e, wgslDialect);

/** `params[k / 4].xyzw[k % 4]`: the parameters live in a uniform array of vec4u (16-byte stride). */
const paramWord = (k: number): string => `params[${k >> 2}].${"xyzw"[k & 3]}`;

export function declareParams(w: CodeWriter, sizes: readonly string[], scalars: readonly { name: string; dtype: "f32" | "i32" }[]): number {
  const words = sizes.length + scalars.length;
  w.line(`@group(0) @binding(0) var<uniform> params: array<vec4u, ${Math.max(1, Math.ceil(words / 4))}>;`);
  sizes.forEach((s, k) => w.line(`fn ${sizeFunction(s)}() -> i32 { return bitcast<i32>(${paramWord(k)}); }`));
  scalars.forEach((s, k) => w.line(`fn ${scalarFunction(s.name)}() -> ${s.dtype} { return bitcast<${s.dtype}>(${paramWord(sizes.length + k)}); }`));
  return words;
}

/** The helpers every module declares (printed verbatim). */
export const wgslHelpers = String.raw`// Infinities and the f32 extremes come from bits at run time: WGSL's constant evaluation rejects infinities.
fn attnc_f32(bits: u32) -> f32 { return bitcast<f32>(bits); }
// Integer division and remainder round towards minus infinity, as in .attn; by zero they give 0.
fn attnc_div(a: i32, b: i32) -> i32 {
  if (b == 0i) { return 0i; }
  let q = a / b;
  return select(q, q - 1i, q * b != a && ((a < 0i) != (b < 0i)));
}
fn attnc_mod(a: i32, b: i32) -> i32 {
  if (b == 0i) { return 0i; }
  let r = a % b;
  return select(r, r + b, r != 0i && ((r < 0i) != (b < 0i)));
}
// An index clamped into [0, n): loads never leave their tensor, whatever the sizes.
fn attnc_index(x: i32, n: i32) -> i32 { return clamp(x, 0i, max(n - 1i, 0i)); }
// i32(x): truncation toward zero, saturating, NaN to 0. Decided on the bits: WGSL may assume no NaN or
// infinity in comparisons, and leaves an out-of-range conversion to the implementation.
fn attnc_to_i32(x: f32) -> i32 {
  let bits = bitcast<u32>(x);
  let magnitude = bits & 0x7fffffffu;
  if (magnitude > 0x7f800000u) { return 0i; }
  if (magnitude >= 0x4f000000u) { return select(2147483647i, i32(-2147483647 - 1), bits >= 0x80000000u); }
  return i32(x);
}
// bfloat16 is the high half of an f32.
fn attnc_bf16(word: u32, high: bool) -> f32 { return bitcast<f32>(select(word << 16u, word & 0xffff0000u, high)); }`;

const elementType = (b: BufferBinding) => (b.storage === "i32" ? "i32" : b.storage === "f32" ? "f32" : "u32");
export const valueType = (b: BufferBinding) => (b.dtype === "i32" ? "i32" : "f32");

/**
 * Where a tensor's words are: at `guard` words into its binding. Test builds (guard regions) place every tensor
 * inside a larger binding, so that an access past either end lands in a guard, where the runner finds it
 * (robust buffer access would otherwise clamp it into the tensor and hide it).
 */
export type Placement = { readonly guard: number };

/** The storage array's word at a u32 index. */
export const word = (b: BufferBinding, index: string, at: Placement): string =>
  at.guard > 0 ? `t_${tensorIdentifier(b.name)}[${at.guard}u + (${index})]` : `t_${tensorIdentifier(b.name)}[${index}]`;

/** The element at a u32 offset (a name or a parenthesised expression), as f32 (or i32): packed halves are unpacked. */
export function elementAt(b: BufferBinding, offset: string, at: Placement): string {
  switch (b.storage) {
    case "f32":
    case "i32":
      return word(b, offset, at);
    case "f16x2":
      return `unpack2x16float(${word(b, `${offset} >> 1u`, at)})[${offset} & 1u]`;
    case "bf16x2":
      return `attnc_bf16(${word(b, `${offset} >> 1u`, at)}, (${offset} & 1u) == 1u)`;
  }
}

/** Two elements from one u32 word of packed halves (word index), as a vec2f. */
export function pairAt(b: BufferBinding, index: string, at: Placement): string {
  const w = word(b, index, at);
  return b.storage === "f16x2" ? `unpack2x16float(${w})` : `vec2f(attnc_bf16(${w}, false), attnc_bf16(${w}, true))`;
}

/** The binding, and a loader `ld_NAME(indices) -> f32|i32` (every index clamped) and, if written, a store `st_NAME`. */
export function declareTensor(w: CodeWriter, b: BufferBinding, t: TensorInfo, uses: { load: boolean; store: boolean }, at: Placement): void {
  const id = tensorIdentifier(b.name);
  const access = b.role === "input" ? "read" : "read_write";
  w.line(`@group(0) @binding(${b.binding}) var<storage, ${access}> t_${id}: array<${elementType(b)}>;  // ${commentText(b.name)}: ${t.dtype}[${commentText(b.dims.join(", "))}]${b.storage.endsWith("x2") ? ", two to a word" : ""}`);
  const params = t.dims.map((_, x) => `x${x}: i32`);
  const flat = (clamp: boolean) =>
    t.dims.reduce<string>((acc, dim, x) => {
      const index = clamp ? `attnc_index(x${x}, ${extentCode(dim)})` : `x${x}`;
      return acc === "" ? index : `(${acc}) * ${extentCode(dim)} + ${index}`;
    }, "") || "0i";
  const type = valueType(b);
  if (uses.load) {
    w.block(`fn ld_${id}(${params.join(", ")}) -> ${type}`, () => {
      w.line(`let o = u32(${flat(true)});`);
      w.line(`return ${elementAt(b, "o", at)};`);
    });
  }
  if (uses.store) {
    w.line(`fn st_${id}(${[...params, `value: ${type}`].join(", ")}) { ${word(b, `u32(${flat(false)})`, at)} = value; }`);
  }
}
