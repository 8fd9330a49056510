// Schedule stage (WGSL): the fused kernel's tile shape, chosen from the head dims, the storage of Q, K and V, and the
// device's workgroup memory; pure, printed by emit/wgsl/fused.ts as it finds it.
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
import { fixAtCompileTime, showExtent } from "../check/typed.js";
import type { DType } from "../syntax/ast.js";
import type { FusedStage } from "../plan/plan.js";
import type { ChainStorage, Storage, TileForm, WgslFusedSchedule, WgslTile } from "./types.js";

export type { ChainStorage, TileForm } from "./types.js";
/** The tile shape; the record's fields without target, kind and output. */
export type TileShape = WgslTile;

/** How a tensor is stored: f16 and bf16 inputs two to a u32 word; everything written is f32 or i32. */
export const storageOf = (dtype: DType, written: boolean): Storage =>
  dtype === "i32" ? "i32" : written || dtype === "f32" ? "f32" : dtype === "f16" ? "f16x2" : "bf16x2";

/** Invocations a workgroup of the naive kernels (one an element). */
export const elementsPerWorkgroup = 256;
/** Invocations a workgroup every WebGPU device offers (maxComputeInvocationsPerWorkgroup's default). */
export const maxWgslThreads = 256;

export type WgslLimits = {
  /** maxComputeWorkgroupStorageSize of the device the kernel will run on (16 KiB, which every device offers, by default). */
  readonly maxWorkgroupStorageBytes: number;
};

export const defaultLimits: WgslLimits = { maxWorkgroupStorageBytes: 16384 };

export const f32Storage: ChainStorage = { q: "f32", k: "f32", v: "f32", pInUnitRange: false };

/** Room left for the few workgroup scalars the kernel passes through workgroupUniformLoad. */
const uniformBytes = 64;

// Largest first; tiles stay within 64 so that a tile spans at most two granules of the run-time tile tables.
export const wgslCandidates: readonly [number, number][] = [[64, 64], [64, 32], [32, 64], [32, 32], [32, 16], [16, 16], [16, 8], [8, 8]];

export const formOf = (s: Storage, packed: boolean): TileForm => (packed && (s === "f16x2" || s === "bf16x2") ? s : "f32");
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
export const pFormAsAsked = (s: TileShape, packedP: boolean) => (s.forms.p === "f16x2") === packedP;

/**
 * The largest tile that fits, or undefined where none does (the kernel then runs the naive plan). Where the storage
 * is not known yet, tiles are counted as f32 (a packed tile never takes more).
 */
export function chooseTileShape(d: number, dv: number, limits: WgslLimits = defaultLimits, known?: ChainStorage, maxThreads = maxWgslThreads): TileShape | undefined {
  const storage = known ?? f32Storage;
  // Most invocations first (occupancy), then P in f32, then K and V in arrays of their own (one barrier fewer), then
  // taller tiles.
  const fitting = [false, true].flatMap((packedP) =>
    [false, true].flatMap((shareKV) =>
      wgslCandidates
        .map(([blockQ, blockK]) => shapeFor(blockQ, blockK, shareKV, d, dv, storage, true, packedP))
        .filter((s) => pFormAsAsked(s, packedP) && s.threads <= maxThreads && s.bytes <= limits.maxWorkgroupStorageBytes),
    ),
  );
  const rank = (s: TileShape) => Number(s.forms.p !== "f32");
  fitting.sort((a, b) => b.threads - a.threads || rank(a) - rank(b) || Number(a.shareKV) - Number(b.shareKV) || b.blockQ - a.blockQ);
  return fitting[0];
}

/** How the stage's Q, K and V are stored (f32 where unknown), and whether P is a softmax. */
export const chainStorage = (stage: FusedStage, storage?: (tensor: string) => Storage): ChainStorage | undefined => {
  const c = stage.chain;
  return storage && { q: storage(c.q.tensor), k: storage(c.k.tensor), v: storage(c.v.tensor), pInUnitRange: c.normalizer.kind === "softmax" };
};

/** The fused stage's default tile; without the storage of Q, K and V, counted as f32 (packed tiles take no more). */
export function fusedShape(stage: FusedStage, limits: WgslLimits, storage?: (tensor: string) => Storage): TileShape | undefined {
  const c = stage.chain;
  if (c.headVar.extent.kind !== "const" || c.valueVar.extent.kind !== "const") return undefined;
  return chooseTileShape(c.headVar.extent.value, c.valueVar.extent.value, limits, chainStorage(stage, storage));
}

/** Why the fused WGSL kernel cannot run this stage (undefined where it can). */
export function fusedUnsupportedReason(stage: FusedStage, limits: WgslLimits = defaultLimits): string | undefined {
  const c = stage.chain;
  for (const x of [c.headVar, c.valueVar]) {
    if (x.extent.kind !== "const") return `the head dim \`${x.name}\` has the run-time extent \`${showExtent(x.extent)}\`; the fused WGSL kernel needs it fixed at compile time (${fixAtCompileTime(x.extent)})`;
  }
  if (fusedShape(stage, limits) === undefined) return `no tile of the fused WGSL kernel fits ${limits.maxWorkgroupStorageBytes} bytes of workgroup memory at these head dims`;
  return undefined;
}

/** The default record of a fused stage the WGSL kernel can run, with the storage its tensors have. */
export function chooseWgsl(stage: FusedStage, limits: WgslLimits, storage: (tensor: string) => Storage): WgslFusedSchedule | undefined {
  const shape = fusedShape(stage, limits, storage);
  return shape && { target: "wgsl", kind: "fused", output: stage.chain.output.name, ...shape };
}
