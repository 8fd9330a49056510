// Schedule stage (CUDA): which fused kernel runs a stage (wgmma, mma.sync or SIMT) and its shape, chosen from the
// head dims, the dtypes, the chain and the arch; and the shared memory each shape takes. Pure: the emitters print
// the record this returns (emit/cuda/), the manifest and `explain` show it.
import type { AttentionChain } from "../fuse/chain.js";
import type { Expr } from "../check/typed.js";
import { fixAtCompileTime, showExtent } from "../check/typed.js";
import type { DType } from "../syntax/ast.js";
import { some } from "../graph/walk.js";
import { hoistScoreReads } from "../graph/hoist.js";
import type { FusedStage } from "../plan/plan.js";
import type { CudaArch, CudaFusedSchedule, MmaSchedule, SimtSchedule, WgmmaSchedule } from "./types.js";

/**
 * The most shared memory a fused kernel's block may ask for (past 48 KiB through cudaFuncSetAttribute at launch): the
 * opt-in maximum of sm_80 (A100, 163 KiB); sm_90 allows 227 KiB. Head dims whose tiles need more run a kernel with
 * smaller tiles, or the naive schedule (cudaFusedUnsupportedReason).
 */
export const maxSharedBytes = 166912;
/** sm_90's opt-in maximum, which the wgmma kernels may use. */
export const maxSharedBytesSm90 = 227 * 1024;
/** Static shared memory, beyond which a kernel asks for dynamic shared memory at launch. */
export const staticSharedBytes = 48 * 1024;
/** Measured on the H200, whose L2 holds 60 MB (bench/results/cuda-notes.md, step 16). */
export const defaultL2Budget = 8 << 20;
/** Threads a block of the naive kernels. */
export const naiveThreads = 256;

/** q and output elements a SIMT thread may hold in registers beside its scores (wide head dims). */
export const simtRegisterBudget = 80;

export type HeadDims = { readonly d: number; readonly dv: number };

/** The head dims where both are compile-time constants. */
export const constHeadDims = (stage: FusedStage): HeadDims | undefined => {
  const [d, dv] = [stage.chain.headVar.extent, stage.chain.valueVar.extent];
  return d.kind === "const" && dv.kind === "const" ? { d: d.value, dv: dv.value } : undefined;
};

/**
 * The value columns one block of the mma kernel accumulates: DV itself up to 256 (o[DV / 8][4], 128 registers a
 * thread at 256); a wider DV in the fewest equal slices of at most 256 columns, multiples of 16 and at least 64
 * (DV = 512: two of 256; 576: three of 192), each by a block of its own (blockIdx.z), which computes S = Q K^T and
 * the softmax for its slice again. Undefined where no such slicing exists (DV = 272: the SIMT kernel).
 */
export function mmaValueSlice(dv: number): number | undefined {
  if (dv % 16 !== 0) return undefined;
  if (dv <= 256) return dv;
  for (let slices = Math.ceil(dv / 256); dv / slices >= 64; slices++) {
    if ((dv / 16) % slices === 0) return dv / slices;
  }
  return undefined;
}

/** Shared memory of the mma kernel: the Q tile, a K tile and a V tile (the value slice), rows padded by 8 elements. */
export const mmaSmemBytes = (d: number, valueSlice: number, s: { readonly warps: number; readonly mTiles: number; readonly blockK: number }): number =>
  2 * (16 * s.mTiles * s.warps * (d + 8) + s.blockK * (d + 8) + s.blockK * (valueSlice + 8));

/** Shared memory of the SIMT kernel: sQ (one thread a row only), sK and sV, f32 rows padded by one. */
export const simtSmemBytes = (d: number, dv: number, s: { readonly blockQ: number; readonly blockK: number; readonly lanes: number }): number =>
  4 * ((s.lanes === 1 ? s.blockQ * (d + 1) : 0) + s.blockK * (d + 1) + s.blockK * (dv + 1));

type WgmmaShape = Pick<WgmmaSchedule, "warpgroups" | "blockK" | "overlap" | "producer" | "stages">;

