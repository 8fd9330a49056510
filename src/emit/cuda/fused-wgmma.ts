// Emit stage (CUDA): the fused attention kernel for Hopper (sm_90a) on warpgroup matrix products: a block of W
// warpgroups owns 64 W query rows, each warpgroup 64 of them; Q, K and V sit in shared memory in wgmma's 128-byte
// swizzled layout, K/V tiles stream through two K and two or three V buffers with cp.async (the next tile loads
// while this one is computed), S = Q K^T reads both operands from shared memory, and P stays in registers as the
// A operand of O += P V. The pieces both wgmma kernels print are here too (fused-wgmma-ws.ts).
import type { TileProgram } from "../../tile/types.js";
import type { WgmmaSchedule } from "../../schedule/types.js";
import { constHeadDims, wgmmaSmem, type WgmmaSmem } from "../../schedule/choose-cuda.js";
import type { Dialect } from "../expr.js";
import { CodeWriter } from "../writer.js";
import type { TensorSlot } from "./common.js";
import { printPrologue, printQueryTileLoop } from "./fused-common.js";
import type { FusedKernel } from "./fused-mma.js";
import { printFinalise, printRowState, printRescaleAndPack, printMaskPrefetch, printScores, tileMath, type TileMath } from "./fused-tile.js";
import { wgmmaName, type WgmmaForm } from "./wgmma.js";

export type WgmmaKernel = FusedKernel & { readonly forms: readonly WgmmaForm[] };

/** What a wgmma kernel prints from: its head dims, the forms of S = Q K^T and O += P V, its tile math and shared memory. */
export type WgmmaParts = {
  readonly D: number; readonly DV: number; readonly ss: WgmmaForm; readonly rs: WgmmaForm; readonly t: TileMath; readonly smem: WgmmaSmem;
};

export function wgmmaParts(program: TileProgram, ctype: string, shape: WgmmaSchedule): WgmmaParts {
  const { d: D, dv: DV } = constHeadDims(program.stage)!;
  const ptxType = ctype === "__half" ? "f16" : "bf16";
  const ss: WgmmaForm = { operands: "ss", ptxType, n: shape.blockK };
  const rs: WgmmaForm = { operands: "rs", ptxType, n: DV };
  return { D, DV, ss, rs, t: tileMath(program), smem: wgmmaSmem({ d: D, dv: DV }, shape) };
}

/**
 * The start of a wgmma kernel's body: T, the tile constants (and `constant`), and the shared-memory tiles: sQ on a
 * 1024-byte boundary, then `kBuffers` K buffers sK(b) and the V buffers sV(b).
 */
export function printWgmmaHead(w: CodeWriter, ctype: string, k: WgmmaParts, shape: WgmmaSchedule, constant: string, kBuffers: string): void {
  w.line(`typedef ${ctype} T;`);
  w.line(`constexpr int D = ${k.D}, DV = ${k.DV}, MT = 1, BR = ${shape.blockQ}, BC = ${shape.blockK}, ${constant};`);
  w.line("constexpr float LOG2E = 1.4426950408889634f, LN2 = 0.6931471805599453f;");
  w.line("(void)LOG2E; (void)LN2;");
  w.line("const float NEG_INF = __int_as_float(0xff800000);");
  w.line("extern __shared__ __align__(1024) unsigned char smem_raw[];");
  w.line("unsigned char* sQ = smem_raw + ((1024 - (attnc_smem(smem_raw) & 1023)) & 1023);");
  w.line(`constexpr int Q_BYTES = ${k.smem.qBytes}, K_BYTES = ${k.smem.kBytes}, V_BYTES = ${k.smem.vBytes};`);
  w.line("auto sK = [&](int b) { return sQ + Q_BYTES + b * K_BYTES; };");
  w.line(`auto sV = [&](int b) { return sQ + Q_BYTES + ${kBuffers} * K_BYTES + b * V_BYTES; };`);
}

