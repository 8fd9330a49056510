// Emit stage (CUDA): the fused attention kernel on tensor cores (mma.sync m16n8k16, ldmatrix, cp.async),
// FlashAttention-2 style: a block owns a query tile, warps own 16 query rows each, and key/value tiles stream
// through shared memory while the online softmax keeps running statistics in registers.
import type { TileProgram } from "../../tile/types.js";
import type { Dialect } from "../expr.js";
import { CodeWriter } from "../writer.js";
import type { TensorSlot } from "./common.js";
import type { MmaSchedule } from "../../schedule/types.js";
import { constHeadDims } from "../../schedule/choose-cuda.js";
import { printPrologue, printQueryTileLoop } from "./fused-common.js";
import { printFinalise, printRowState, printRescaleAndPack, printScores, tileMath, unrolled as unrolledIn } from "./fused-tile.js";

/**
 * A fused kernel and its launch: `persistent` ones get a block for each SM and a work counter (printQueryTileLoop's
 * `persistent`); with `valueSlices` (> 1), blockIdx.z picks the slice of the value columns a block computes.
 */
export type FusedKernel = {
  readonly name: string; readonly code: string; readonly threads: number; readonly smemBytes: number; readonly blockQ: number; readonly persistent?: boolean;
  readonly valueSlices?: number;
};

export function printFusedMma(
  name: string, program: TileProgram, d: Dialect, slots: ReadonlyMap<string, TensorSlot>, ctype: string, shape: MmaSchedule,
): FusedKernel {
  const stage = program.stage;
  const { d: D, dv: DV } = constHeadDims(stage)!;
  // The value columns this kernel's blocks accumulate: all of DV, or a slice of them (blockIdx.z picks which).
  const { mTiles: MT, blockK: BC, blockQ: BR, threads, smemBytes, valueSlice: slice, valueSlices: slices } = shape;
  // Rows padded by 8 elements (mmaSmemBytes).
  const DP = D + 8, DVP = slice + 8;
  // Past 256, fewer of a tile's copies unrolled, so that their addresses fit beside O (255 registers, no spills).
  const unroll = D > 256 || slices > 1 ? ", 8" : "";
  const t = tileMath(program);
  const w = new CodeWriter();
  const unrolled = (head: string, body: () => void) => unrolledIn(w, head, body);

  w.block(`__global__ void __launch_bounds__(${threads}) ${name}(const Params p, const int vec, const int group)`, () => {
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
          // Q fragments from shared memory, a k-step at a time (measured as fast as Q held in registers: choose-cuda.ts).
          w.line("uint32_t qf[MT][1][4];");
          w.line("#pragma unroll");
          w.line(`for (int mt = 0; mt < MT; ++mt) attnc_ldmatrix_x4(qf[mt][0], ${qFragment});`);
          const q = "qf[mt][0]";
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
  return { name, code: w.toString(), threads, smemBytes, blockQ: BR, ...(slices > 1 ? { valueSlices: slices } : {}) };
}