/**
 * The shared memory of a wgmma kernel: `qStages` buffers of Q (`qBytes` in all), buffers of K (`kBytes` each) and of
 * V (`vBuffers` of `vBytes`), and the block's bytes (`smemBytes`).
 */
export type WgmmaSmem = {
  readonly smemBytes: number; readonly qStages: number; readonly qBytes: number; readonly kBytes: number; readonly vBytes: number; readonly vBuffers: number;
};

/**
 * Shared memory of the wgmma kernels. Without a producer: Q, two buffers of K, and two of V (three where P V of one
 * tile overlaps the next tile's scores). With one: Q_STAGES buffers of Q (two, so that the producer copies the next
 * query tile during this one, where they fit), `stages` buffers of K and of V, the mbarriers, the stages' tile codes
 * and the Q buffers' items. Both: 1024 bytes more to align the start to the swizzle pattern's period.
 */
export function wgmmaSmem(dims: HeadDims, s: WgmmaShape): WgmmaSmem {
  const BR = 64 * s.warpgroups;
  const qBytes = BR * dims.d * 2, kBytes = s.blockK * dims.d * 2, vBytes = s.blockK * dims.dv * 2;
  if (!s.producer) {
    const vBuffers = s.overlap ? 3 : 2;
    return { smemBytes: 1024 + qBytes + 2 * kBytes + vBuffers * vBytes, qStages: 1, qBytes, kBytes, vBytes, vBuffers };
  }
  const bytes = (qStages: number) => 1024 + qStages * qBytes + s.stages * (kBytes + vBytes) + 8 * (4 * s.stages + 2 * qStages) + 4 * s.stages + 8 * qStages;
  const qStages = bytes(2) <= maxSharedBytesSm90 ? 2 : 1;
  return { smemBytes: bytes(qStages), qStages, qBytes: qStages * qBytes, kBytes, vBytes, vBuffers: s.stages };
}

/**
 * Registers a thread after setmaxnreg, for a block of one producer and `consumerGroups` consumer warpgroups. The
 * block is launched with what ptxas gives each thread under __launch_bounds__(threads, 1) (the 64K register file
 * over the threads, down to a multiple of 8: 168 for 384 threads), and setmaxnreg.inc blocks until the registers it
 * asks for are free: the producer's and the consumers' share may not exceed the block's allocation, or the
 * consumers wait forever (the first device run of this kernel hung on 64 + 224 > 168 x 3). The producer, which
 * unrolls its copies 4 at a time, takes 56, or 72 where it classifies tiles from tables (document ids; 64 spilled
 * once it copied Q too, and 72 leaves two consumers the same 216): it spills below those, and ALiBi's consumers
 * spill at 216 (bench/results/cuda-notes.md, steps 22 and 26).
 */
export function wsRegisters(consumerGroups: number, tables = false): { readonly launch: number; readonly producer: number; readonly consumer: number } {
  const threads = 128 * (consumerGroups + 1);
  const launch = Math.floor(65536 / threads / 8) * 8;
  const producer = tables ? 72 : 56;
  const consumer = Math.min(256, Math.floor((launch * threads - 128 * producer) / (128 * consumerGroups) / 8) * 8);
  return { launch, producer, consumer };
}

/** q, k and v of one dtype, f16 or bf16: the tensor-core kernels' operands. */
export const tensorCoreDtype = (stage: FusedStage, dtypeOf: (tensor: string) => DType): "f16" | "bf16" | undefined => {
  const c = stage.chain;
  const dt = dtypeOf(c.q.tensor);
  return (dt === "f16" || dt === "bf16") && dtypeOf(c.k.tensor) === dt && dtypeOf(c.v.tensor) === dt ? dt : undefined;
};

/**
 * Why the mma kernel cannot run the stage (undefined where it can): f16 or bf16 q, k, v of one dtype, head dims that
 * are multiples of 16, a value head dim that mmaValueSlice can slice, and its default tiles within maxSharedBytes.
 */
