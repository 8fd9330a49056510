// Emit stage (WGSL): the fused kernel's tile shape, chosen from the head dims and the device's workgroup memory.
//
// A workgroup owns blockQ query rows and walks blockK keys at a time. Each invocation owns 4 consecutive query
// rows and 4 keys of the score tile (strided by the invocations of a row, so that neighbours read neighbouring
// K rows) and the same 4 rows of the output, 4 columns at a time, interleaved the same way. Workgroup memory
// holds Q and K (row-major, vec4 along the head dim, K rows padded by one vec4 against bank conflicts), V,
// P (transposed, padded likewise) and a small table for row maxima and sums; with `shareKV`, K and V take
// turns in one array.

export type WgslLimits = {
  /** maxComputeWorkgroupStorageSize of the device the kernel will run on (16 KiB, which every device offers, by default). */
  readonly maxWorkgroupStorageBytes: number;
  /** Force a tile shape (benchmarks); it must fit the limit. */
  readonly tile?: { readonly blockQ: number; readonly blockK: number; readonly shareKV?: boolean };
};

export const defaultLimits: WgslLimits = { maxWorkgroupStorageBytes: 16384 };

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
  readonly bytes: number;
};

/** Room left for the few workgroup scalars the kernel passes through workgroupUniformLoad. */
const uniformBytes = 64;

// Largest first; tiles stay within 64 so that a tile spans at most two granules of the run-time tile tables.
const candidates: readonly [number, number][] = [[64, 64], [64, 32], [32, 32], [32, 16], [16, 16], [16, 8], [8, 8]];

export function shapeFor(blockQ: number, blockK: number, shareKV: boolean, d: number, dv: number): TileShape {
  const rowGroups = blockQ / 4;
  const colGroups = blockK / 4;
  const vec4PerThread = Math.max(1, Math.ceil(dv / (4 * colGroups)));
  const paddedDv = vec4PerThread * 4 * colGroups;
  const paddedD = Math.ceil(d / 4) * 4;
  const q = blockQ * paddedD;
  const k = blockK * (paddedD + 4);
  const v = blockK * paddedDv;
  const p = blockK * (blockQ + 4);
  const rowTable = blockQ * colGroups;
  const floats = q + (shareKV ? Math.max(k, v) : k + v) + p + rowTable;
  return { blockQ, blockK, rowGroups, colGroups, threads: rowGroups * colGroups, paddedDv, paddedD, vec4PerThread, shareKV, bytes: floats * 4 + uniformBytes };
}

/** The largest tile that fits, or undefined where none does (the kernel then runs the naive plan). */
export function chooseTileShape(d: number, dv: number, limits: WgslLimits = defaultLimits, maxThreads = 256): TileShape | undefined {
  if (limits.tile !== undefined) {
    const t = limits.tile;
    const shape = shapeFor(t.blockQ, t.blockK, t.shareKV ?? false, d, dv);
    return shape.bytes <= limits.maxWorkgroupStorageBytes ? shape : undefined;
  }
  // Most invocations first (occupancy), then K and V in arrays of their own (one barrier fewer), then taller tiles.
  const fitting = [false, true]
    .flatMap((shareKV) => candidates.map(([blockQ, blockK]) => shapeFor(blockQ, blockK, shareKV, d, dv)))
    .filter((s) => s.threads <= maxThreads && s.bytes <= limits.maxWorkgroupStorageBytes);
  fitting.sort((a, b) => b.threads - a.threads || Number(a.shareKV) - Number(b.shareKV) || b.blockQ - a.blockQ);
  return fitting[0];
}
