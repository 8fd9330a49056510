// Emit stage (CUDA): the fused attention kernel on tensor cores (mma.sync m16n8k16, ldmatrix, cp.async),
// FlashAttention-2 style: a block owns a query tile, warps own 16 query rows each, and key/value tiles stream
// through shared memory while the online softmax keeps running statistics in registers.
import type { FusedStage } from "../../plan/plan.js";
import type { AttentionChain } from "../../fuse/chain.js";
import type { Expr } from "../../check/typed.js";
import { some } from "../../graph/walk.js";
import type { Dialect } from "../expr.js";
import { CodeWriter } from "../writer.js";
import { maxSharedBytes, type TensorSlot } from "./common.js";
import { printPrologue, printQueryTileLoop } from "./fused-common.js";
import { printFinalise, printRowState, printRescaleAndPack, printScores, tileMath, unrolled as unrolledIn } from "./fused-tile.js";

/**
 * warps a block, 16-row m-tiles a warp, keys a tile, whether Q fragments stay in registers, and the blocks an SM
 * must fit (`__launch_bounds__`'s second argument; ptxas's own choice where absent).
 */
export type MmaShape = {
  readonly warps: number; readonly mTiles: number; readonly blockK: number; readonly qInRegisters: boolean; readonly minBlocks?: number;
};

/**
 * A fused kernel and its launch: `persistent` ones get a block for each SM and a work counter (printQueryTileLoop's
 * `take`); with `valueSlices` (> 1), blockIdx.z picks the slice of the value columns a block computes.
 */
