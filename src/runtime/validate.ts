// Runtime: every argument of createRunner and of a run checked before the GPU is touched, with errors that name it.
// Wrong kinds of values are TypeErrors, values out of range (lengths, sizes, limits) RangeErrors.
import { maxDispatch, type Manifest, type ManifestTensor, type StageDispatch, type WebGpuLayout } from "../manifest.js";
import { elementsPerWorkgroup } from "../schedule/choose-wgsl.js";
import { didYouMean } from "../diagnostics/diagnostic.js";
import { hasOwn, own, setOwn } from "../records.js";

/** The device limits a run must stay within. */
export type RunLimits = { readonly maxStorageBufferBindingSize: number; readonly maxBufferSize: number };

const i32Min = -(2 ** 31);
const i32Max = 2 ** 31 - 1;

/** A value in words for an error message: `the string "19"`, `null`, `a Uint8Array of 4 elements`. */
export function describe(x: unknown): string {
  if (x === null) return "null";
  if (x === undefined) return "undefined";
  if (typeof x === "string") return `the string ${JSON.stringify(x.length > 40 ? `${x.slice(0, 40)}...` : x)}`;
  if (typeof x === "number") return `the number ${x}`;
  if (typeof x === "bigint") return `the bigint ${x}n`;
  if (typeof x === "boolean") return `the boolean ${x}`;
  if (typeof x === "function") return "a function";
  if (typeof x === "symbol") return "a symbol";
  if (Array.isArray(x)) return `an array of ${x.length} elements`;
  if (ArrayBuffer.isView(x)) return `${article(x.constructor.name)}${"length" in x ? ` of ${(x as unknown as ArrayLike<unknown>).length} elements` : ""}`;
  const name = Object.getPrototypeOf(x)?.constructor?.name;
  return name && name !== "Object" ? article(name) : "an object";
}

/** "a Float32Array", "an Int32Array". */
const article = (name: string) => `${/^[AEIO]/.test(name) ? "an" : "a"} ${name}`;

const isRecord = (x: unknown): x is Record<string, unknown> => typeof x === "object" && x !== null && !Array.isArray(x) && !ArrayBuffer.isView(x);

const unknownName = (what: string, name: string, known: readonly string[]) => {
  const hint = didYouMean(name, known);
  return `unknown ${what} \`${name}\`${hint ? `: ${hint}` : ""} (${known.length > 0 ? `the kernel's ${what}s: ${known.join(", ")}` : `the kernel takes no ${what}s`})`;
};

/** createRunner's options: `{ device?: GPUDevice, guardWords?: number }`. */
export function checkOptions(options: unknown): void {
  if (options === undefined) return;
  if (!isRecord(options)) throw new TypeError(`createRunner: options must be an object ({ device?: GPUDevice }), got ${describe(options)}`);
  const known = ["device", "guardWords"];
  for (const name of Object.keys(options)) if (!known.includes(name)) throw new TypeError(`createRunner: ${unknownName("option", name, known)}`);
  const device = options.device;
  if (device !== undefined) {
    const d = device as Partial<GPUDevice>;
    if (!isRecord(device) || typeof d.createBuffer !== "function" || typeof d.queue !== "object" || typeof d.limits !== "object") {
      throw new TypeError(`createRunner: options.device must be a GPUDevice (from requestDevice() or adapter.requestDevice()), got ${describe(device)}`);
    }
  }
  const guard = options.guardWords;
  if (guard !== undefined && (typeof guard !== "number" || !Number.isSafeInteger(guard) || guard < 0 || guard > 2 ** 20)) {
    throw new (typeof guard === "number" ? RangeError : TypeError)(`createRunner: options.guardWords must be an integer from 0 to 2^20, got ${describe(guard)}`);
  }
}

/** createRunner's kernel: `{ manifest, wgsl?, plan? }`. */
export function checkKernel(kernel: unknown): void {
  if (!isRecord(kernel)) throw new TypeError(`createRunner: the kernel must be an object { manifest, wgsl } (as compile() returns, or NAME.json and NAME.wgsl), got ${describe(kernel)}`);
  const m = kernel.manifest as Partial<Manifest> | undefined;
  if (!isRecord(m) || typeof m.name !== "string" || !Array.isArray(m.sizes) || !Array.isArray(m.tensors) || !Array.isArray(m.scalars) || !isRecord(m.defines)) {
    throw new TypeError(`createRunner: kernel.manifest must be a kernel's manifest (NAME.json), got ${describe(kernel.manifest)}`);
  }
  if (kernel.wgsl !== undefined && typeof kernel.wgsl !== "string") throw new TypeError(`createRunner: kernel.wgsl must be the WGSL text, got ${describe(kernel.wgsl)}`);
}