/**
 * S = Q K^T issued and committed: the warpgroup's 64 rows of Q, the k-step's 128-byte slab of them at `q`, against
 * the BC keys of K at `k`, D / 16 steps of k16 (4 a 128-byte slab). With `overlap`, fenced against the P V still in
 * flight; `beforeIssue`, a line between the fence and the products.
 */
export function printIssueS(w: CodeWriter, ss: WgmmaForm, q: string, k: string, overlap: boolean, beforeIssue?: string): void {
  w.line("float s[MT][BC / 8][4];");
  if (overlap) {
    w.line("attnc_fence_regs(o[0]);");
    w.line("attnc_fence_regs(pa[0]);");
  }
  w.line("attnc_wgmma_fence();");
  if (beforeIssue !== undefined) w.line(beforeIssue);
  w.line("#pragma unroll");
  w.block("for (int kk = 0; kk < D / 16; ++kk)", () => {
    w.line(`const uint64_t da = attnc_desc(${q} + (kk & 3) * 32, 16, 1024);`);
    w.line(`const uint64_t db = attnc_desc(${k} + (kk >> 2) * (BC * 128) + (kk & 3) * 32, 16, 1024);`);
    w.line(`${wgmmaName(ss)}(s[0], da, db, kk > 0);`);
  });
  w.line("attnc_wgmma_commit();");
}

/**
 * Once S is issued (with `overlap`, the previous tile's P V behind it, the wait for S included): S waited for and
 * scored, then O rescaled and P packed; with `overlap`, O is waited for between the two. `sRead` runs once S has
 * read its K buffer, `oRead` once the P V has read its V buffer.
 */
export function printSoftmax(w: CodeWriter, t: TileMath, d: Dialect, overlap: boolean, sRead?: string, oRead?: string): void {
  if (!overlap) w.line("attnc_wgmma_wait<0>();");
  w.line("attnc_fence_regs(s[0]);");
  if (sRead !== undefined) w.line(sRead);
  printScores(t, d, w, true);
  if (overlap) {
    w.line("attnc_wgmma_wait<0>();");
    w.line("attnc_fence_regs(o[0]);");
    if (oRead !== undefined) w.line(oRead);
  }
  printRescaleAndPack(t, w, !overlap);
}

/**
 * O += P V from V buffer `vBuffer`, issued and committed: V is [keys][DV] (DV contiguous, MN-major for this
 * product): 16 keys a step are 2048 bytes, and the 64-column slabs of DV are BC * 128 bytes apart.
 */
export function printIssuePV(w: CodeWriter, rs: WgmmaForm, vBuffer: string): void {
  w.line("#pragma unroll");
  w.line(`for (int kk = 0; kk < BC / 16; ++kk) ${wgmmaName(rs)}(o[0], pa[0][kk], attnc_desc(sV(${vBuffer}) + kk * 2048, BC * 128, 1024), 1);`);
  w.line("attnc_wgmma_commit();");
}

/** P V on its own: fenced after the rescale and the packing that wrote o and pa, issued and waited for. */
export function printRunPV(w: CodeWriter, rs: WgmmaForm, vBuffer: string): void {
  w.line("attnc_fence_regs(o[0]);");
  w.line("attnc_fence_regs(pa[0]);");
  w.line("attnc_wgmma_fence();");
  printIssuePV(w, rs, vBuffer);
  w.line("attnc_wgmma_wait<0>();");
  w.line("attnc_fence_regs(o[0]);");
}

