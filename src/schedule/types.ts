// Schedule stage: the schedule of a kernel plan as plain data, one record a stage and target (tile sizes, warps or
// warpgroups, pipeline stages, producer and consumer roles, residency, the mma flavour, value slices; WGSL's tile
// shape), chosen by choose-cuda.ts and choose-wgsl.ts, written into the manifest, printed by `explain`, and printed
// by the emitters as they find it.

/** How a tensor's elements are stored in WGSL: f16 and bf16 inputs two to a u32 word; everything written is f32 or i32. */
export type Storage = "f32" | "i32" | "f16x2" | "bf16x2";

export type CudaArch = "sm_80" | "sm_90a";

/** What every fused CUDA record has: the stage's output, the query rows and keys a tile, threads and shared memory a block. */
type CudaFusedBase = {
  readonly target: "cuda";
  readonly kind: "fused";
  readonly arch: CudaArch;
  /** The stage's output tensor (the attention chain's). */
  readonly output: string;
  readonly blockQ: number;
  readonly blockK: number;
  readonly threads: number;
  readonly smemBytes: number;
  /**
   * Bytes of K and V that a group of rows may keep in L2: the launch gives a group's query tiles neighbouring blocks
   * (printQueryTileLoop); 0 runs row after row.
   */
  readonly l2Budget: number;
};

/**
 * sm_90a, warpgroup matrix products (fused-wgmma.ts, fused-wgmma-ws.ts): `warpgroups` of 64 query rows each (the
 * consumers, where a producer warpgroup copies K/V for them through `stages` buffers); `overlap`: P V of one tile
 * overlaps the next tile's softmax; `pingpong`: two consumers take turns to issue their products; `persistent`: one
 * block an SM stays for the whole launch and takes query tiles from a counter of the launch's own.
 */
export type WgmmaSchedule = CudaFusedBase & {
  readonly path: "wgmma";
  readonly warpgroups: number;
  readonly overlap: boolean;
  readonly producer: boolean;
  readonly stages: number;
  readonly pingpong: boolean;
  readonly persistent: boolean;
};

/**
 * mma.sync m16n8k16 (fused-mma.ts): `warps` of `mTiles` 16-row m-tiles each; the block accumulates `valueSlice` of
 * the value columns, the grid's z the `valueSlices` of them.
 */
export type MmaSchedule = CudaFusedBase & {
  readonly path: "mma";
  readonly warps: number;
  readonly mTiles: number;
  readonly valueSlice: number;
  readonly valueSlices: number;
};

/** No tensor cores (fused-simt.ts): `lanes` threads a query row (blockQ rows, threads = blockQ x lanes). */
export type SimtSchedule = CudaFusedBase & { readonly path: "simt"; readonly lanes: number };

export type CudaFusedSchedule = WgmmaSchedule | MmaSchedule | SimtSchedule;
/** A naive stage: one thread an element, `threads` a block. */
export type CudaNaiveSchedule = { readonly target: "cuda"; readonly kind: "naive"; readonly output: string; readonly threads: number };
export type CudaStageSchedule = CudaFusedSchedule | CudaNaiveSchedule;

/** How a tile holds its elements in workgroup memory: f32 in a vec4f slot, or packed halves in a vec2u slot. */
export type TileForm = "f32" | "f16x2" | "bf16x2";

/**
 * The fused WGSL kernel's tile (choose-wgsl.ts): a workgroup owns blockQ query rows and walks blockK keys at a time,
 * one invocation a 4 x 4 block of scores; the rest follows from those, the head dims and the storage.
 */
export type WgslTile = {
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
  /** K and V take turns in one array. */
  readonly shareKV: boolean;
  /** The form of each tile in workgroup memory (P: f32, or f16 packed). */
  readonly forms: { readonly q: TileForm; readonly k: TileForm; readonly v: TileForm; readonly p: "f32" | "f16x2" };
  /** Workgroup memory the tile takes. */
  readonly bytes: number;
};

export type WgslFusedSchedule = { readonly target: "wgsl"; readonly kind: "fused"; readonly output: string } & WgslTile;
/** A naive stage: one invocation an element, `threads` a workgroup. */
export type WgslNaiveSchedule = { readonly target: "wgsl"; readonly kind: "naive"; readonly output: string; readonly threads: number };
export type WgslStageSchedule = WgslFusedSchedule | WgslNaiveSchedule;

/**
 * A target's schedule of a kernel: `plan` is the plan it schedules ("naive" where the kernel's plan is fused but the
 * target's fused kernel cannot run a stage: `fallback` says why), a record for each of that plan's stages.
 */
export type TargetSchedule<S> = { readonly plan: "fused" | "naive"; readonly stages: readonly S[]; readonly fallback?: string };
export type CudaSchedule = TargetSchedule<CudaStageSchedule> & { readonly arch: CudaArch };
export type WgslSchedule = TargetSchedule<WgslStageSchedule> & { readonly workgroupStorageLimit: number };

/**
 * Fields to pin in every fused stage's record, a target at a time (`compile(src, { tileSchedule })`, `--tile-schedule`):
 * for CUDA any of `path` and that path's fields, for WGSL blockQ, blockK, shareKV, packed (false: every tile f32)
 * and packedP (P rounded to f16). What an override cannot run is a diagnostic.
 */
export type TileScheduleOverride = {
  readonly cuda?: Readonly<Record<string, unknown>>;
  readonly wgsl?: Readonly<Record<string, unknown>>;
};

/** How the Q, K and V tensors a fused stage reads are stored, and whether P lies in [0, 1] (a softmax; f16 can hold it). */
export type ChainStorage = { readonly q: Storage; readonly k: Storage; readonly v: Storage; readonly pInUnitRange: boolean };