// Sizes, inputs and defines are read through own properties only: a size or tensor may be named `__proto__` or `toString`.
/** A manifest dim's value: a number, a size or const name, or a product of them written `HKV*G`. */
const dimValue = (x: string | number, manifest: Manifest, sizes: Readonly<Record<string, number>>): number =>
  typeof x === "number" ? x : x.split("*").reduce((n, f) => n * (/^[0-9]+$/.test(f) ? Number(f) : own(sizes, f) ?? own(manifest.defines, f)!), 1);

const showDims = (t: ManifestTensor, dims: readonly number[]) => `[${t.dims.map((x, k) => (typeof x === "number" ? `${x}` : `${x}=${dims[k]}`)).join(", ")}]`;

/** The sizes of a run, each a number, an integer, from 0 to 2^31 - 1; none missing and none unknown. */
function checkSizes(manifest: Manifest, sizes: unknown): Record<string, number> {
  const name = manifest.name;
  if (!isRecord(sizes)) throw new TypeError(`${name}: sizes must be an object of sizes by name, e.g. { ${manifest.sizes.map((s) => `${s}: 64`).join(", ")} }, got ${describe(sizes)}`);
  for (const s of Object.keys(sizes)) {
    if (manifest.sizes.includes(s)) continue;
    if (hasOwn(manifest.defines, s)) throw new TypeError(`${name}: \`${s}\` is a compile-time const (${own(manifest.defines, s)}), not a run-time size: recompile with --define ${s}=... to change it`);
    throw new TypeError(`${name}: ${unknownName("size", s, manifest.sizes)}`);
  }
  const out: Record<string, number> = {};
  for (const s of manifest.sizes) {
    const v = own(sizes, s);
    if (v === undefined) throw new TypeError(`${name}: size \`${s}\` is missing (the kernel's sizes: ${manifest.sizes.join(", ")})`);
    if (typeof v !== "number") throw new TypeError(`${name}: size \`${s}\` must be a number, got ${describe(v)}`);
    if (!Number.isInteger(v) || v < 0 || v > i32Max) throw new RangeError(`${name}: size \`${s}\` must be a non-negative integer below 2^31, got ${v}`);
    setOwn(out, s, v);
  }
  return out;
}

/**
 * A tensor's values: a Float32Array (f32, f16, bf16) or Int32Array (i32) as they are; or a Float64Array or an array
 * of numbers, whose every element must then be a number (NaN and infinities included, docs/language.md §7 says what
 * they give) or, for i32, an integer in the i32 range.
 */
function checkTensor(manifest: Manifest, t: ManifestTensor, value: unknown, want: number, dims: readonly number[], sizes: Readonly<Record<string, number>>): void {
  const label = `${manifest.name}: tensor \`${t.name}\``;
  const native = t.dtype === "i32" ? Int32Array : Float32Array;
  const expected = `${article(native.name)} (or a Float64Array or array of ${t.dtype === "i32" ? "integers" : "numbers"})`;
  if (value === undefined) throw new TypeError(`${label} is missing (${t.dtype}${showDims(t, dims)}: ${expected} of ${want} elements)`);
  const ok = value instanceof native || value instanceof Float64Array || Array.isArray(value) || (t.dtype === "i32" && value instanceof Float32Array);
  if (!ok) throw new TypeError(`${label} must be ${expected}, got ${describe(value)}`);
  const values = value as ArrayLike<unknown>;
  if (values.length !== want) {
    throw new RangeError(`${label} has ${values.length} elements, but ${t.dtype}${showDims(t, dims)} needs ${want}: check the sizes (${manifest.sizes.map((s) => `${s}=${own(sizes, s)}`).join(", ")}) against the buffer`);
  }
  if (value instanceof native) return;
  for (let x = 0; x < values.length; x++) {
    const v = values[x];
    const good = typeof v === "number" && (t.dtype !== "i32" || (Number.isInteger(v) && v >= i32Min && v <= i32Max));
    if (!good) throw new TypeError(`${label}: element ${x} must be ${t.dtype === "i32" ? "an integer in the i32 range" : "a number"} (or pass ${article(native.name)}), got ${describe(v)}`);
  }
}

function checkScalar(manifest: Manifest, s: Manifest["scalars"][number], x: unknown): void {
  const label = `${manifest.name}: scalar \`${s.name}\` (${s.dtype})`;
  if (typeof x !== "number") throw new TypeError(`${label} must be a number${x === undefined ? ", and is missing" : `, got ${describe(x)}`}`);
  if (s.dtype === "i32" && !(Number.isInteger(x) && x >= i32Min && x <= i32Max)) throw new RangeError(`${label} must be an integer from -2^31 to 2^31 - 1, got ${x}`);
}