export type FusedKernel = {
  readonly name: string; readonly code: string; readonly threads: number; readonly smemBytes: number; readonly blockQ: number; readonly persistent?: boolean;
  readonly valueSlices?: number;
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
export const mmaSmemBytes = (d: number, valueSlice: number, shape: MmaShape): number =>
  2 * (16 * shape.mTiles * shape.warps * (d + 8) + shape.blockK * (d + 8) + shape.blockK * (valueSlice + 8));

/**
 * Whether the tensor-core path applies: f16 or bf16 q, k, v of one dtype, head dims that are multiples of 16, a value
 * head dim that mmaValueSlice can slice, and tiles (mmaShape) within a block's shared memory (maxSharedBytes).
 */
export function mmaEligible(stage: FusedStage, dtypeOf: (tensor: string) => string): boolean {
  const c = stage.chain;
  const dt = dtypeOf(c.q.tensor);
  const sameType = (dt === "f16" || dt === "bf16") && dtypeOf(c.k.tensor) === dt && dtypeOf(c.v.tensor) === dt;
  const d = c.headVar.extent;
  const dv = c.valueVar.extent;
  if (!sameType || d.kind !== "const" || dv.kind !== "const" || d.value % 16 !== 0) return false;
  const slice = mmaValueSlice(dv.value);
  return slice !== undefined && mmaSmemBytes(d.value, slice, mmaShape(stage)) <= maxSharedBytes;
}

/** Register budget: accumulators O (DV/8 x 4 x mTiles), scores S (BC/8 x 4 x mTiles), Q (D/16 x 4 x mTiles if held). */
export function mmaShape(stage: FusedStage): MmaShape {
  const d = (stage.chain.headVar.extent as { value: number }).value;
  const dv = (stage.chain.valueVar.extent as { value: number }).value;
  // Measured on the H100 (bench/results/cuda-notes.md, steps 1, 4 and 5): at D <= 64, 4 warps of 16 rows with Q
  // from shared memory match 8 warps with Q in registers on full attention and beat them by 5-11% on causal,
  // with registers to spare for score functions (8 warps at 128 registers spilled for GQA).
  if (d <= 64 && dv <= 64) return { warps: 4, mTiles: 1, blockK: 64, qInRegisters: false };
  // Two m-tiles a warp (32 query rows) are 10-20% faster at D = 128 (step 5) but fill all 255 registers: only for
  // chains whose score is the scaled product and whose mask reads nothing but indices and sizes.
  if (d <= 128 && dv <= 128) {
    return simpleChain(stage.chain) ? { warps: 4, mTiles: 2, blockK: 32, qInRegisters: false } : { warps: 4, mTiles: 1, blockK: 64, qInRegisters: false };
  }
  // Wider head dims (up to 256, and past it with the value columns in slices, mmaValueSlice): one m-tile a warp.
  return { warps: 4, mTiles: 1, blockK: 32, qInRegisters: false };
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

export function printFusedMma(
  name: string, stage: FusedStage, d: Dialect, slots: ReadonlyMap<string, TensorSlot>, ctype: string, shape: MmaShape,
): FusedKernel {
  const c = stage.chain;
  const D = (c.headVar.extent as { value: number }).value;
  const DV = (c.valueVar.extent as { value: number }).value;
  const { warps, mTiles: MT, blockK: BC, qInRegisters } = shape;
  const BR = 16 * MT * warps;
  const threads = 32 * warps;
  // The value columns this kernel's blocks accumulate: all of DV, or a slice of them (blockIdx.z picks which).
  const slice = mmaValueSlice(DV) ?? DV;
  const slices = DV / slice;
  const DP = D + 8;
  const DVP = slice + 8;
  const smemBytes = mmaSmemBytes(D, slice, shape);
  // Past 256, fewer of a tile's copies unrolled, so that their addresses fit beside O (255 registers, no spills).
  const unroll = D > 256 || slices > 1 ? ", 8" : "";
  const t = tileMath(stage);
  const w = new CodeWriter();
  const unrolled = (head: string, body: () => void) => unrolledIn(w, head, body);

  w.line(`__global__ void __launch_bounds__(${threads}${shape.minBlocks !== undefined ? `, ${shape.minBlocks}` : ""}) ${name}(const Params p, const int vec, const int group) {`);
  w.indented(() => {
    w.line(`typedef ${ctype} T;`);
    if (slices > 1) w.line(`// DV: the value columns of this block, those from e0 on, of the ${DV} in ${slices} slices (blockIdx.z).`);
    w.line(`constexpr int D = ${D}, DV = ${slice}, MT = ${MT}, BR = ${BR}, BC = ${BC}, DP = ${DP}, DVP = ${DVP}, THREADS = ${threads};`);
    if (slices > 1) w.line("const int e0 = blockIdx.z * DV;");
    w.line("constexpr float LOG2E = 1.4426950408889634f, LN2 = 0.6931471805599453f;");
    w.line("(void)LOG2E; (void)LN2;");
    w.line("const float NEG_INF = __int_as_float(0xff800000);");
    w.line("extern __shared__ __align__(16) unsigned char smem_raw[];");
    w.line("T* sQ = reinterpret_cast<T*>(smem_raw);");
    w.line("T* sK = sQ + BR * DP;");
    w.line("T* sV = sK + BC * DP;");
    w.line("const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;");
    w.line("const int warp_row = warp * 16 * MT;  // this warp's first query row in the tile");
    printQueryTileLoop(stage, d, w, () => {
      printPrologue(stage, d, w, slots);
      w.line(`attnc_load_tile<T, BR, D, DP, THREADS${unroll}>(sQ, gQ + (long long)i0 * q_rs, q_rs, q_cs, N - i0, vec & 1);`);
      w.line("int kt = next_tile(first);");
      w.line(`if (kt >= 0) attnc_load_tile<T, BC, D, DP, THREADS${unroll}>(sK, gK + (long long)kt * BC * k_rs, k_rs, k_cs, M - kt * BC, vec & 2);`);
      w.line("attnc_cp_commit();");
      w.line("attnc_cp_wait<0>();");
      w.line("__syncthreads();");
      const qFragment = "&sQ[(warp_row + mt * 16 + (lane & 7) + ((lane >> 3) & 1) * 8) * DP + kk * 16 + (lane >> 4) * 8]";
      if (qInRegisters) {
        w.line("uint32_t qf[MT][D / 16][4];");
        unrolled("for (int mt = 0; mt < MT; ++mt)", () => {
          w.line("#pragma unroll");
          w.line(`for (int kk = 0; kk < D / 16; ++kk) attnc_ldmatrix_x4(qf[mt][kk], ${qFragment});`);
        });
      }
      printRowState(t, d, w);
      w.block("while (kt >= 0)", () => {
        w.line("const int j0 = kt * BC;");
        w.line(`attnc_load_tile<T, BC, DV, DVP, THREADS${unroll}>(sV, gV + (long long)j0 * v_rs${slices > 1 ? " + (long long)e0 * v_cs" : ""}, v_rs, v_cs, M - j0, vec & 4);`);
        w.line("attnc_cp_commit();");
        w.line("attnc_cp_wait<1>();");
        w.line("__syncthreads();");
        w.line("float s[MT][BC / 8][4];");
        unrolled("for (int mt = 0; mt < MT; ++mt)", () => {
          w.line("#pragma unroll");
          w.line("for (int nt = 0; nt < BC / 8; ++nt) s[mt][nt][0] = s[mt][nt][1] = s[mt][nt][2] = s[mt][nt][3] = 0.0f;");
        });
        // S = Q K^T: each K fragment read from shared memory serves every m-tile of the warp.
        unrolled("for (int kk = 0; kk < D / 16; ++kk)", () => {
          if (!qInRegisters) {
            w.line("uint32_t qf[MT][1][4];");
            w.line("#pragma unroll");
            w.line(`for (int mt = 0; mt < MT; ++mt) attnc_ldmatrix_x4(qf[mt][0], ${qFragment});`);
          }
          const q = qInRegisters ? "qf[mt][kk]" : "qf[mt][0]";
          unrolled("for (int nt2 = 0; nt2 < BC / 16; ++nt2)", () => {
            w.line("uint32_t b[4];");
            w.line("attnc_ldmatrix_x4(b, &sK[(nt2 * 16 + (lane & 7) + (lane >> 4) * 8) * DP + kk * 16 + ((lane >> 3) & 1) * 8]);");
            w.line("#pragma unroll");
            w.line(`for (int mt = 0; mt < MT; ++mt) { attnc_mma<T>::run(s[mt][2 * nt2], ${q}, b[0], b[1]); attnc_mma<T>::run(s[mt][2 * nt2 + 1], ${q}, b[2], b[3]); }`);
          });
        });
        printScores(t, d, w);
        printRescaleAndPack(t, w);
        w.line("const int next = next_tile(kt + 1);");
        w.line("attnc_cp_wait<0>();");
        w.line("__syncthreads();");
        w.line(`if (next >= 0) attnc_load_tile<T, BC, D, DP, THREADS${unroll}>(sK, gK + (long long)next * BC * k_rs, k_rs, k_cs, M - next * BC, vec & 2);`);
        w.line("attnc_cp_commit();");
        unrolled("for (int kk = 0; kk < BC / 16; ++kk)", () => {
          unrolled("for (int nt2 = 0; nt2 < DV / 16; ++nt2)", () => {
            w.line("uint32_t b[4];");
            w.line("attnc_ldmatrix_x4_trans(b, &sV[(kk * 16 + (lane & 7) + ((lane >> 3) & 1) * 8) * DVP + nt2 * 16 + (lane >> 4) * 8]);");
            w.line("#pragma unroll");
            w.line("for (int mt = 0; mt < MT; ++mt) { attnc_mma<T>::run(o[mt][2 * nt2], pa[mt][kk], b[0], b[1]); attnc_mma<T>::run(o[mt][2 * nt2 + 1], pa[mt][kk], b[2], b[3]); }");
          });
        });
        w.line("__syncthreads();");
        w.line("kt = next;");
      });
      w.line("attnc_cp_wait<0>();");
      printFinalise(t, d, w, slots, slices > 1 ? { first: "blockIdx.z == 0" } : undefined);
      w.line("__syncthreads();");
    });
  });
  w.line("}");
  return { name, code: w.toString(), threads, smemBytes, blockQ: BR, ...(slices > 1 ? { valueSlices: slices } : {}) };
}
