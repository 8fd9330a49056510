// Emit stage (WGSL): the fused kernel's tile shape, chosen from the head dims, the storage of Q, K and V, and the
// device's workgroup memory.
//
// A workgroup owns blockQ query rows and walks blockK keys at a time. Each invocation owns 4 consecutive query
// rows and 4 keys of the score tile (strided by the invocations of a row, so that neighbours read neighbouring
// K rows) and the same 4 rows of the output, 4 columns at a time, interleaved the same way. Workgroup memory
// holds Q and K (row-major, 4 elements along the head dim a slot, K rows padded by one slot against bank
// conflicts), V, P (transposed, padded likewise) and a small table for row maxima and sums; with `shareKV`, K and
// V take turns in one array. A tensor stored as packed halves (f16x2, bf16x2) keeps its tile packed, a vec2u of
// two words a slot, copied from global memory as it is and unpacked where it is read: half the bytes of a vec4f
// slot, so larger tiles (more invocations) fit. Where V is stored as halves, P may be rounded to f16 too (as
// FlashAttention does), but only where that buys more invocations.
import type { Storage } from "./layout.js";

export type WgslLimits = {
  /** maxComputeWorkgroupStorageSize of the device the kernel will run on (16 KiB, which every device offers, by default). */
  readonly maxWorkgroupStorageBytes: number;
  /**
   * Force a tile shape (benchmarks); it must fit the limit. `packed: false` keeps every tile as f32 even where the
   * storage is packed; `packedP` rounds P to f16 (V must be stored as halves).
   */
  readonly tile?: { readonly blockQ: number; readonly blockK: number; readonly shareKV?: boolean; readonly packed?: boolean; readonly packedP?: boolean };
};

export const defaultLimits: WgslLimits = { maxWorkgroupStorageBytes: 16384 };

/**
 * How the Q, K and V tensors the fused stage reads are stored (f32 where unknown), and whether P lies in [0, 1]
 * (a softmax), so that f16 can hold it.
 */
export type ChainStorage = { readonly q: Storage; readonly k: Storage; readonly v: Storage; readonly pInUnitRange: boolean };

export const f32Storage: ChainStorage = { q: "f32", k: "f32", v: "f32", pInUnitRange: false };

/** How a tile holds its elements in workgroup memory: f32 in a vec4f slot, or packed halves in a vec2u slot. */
export type TileForm = "f32" | "f16x2" | "bf16x2";

export type TileShape = {
  readonly blockQ: number;
  readonly blockK: number;
  /** Invocations along the query rows (blockQ / 4) and along the keys (blockK / 4). */
  readonly rowGroups: number;
  readonly colGroups: number;
  readonly threads: number;
  /** The value dim rounded up so that every invocation of a row owns the same number of vec4 columns. */
  readonly paddedDv: number;
  /** The head dim rounded up to a multiple of 4 (vec4 loads along it). */
  readonly paddedD: number;
  readonly vec4PerThread: number;
  readonly shareKV: boolean;
  /** The form of each tile in workgroup memory (P: f32, or f16 packed). */
  readonly forms: { readonly q: TileForm; readonly k: TileForm; readonly v: TileForm; readonly p: "f32" | "f16x2" };
  readonly bytes: number;
};

/** Room left for the few workgroup scalars the kernel passes through workgroupUniformLoad. */
const uniformBytes = 64;

// Largest first; tiles stay within 64 so that a tile spans at most two granules of the run-time tile tables.
const candidates: readonly [number, number][] = [[64, 64], [64, 32], [32, 64], [32, 32], [32, 16], [16, 16], [16, 8], [8, 8]];

const formOf = (s: Storage, packed: boolean): TileForm => (packed && (s === "f16x2" || s === "bf16x2") ? s : "f32");
/** Bytes of a slot of 4 elements. */
const slotBytes = (f: TileForm) => (f === "f32" ? 16 : 8);

export function shapeFor(
  blockQ: number, blockK: number, shareKV: boolean, d: number, dv: number, storage: ChainStorage = f32Storage, packed = true, packedP = false,
): TileShape {
  const rowGroups = blockQ / 4;
  const colGroups = blockK / 4;
  const vec4PerThread = Math.max(1, Math.ceil(dv / (4 * colGroups)));
  const paddedDv = vec4PerThread * 4 * colGroups;
  const paddedD = Math.ceil(d / 4) * 4;
  // K and V take turns in one array only in one form: f32 where their storage differs.
  const [kForm, vForm] = [formOf(storage.k, packed), formOf(storage.v, packed)];
  const [k4, v4] = shareKV && kForm !== vForm ? ["f32" as const, "f32" as const] : [kForm, vForm];
  const forms = { q: formOf(storage.q, packed), k: k4, v: v4, p: packedP && v4 !== "f32" && storage.pInUnitRange ? "f16x2" as const : "f32" as const };
  const q = (blockQ * paddedD / 4) * slotBytes(forms.q);
  const k = (blockK * (paddedD / 4 + 1)) * slotBytes(forms.k);
  const v = (blockK * paddedDv / 4) * slotBytes(forms.v);
  const p = (blockK * (blockQ / 4 + 1)) * slotBytes(forms.p);
  const rowTable = blockQ * colGroups * 4;
  const bytes = q + (shareKV ? Math.max(k, v) : k + v) + p + rowTable + uniformBytes;
  return { blockQ, blockK, rowGroups, colGroups, threads: rowGroups * colGroups, paddedDv, paddedD, vec4PerThread, shareKV, forms, bytes };
}

/** P is rounded only where asked and possible (the other candidate keeps it f32). */
const valid = (s: TileShape, packedP: boolean) => (s.forms.p === "f16x2") === packedP;

/**
 * The largest tile that fits, or undefined where none does (the kernel then runs the naive plan). Where the storage
 * is not known yet, tiles are counted as f32 (a packed tile never takes more), and a forced tile as packed (the
 * emitter checks it again with the storage).
 */
export function chooseTileShape(d: number, dv: number, limits: WgslLimits = defaultLimits, known?: ChainStorage, maxThreads = 256): TileShape | undefined {
  const storage = known ?? f32Storage;
  if (limits.tile !== undefined) {
    const t = limits.tile;
    if (known === undefined) return chooseTileShape(d, dv, limits, { q: "f16x2", k: "f16x2", v: "f16x2", pInUnitRange: true }, maxThreads);
    const shape = shapeFor(t.blockQ, t.blockK, t.shareKV ?? false, d, dv, storage, t.packed ?? true, t.packedP ?? false);
    return valid(shape, t.packedP ?? false) && shape.bytes <= limits.maxWorkgroupStorageBytes ? shape : undefined;
  }
  // Most invocations first (occupancy), then P in f32, then K and V in arrays of their own (one barrier fewer), then
  // taller tiles.
  const fitting = [false, true].flatMap((packedP) =>
    [false, true].flatMap((shareKV) =>
      candidates
        .map(([blockQ, blockK]) => shapeFor(blockQ, blockK, shareKV, d, dv, storage, true, packedP))
        .filter((s) => valid(s, packedP) && s.threads <= maxThreads && s.bytes <= limits.maxWorkgroupStorageBytes),
    ),
  );
  const rank = (s: TileShape) => Number(s.forms.p !== "f32");
  fitting.sort((a, b) => b.threads - a.threads || rank(a) - rank(b) || Number(a.shareKV) - Number(b.shareKV) || b.blockQ - a.blockQ);
  return fitting[0];
}