/** The workgroups a stage dispatches ([x, y]), undefined where it has nothing to do; a RangeError past the limits. */
export function dispatchSize(d: StageDispatch, manifest: Manifest, sizes: Readonly<Record<string, number>>): [number, number] | undefined {
  const show = (dims: readonly (string | number)[]) => dims.filter((x) => typeof x === "string").map((x) => `${x}=${dimValue(x, manifest, sizes)}`).join(", ");
  if (d.kind === "elements") {
    const total = d.dims.reduce<number>((n, x) => n * dimValue(x, manifest, sizes), 1);
    if (total === 0) return undefined;
    const groups = Math.ceil(total / elementsPerWorkgroup);
    const x = Math.min(groups, maxDispatch);
    const y = Math.ceil(groups / x);
    if (y > maxDispatch) throw new RangeError(`${manifest.name}: ${total} elements (${show(d.dims)}) are more than one dispatch covers (${maxDispatch} x ${maxDispatch} workgroups of ${elementsPerWorkgroup})`);
    return [x, y];
  }
  const n = dimValue(d.query, manifest, sizes);
  const rows = d.rows.reduce<number>((a, x) => a * dimValue(x, manifest, sizes), 1);
  if (n === 0 || rows === 0) return undefined;
  const x = Math.ceil(n / d.blockQ);
  if (x > maxDispatch) {
    const size = typeof d.query === "string" ? `size \`${d.query}\` = ${n}` : `${n} queries`;
    throw new RangeError(`${manifest.name}: ${size} needs ${x} query tiles of ${d.blockQ}, more than a dispatch's ${maxDispatch} workgroups along x: at most ${maxDispatch * d.blockQ} queries a run`);
  }
  return [x, Math.min(rows, maxDispatch)];
}

/** Bytes of a buffer the runner creates for `words` 32-bit words (16-byte multiples, 16 at least). */
export const bufferBytes = (words: number) => Math.max(16, Math.ceil((words * 4) / 16) * 16);

/** Words of each buffer: its elements (f16 and bf16 inputs two to a word) and the guard regions. */
export function bufferWords(layout: WebGpuLayout, manifest: Manifest, sizes: Readonly<Record<string, number>>, guard: number) {
  return layout.buffers.map((b) => {
    const count = b.dims.reduce<number>((n, x) => n * dimValue(x, manifest, sizes), 1);
    const words = b.storage === "f16x2" || b.storage === "bf16x2" ? Math.ceil(count / 2) : count;
    return { binding: b, count, words, total: Math.max(1, words + 2 * guard) };
  });
}

/** A run's sizes (returned resolved), and what they ask of the device: buffer sizes and workgroups. */
export function checkRunSizes(manifest: Manifest, layout: WebGpuLayout, limits: RunLimits, guard: number, sizes: unknown): Record<string, number> {
  const name = manifest.name;
  const values = checkSizes(manifest, sizes);
  const most = Math.min(limits.maxStorageBufferBindingSize, limits.maxBufferSize);
  for (const b of bufferWords(layout, manifest, values, guard)) {
    const bytes = bufferBytes(b.total);
    if (bytes > most) {
      const t = manifest.tensors.find((x) => x.name === b.binding.name);
      const dims = b.binding.dims.map((x) => dimValue(x, manifest, values));
      const which = limits.maxStorageBufferBindingSize <= limits.maxBufferSize ? "maxStorageBufferBindingSize" : "maxBufferSize";
      throw new RangeError(`${name}: ${t ? `tensor` : "scratch buffer"} \`${b.binding.name}\` (${b.binding.dtype}${t ? showDims(t, dims) : `[${dims.join(", ")}]`}, ${b.count} elements) needs ${bytes} bytes, more than this device's ${which} (${most} bytes): lower the sizes`);
    }
  }
  for (const stage of layout.stages) dispatchSize(stage.dispatch, manifest, values);
  return values;
}

/**
 * Every argument of a run: its sizes (returned), what they ask of the device (buffer sizes, workgroups), then the
 * inputs. Throws before any GPU work.
 */
export function checkRun(manifest: Manifest, layout: WebGpuLayout, limits: RunLimits, guard: number, inputs: unknown, sizes: unknown): Record<string, number> {
  const name = manifest.name;
  const tensors = manifest.tensors.filter((t) => t.role === "input");
  const known = [...tensors.map((t) => t.name), ...manifest.scalars.map((s) => s.name)];
  if (!isRecord(inputs)) throw new TypeError(`${name}: inputs must be an object of tensors and scalars by name (${known.join(", ")}), got ${describe(inputs)}`);
  const values = checkRunSizes(manifest, layout, limits, guard, sizes);
  for (const input of Object.keys(inputs)) {
    if (known.includes(input)) continue;
    const isOutput = manifest.tensors.some((t) => t.name === input);
    throw new TypeError(`${name}: ${isOutput ? `\`${input}\` is an output, not an input (outputs are returned)` : `unknown input \`${input}\`${didYouMean(input, known) ? `: ${didYouMean(input, known)}` : ""} (the kernel takes ${known.join(", ") || "no inputs"})`}`);
  }
  for (const t of tensors) {
    const dims = t.dims.map((x) => dimValue(x, manifest, values));
    checkTensor(manifest, t, own(inputs, t.name), dims.reduce((a, b) => a * b, 1), dims, values);
  }
  for (const s of manifest.scalars) checkScalar(manifest, s, own(inputs, s.name));
  return values;
}