export function mmaUnsupportedReason(stage: FusedStage, dtypeOf: (tensor: string) => DType): string | undefined {
  const dims = constHeadDims(stage);
  if (tensorCoreDtype(stage, dtypeOf) === undefined) return "the tensor-core kernels need q, k and v of one dtype, f16 or bf16";
  if (dims === undefined) return "the head dims are not compile-time constants";
  if (dims.d % 16 !== 0) return `the head dim ${dims.d} is not a multiple of 16`;
  const slice = mmaValueSlice(dims.dv);
  if (slice === undefined) return `the value dim ${dims.dv} is not a multiple of 16 that slices into parts of 64 to 256`;
  if (mmaSmemBytes(dims.d, slice, mmaShape(stage, dims)) > maxSharedBytes) return `its tiles need more than ${maxSharedBytes} bytes of shared memory`;
  return undefined;
}

/** Why the wgmma kernels cannot run the stage: head dims in whole 128-byte slabs (64 16-bit elements), no wider than 128. */
export function wgmmaUnsupportedReason(stage: FusedStage, dtypeOf: (tensor: string) => DType, arch: CudaArch): string | undefined {
  if (arch !== "sm_90a") return `wgmma needs sm_90a, not ${arch}`;
  const mma = mmaUnsupportedReason(stage, dtypeOf);
  if (mma !== undefined) return mma;
  const { d, dv } = constHeadDims(stage)!;
  if (d % 64 !== 0 || dv % 64 !== 0 || d > 128 || dv > 128) return `wgmma needs head dims of 64 or 128, not ${d} and ${dv}`;
  return undefined;
}

/**
 * The SIMT kernel's shape for head dims d (q, k) and dv (v): up to 64, 64 rows of 32 keys; up to 128, 32 rows of 16
 * keys (static shared memory under 48 KiB, one thread a row). Wider: the fewest lanes a row (2 to 32) whose q and
 * output slices fit simtRegisterBudget, 256 threads a block, 16 keys a tile where that stays under 48 KiB, 8
 * otherwise. Undefined where no shape fits (d + dv past about 2560, or shared memory past maxSharedBytes).
 */
export function simtShape(d: number, dv: number): { readonly blockQ: number; readonly blockK: number; readonly lanes: number; readonly threads: number } | undefined {
  if (d <= 64 && dv <= 64) return { blockQ: 64, blockK: 32, lanes: 1, threads: 64 };
  if (d <= 128 && dv <= 128) return { blockQ: 32, blockK: 16, lanes: 1, threads: 32 };
  for (let lanes = 2; lanes <= 32; lanes *= 2) {
    if (Math.ceil(d / lanes) + Math.ceil(dv / lanes) > simtRegisterBudget) continue;
    const threads = 256;
    const wide = { blockQ: threads / lanes, blockK: 16, lanes, threads };
    const shape = simtSmemBytes(d, dv, wide) <= staticSharedBytes ? wide : { ...wide, blockK: 8 };
    return simtSmemBytes(d, dv, shape) <= maxSharedBytes ? shape : undefined;
  }
  return undefined;
}

/**
 * Why the fused CUDA kernels cannot run this stage (undefined where they can): their head dims are template constants,
 * and bounded by registers and shared memory (the tensor-core kernel's, mmaUnsupportedReason, or the SIMT kernel's,
 * simtShape).
 */
export function cudaFusedUnsupportedReason(stage: FusedStage, dtypeOf: (tensor: string) => DType): string | undefined {
  const { headVar, valueVar } = stage.chain;
  for (const x of [headVar, valueVar]) {
    if (x.extent.kind !== "const") return `the head dim \`${x.name}\` has the run-time extent \`${showExtent(x.extent)}\`; the fused CUDA kernels need it fixed at compile time (${fixAtCompileTime(x.extent)})`;
  }
  const { d, dv } = constHeadDims(stage)!;
  if (mmaUnsupportedReason(stage, dtypeOf) !== undefined && simtShape(d, dv) === undefined) {
    return `the head dims \`${headVar.name}\` = ${d} and \`${valueVar.name}\` = ${dv} are too wide for the fused CUDA kernels' registers and shared memory`;
  }
  return undefined;
}