export function printFusedWgmma(
  name: string, program: TileProgram, d: Dialect, slots: ReadonlyMap<string, TensorSlot>, ctype: string, shape: WgmmaSchedule,
): WgmmaKernel {
  if (shape.producer) throw new Error("internal: a producer warpgroup is fused-wgmma-ws.ts's kernel");
  const stage = program.stage;
  const { blockQ: BR, threads } = shape;
  const parts = wgmmaParts(program, ctype, shape);
  const { ss, rs, t } = parts;
  // Two buffers of K, and two of V (three when P V of one tile overlaps the next tile's scores).
  const vBuffers = parts.smem.vBuffers;
  const w = new CodeWriter();

  w.block(`__global__ void __launch_bounds__(${threads}, 1) ${name}(const Params p, const int vec, const int group)`, () => {
    printWgmmaHead(w, ctype, parts, shape, `THREADS = ${threads}`, "2");
    w.line("const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;");
    w.line("const int warp_row = warp * 16;  // this warp's first query row in the tile (its warpgroup's, + 16 per warp)");
    w.line("const int group_row = (warp >> 2) * 64;  // this warpgroup's first query row");
    printQueryTileLoop(stage, d, w, () => {
      printPrologue(stage, d, w, slots);
      const loadKV = (tile: string, kBuffer: string, vBuffer: string) => {
        w.line(`attnc_load_tile_sw128<T, BC, D, THREADS>(sK(${kBuffer}), gK + (long long)${tile} * BC * k_rs, k_rs, k_cs, M - ${tile} * BC, vec & 2, threadIdx.x);`);
        w.line(`attnc_load_tile_sw128<T, BC, DV, THREADS>(sV(${vBuffer}), gV + (long long)${tile} * BC * v_rs, v_rs, v_cs, M - ${tile} * BC, vec & 4, threadIdx.x);`);
      };
      w.line("attnc_load_tile_sw128<T, BR, D, THREADS>(sQ, gQ + (long long)i0 * q_rs, q_rs, q_cs, N - i0, vec & 1, threadIdx.x);");
      w.line("int kt = next_tile(first);");
      w.block("if (kt >= 0)", () => loadKV("kt", "0", "0"));
      w.line("attnc_cp_commit();");
      printRowState(t, d, w);
      if (shape.overlap) w.line("uint32_t pa[MT][BC / 16][4];");
      w.line("int it = 0;  // tiles done: tile it sits in K buffer it % 2 and V buffer it % " + vBuffers);
      w.block("while (kt >= 0)", () => {
        w.line("const int j0 = kt * BC;");
        // This tile has landed, and every warpgroup is past the previous iteration, so the buffers of tile it - 1
        // (K) and it - 2 (V, whose P V was waited for there) are free: the next live tile loads into them while
        // this one is computed.
        w.line("attnc_cp_wait<0>();");
        w.line("attnc_fence_async_smem();");
        w.line("__syncthreads();");
        w.line("const int next = next_tile(kt + 1);");
        w.block("if (next >= 0)", () => loadKV("next", "(it + 1) & 1", `(it + 1) % ${vBuffers}`));
        w.line("attnc_cp_commit();");
        printIssueS(w, ss, "sQ + (kk >> 2) * (BR * 128) + group_row * 128", "sK(it & 1)", shape.overlap);
        printMaskPrefetch(t, d, w);
        if (shape.overlap) {
          // The previous tile's P V is issued behind S and runs while this tile's scores and softmax are computed.
          w.block("if (it > 0)", () => {
            printIssuePV(w, rs, `(it + ${vBuffers - 1}) % ${vBuffers}`);
            w.line("attnc_wgmma_wait<1>();");
          });
          w.line("else attnc_wgmma_wait<0>();");
        }
        printSoftmax(w, t, d, shape.overlap);
        if (!shape.overlap) printRunPV(w, rs, "it % 2");
        w.line("++it;");
        w.line("kt = next;");
      });
      if (shape.overlap) w.block("if (it > 0)", () => printRunPV(w, rs, `(it + ${vBuffers - 1}) % ${vBuffers}`));
      w.line("attnc_cp_wait<0>();");
      printFinalise(t, d, w, slots);
      w.line("__syncthreads();");
    });
  });
  return { name, code: w.toString(), threads, smemBytes: shape.smemBytes, blockQ: BR, forms: [ss, rs] };
}
