// Interpreter support: deterministic random inputs for a checked kernel, and comparing results with the reference.
import { extentValueOf, type CheckedKernel, type Extent } from "../check/typed.js";
import type { DType } from "../syntax/ast.js";
import { own, setOwn } from "../records.js";

export { rng } from "../random.js";

/** Sorted ids along rows of `last` elements (document ids): each element starts a new id with probability `p`. */
export function documentIds(count: number, last: number, random: () => number, p: number): Float64Array {
  const a = new Float64Array(count);
  for (let r = 0; r < count / last; r++) {
    let id = 0;
    for (let x = 0; x < last; x++) {
      if (random() < p) id++;
      a[r * last + x] = id;
    }
  }
  return a;
}

/**
 * Random, never all-zero inputs: floats in about [-2, 2] (scaled), integers sorted per row (document ids) or lengths.
 * Sizes and scalars are read, and the arguments written, as own properties (a tensor may be named `__proto__`).
 */
export function randomArgs(k: CheckedKernel, sizes: Record<string, number>, random: () => number, options: { scale?: number; scalars?: Record<string, number> } = {}) {
  const ext = (e: Extent) => extentValueOf(e, (name) => own(sizes, name)!);
  const args: Record<string, Float64Array | number> = {};
  for (const t of k.inputs) {
    const dims = t.dims.map(ext);
    const count = dims.reduce((a, b) => a * b, 1);
    if (t.dtype !== "i32") {
      setOwn(args, t.name, Float64Array.from({ length: count }, () => (random() * 4 - 2) * (options.scale ?? 1)));
    } else if (dims.length >= 2) {
      setOwn(args, t.name, documentIds(count, dims[dims.length - 1], random, 0.1));
    } else {
      const limit = Math.max(...Object.values(sizes), 1);
      // The first length is 0 (a fully padded batch) where there are others to see.
      setOwn(args, t.name, Float64Array.from({ length: count }, (_, x) => (x === 0 && count > 1 ? 0 : Math.floor(random() * (limit + 1)))));
    }
  }
  for (const s of k.scalars) {
    const given = options.scalars === undefined ? undefined : own(options.scalars, s.name);
    setOwn(args, s.name, given ?? (s.dtype === "i32" ? 1 + Math.floor(random() * 20) : 0.25 + random()));
  }
  return args;
}

/** Largest |a - b| relative to the largest |b| (and exactness where b is exactly 0 or infinite). */
export function compare(got: ArrayLike<number>, want: ArrayLike<number>): { maxRel: number; zeroMismatches: number; nan: number } {
  let scale = 1e-30;
  for (let x = 0; x < want.length; x++) if (Number.isFinite(want[x])) scale = Math.max(scale, Math.abs(want[x]));
  let maxRel = 0;
  let zeroMismatches = 0;
  let nan = 0;
  for (let x = 0; x < want.length; x++) {
    if (Number.isNaN(got[x])) nan += Number.isNaN(want[x]) ? 0 : 1;
    else if (!Number.isFinite(want[x]) || want[x] === 0) zeroMismatches += got[x] === want[x] ? 0 : 1;
    else maxRel = Math.max(maxRel, Math.abs(got[x] - want[x]) / scale);
  }
  return { maxRel, zeroMismatches, nan };
}

/** The largest error, relative to the largest |reference| of an output, that a kernel storing that type may make. */
export const storageTolerance: Readonly<Record<DType, number>> = { f32: 1e-4, f16: 4e-3, bf16: 2e-2, i32: 0 };

/** No NaN, zeros and infinities exact, and the rest within the storage type's tolerance. */
export const withinTolerance = (cmp: ReturnType<typeof compare>, dtype: DType): boolean =>
  cmp.nan === 0 && cmp.zeroMismatches === 0 && cmp.maxRel <= storageTolerance[dtype];