/** No head map (k and v indexed by plain variables), no tensor read by the score function, no sink, no extra output. */
function plainChain(c: AttentionChain): boolean {
  const readsTensor = (e: Expr | undefined) => e !== undefined && some(e, (x) => x.kind === "load");
  const mapped = [...c.k.indices, ...c.v.indices].some((x) => x.kind !== "var");
  const sink = c.normalizer.kind === "softmax" && c.normalizer.sink !== undefined;
  return !mapped && !readsTensor(c.scoreMod) && !readsTensor(c.mask) && !sink && c.extras.length === 0;
}

/** A plain chain whose score function calls nothing and whose mask compares indices and sizes (no scalar, call or division). */
function simpleChain(c: AttentionChain): boolean {
  const calls = some(c.scoreMod, (x) => x.kind === "call" || x.kind === "scalar");
  const maskScalars = c.mask !== undefined && some(c.mask, (x) => x.kind === "scalar" || x.kind === "call" || (x.kind === "binary" && (x.op === "/" || x.op === "%")));
  return plainChain(c) && !calls && !maskScalars && c.normalizer.kind === "softmax";
}

/** The mma kernel's warps, m-tiles and key tile. Register budget: accumulators O (DV/8 x 4 x mTiles), scores S (BC/8 x 4 x mTiles). */
function mmaShape(stage: FusedStage, { d, dv }: HeadDims): { readonly warps: number; readonly mTiles: number; readonly blockK: number } {
  // Measured on the H100 (bench/results/cuda-notes.md, steps 1, 4 and 5): at D <= 64, 4 warps of 16 rows with Q
  // from shared memory match 8 warps with Q in registers on full attention and beat them by 5-11% on causal,
  // with registers to spare for score functions (8 warps at 128 registers spilled for GQA).
  if (d <= 64 && dv <= 64) return { warps: 4, mTiles: 1, blockK: 64 };
  // Two m-tiles a warp (32 query rows) are 10-20% faster at D = 128 (step 5) but fill all 255 registers: only for
  // chains whose score is the scaled product and whose mask reads nothing but indices and sizes.
  if (d <= 128 && dv <= 128) return simpleChain(stage.chain) ? { warps: 4, mTiles: 2, blockK: 32 } : { warps: 4, mTiles: 1, blockK: 64 };
  // Wider head dims (up to 256, and past it with the value columns in slices, mmaValueSlice): one m-tile a warp.
  return { warps: 4, mTiles: 1, blockK: 32 };
}

/**
 * Measured on the H100 and the H200 (bench/results/cuda-notes.md, steps 9-12 and 19-25): the warp-specialised kernel
 * (fused-wgmma-ws.ts), a producer warpgroup and two consumer warpgroups on 128 x 128 tiles, with persistent blocks
 * that take their query tiles from a counter. Masked chains at D = 128 have P V overlap the next tile's softmax and the
 * consumers take turns (ping-pong); without a mask, at D = 64, and for chains that read a column value (a document
 * id), no overlap, which measured faster for them. Chains that read a tensor per score (a relative-bias table): one
 * warpgroup with 64-key tiles without the overlap, short blocks that fit two or three an SM.
 */
function wgmmaShape(stage: FusedStage, { d, dv }: HeadDims): Omit<WgmmaSchedule, "target" | "kind" | "arch" | "output" | "path" | "blockQ" | "threads" | "smemBytes" | "l2Budget"> {
  const c = stage.chain;
  const { scoreMod, mask, hoisted } = hoistScoreReads(c.scoreMod, c.mask, c.keyVar.name, c.queryVar.name);
  const columnReads = hoisted.some((h) => h.over === "column");
  const elementReads = [scoreMod, mask].some((e) => e !== undefined && some(e, (x) => x.kind === "load"));
  const narrow = d <= 64 && dv <= 64;
  const base = { stages: 2, pingpong: false, persistent: false };
  if (elementReads) return { ...base, warpgroups: 1, blockK: 64, overlap: false, producer: false };
  if (c.mask !== undefined && !columnReads && !narrow) return { ...base, warpgroups: 2, blockK: 128, overlap: true, producer: true, pingpong: true, persistent: true };
  return { ...base, warpgroups: 2, blockK: 128, overlap: false, producer: true, persistent: true };
}

type Common = { readonly arch: CudaArch; readonly output: string };

/** A wgmma record with its derived fields (rows, threads, shared memory) filled in. */
export function wgmmaRecord(common: Common, dims: HeadDims, s: Pick<WgmmaSchedule, "warpgroups" | "blockK" | "overlap" | "producer" | "stages" | "pingpong" | "persistent" | "l2Budget">): WgmmaSchedule {
  return {
    target: "cuda", kind: "fused", ...common, path: "wgmma", blockQ: 64 * s.warpgroups, blockK: s.blockK,
    threads: 128 * s.warpgroups + (s.producer ? 128 : 0), smemBytes: wgmmaSmem(dims, s).smemBytes, l2Budget: s.l2Budget,
    warpgroups: s.warpgroups, overlap: s.overlap, producer: s.producer, stages: s.stages, pingpong: s.pingpong, persistent: s.persistent,
  };
}

/** An mma record with its derived fields filled in. */
export function mmaRecord(common: Common, dims: HeadDims, s: Pick<MmaSchedule, "warps" | "mTiles" | "blockK" | "valueSlice" | "l2Budget">): MmaSchedule {
  return {
    target: "cuda", kind: "fused", ...common, path: "mma", blockQ: 16 * s.mTiles * s.warps, blockK: s.blockK, threads: 32 * s.warps,
    smemBytes: mmaSmemBytes(dims.d, s.valueSlice, s), l2Budget: s.l2Budget, warps: s.warps, mTiles: s.mTiles, valueSlice: s.valueSlice, valueSlices: dims.dv / s.valueSlice,
  };
}

/** A SIMT record with its derived fields filled in. */
export function simtRecord(common: Common, dims: HeadDims, s: Pick<SimtSchedule, "blockQ" | "blockK" | "lanes" | "l2Budget">): SimtSchedule {
  return {
    target: "cuda", kind: "fused", ...common, path: "simt", blockQ: s.blockQ, blockK: s.blockK, threads: s.blockQ * s.lanes,
    smemBytes: simtSmemBytes(dims.d, dims.dv, s), l2Budget: s.l2Budget, lanes: s.lanes,
  };
}

/** The default record of one path for a stage that path can run (cudaFusedUnsupportedReason, and the path's own reasons). */
export function defaultCudaRecord(stage: FusedStage, arch: CudaArch, path: CudaFusedSchedule["path"]): CudaFusedSchedule {
  const dims = constHeadDims(stage)!;
  const common = { arch, output: stage.chain.output.name };
  const l2Budget = defaultL2Budget;
  if (path === "wgmma") return wgmmaRecord(common, dims, { ...wgmmaShape(stage, dims), l2Budget });
  if (path === "mma") return mmaRecord(common, dims, { ...mmaShape(stage, dims), valueSlice: mmaValueSlice(dims.dv)!, l2Budget });
  return simtRecord(common, dims, { ...simtShape(dims.d, dims.dv)!, l2Budget });
}

/** The path a stage runs by default: wgmma on sm_90a where it applies, mma.sync where the tensor cores apply, SIMT otherwise. */
export function defaultCudaPath(stage: FusedStage, dtypeOf: (tensor: string) => DType, arch: CudaArch): CudaFusedSchedule["path"] {
  if (mmaUnsupportedReason(stage, dtypeOf) !== undefined) return "simt";
  return wgmmaUnsupportedReason(stage, dtypeOf, arch) === undefined ? "wgmma" : "mma";
}

/** The default schedule of a fused stage the fused CUDA kernels can run (cudaFusedUnsupportedReason undefined). */
export function chooseCuda(stage: FusedStage, dtypeOf: (tensor: string) => DType, arch: CudaArch): CudaFusedSchedule {
  return defaultCudaRecord(stage, arch, defaultCudaPath(stage, dtypeOf, arch));
}
