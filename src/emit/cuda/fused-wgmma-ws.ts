// Emit stage (CUDA): the warp-specialised variant of the Hopper fused kernel (FA3's scheme without TMA), the default
// at D = 128 and for full attention: warpgroup 0 is a producer that finds and classifies the live key tiles, copies
// K/V with cp.async into a ring of STAGES buffers and signals each on an mbarrier ("full") with the tile it holds;
// the other warpgroups are consumers of 64 query rows each that wait on "full", run S = Q K^T, the softmax and
// O += P V as the wgmma kernel does (P V optionally overlapping the next tile's softmax, the consumers optionally
// taking turns), and release each buffer on an "empty" mbarrier once their products have read it. The producer
// copies each query tile's Q into one of two buffers the same way, so the next one lands during this one. No
// block-wide barrier is left in the key loop; setmaxnreg moves registers from the producer to the consumers; with
// `persistent`, one block an SM stays for the whole launch and takes query tiles from a counter of the launch's
// own, longest first, as they free up (bench/results/cuda-notes.md, steps 17-26).
import type { TileProgram } from "../../tile/types.js";
import type { Dialect } from "../expr.js";
import { CodeWriter } from "../writer.js";
import type { TensorSlot } from "./common.js";
import { classifiedFromTables, printPrologue, printQueryTileLoop } from "./fused-common.js";
import { printFinalise, printMaskPrefetch, printRowState } from "./fused-tile.js";
import { printIssuePV, printIssueS, printRunPV, printSoftmax, printWgmmaHead, wgmmaParts, type WgmmaKernel } from "./fused-wgmma.js";
import type { WgmmaSchedule } from "../../schedule/types.js";
import { wsRegisters } from "../../schedule/choose-cuda.js";

export function printFusedWgmmaWs(
  name: string, program: TileProgram, d: Dialect, slots: ReadonlyMap<string, TensorSlot>, ctype: string, shape: WgmmaSchedule,
): WgmmaKernel {
  const stage = program.stage;
  const { threads, persistent } = shape;
  const consumers = 128 * shape.warpgroups;
  // Q_STAGES buffers of Q (each consumer warpgroup's 64 rows a tile of its own), STAGES buffers of K and of V, the
  // mbarriers, the stages' tile codes and the Q buffers' items (wgmmaSmem).
  const parts = wgmmaParts(program, ctype, shape);
  const { ss, rs, t } = parts;
  const pingpong = shape.pingpong && shape.overlap && shape.warpgroups === 2;
  const regs = wsRegisters(shape.warpgroups, classifiedFromTables(stage));
  const w = new CodeWriter();

  const counter = persistent ? ", unsigned long long* counter" : "";
  w.block(`__global__ void __launch_bounds__(${threads}, 1) ${name}(const Params p, const int vec, const int group${counter})`, () => {
    printWgmmaHead(w, ctype, parts, shape, `STAGES = ${shape.stages}, Q_STAGES = ${parts.smem.qStages}`, "STAGES");
    // full_k, full_v: the producer's 128 threads arrive once their copies of a stage landed (and its thread 0 once
    // more on full_k, after writing the stage's tile); empty_k, empty_v: every consumer thread arrives once its
    // products have read the stage. tile[b]: the key tile in stage b, times 2, plus 1 where it is full (needs no
    // mask), or -1 where the row has no more tiles: the producer alone finds and classifies the live tiles.
    // full_q, empty_q and item[qb] do the same for the query tiles, through Q_STAGES buffers of Q.
    w.line("uint64_t* bars = reinterpret_cast<uint64_t*>(sQ + Q_BYTES + STAGES * (K_BYTES + V_BYTES));");
    w.line("uint64_t* full_k = bars; uint64_t* full_v = bars + STAGES; uint64_t* empty_k = bars + 2 * STAGES; uint64_t* empty_v = bars + 3 * STAGES;");
    w.line("uint64_t* full_q = bars + 4 * STAGES; uint64_t* empty_q = full_q + Q_STAGES;");
    w.line("volatile long long* q_item = reinterpret_cast<volatile long long*>(empty_q + Q_STAGES);");
    w.line("volatile int* tile = reinterpret_cast<volatile int*>(q_item + Q_STAGES);");
    w.line("auto sQ_at = [&](int qb) { return sQ + qb * (Q_BYTES / Q_STAGES); };");
    w.block("if (threadIdx.x == 0)", () => {
      w.block("for (int b = 0; b < STAGES; ++b)", () => {
        w.line("attnc_mbar_init(full_k + b, 129); attnc_mbar_init(full_v + b, 128);");
        w.line(`attnc_mbar_init(empty_k + b, ${consumers}); attnc_mbar_init(empty_v + b, ${consumers});`);
      });
      w.line(`for (int b = 0; b < Q_STAGES; ++b) { attnc_mbar_init(full_q + b, 129); attnc_mbar_init(empty_q + b, ${consumers}); }`);
    });
    w.line("__syncthreads();");
    w.line("const int lane = threadIdx.x & 31;");
    w.line("int it = 0;  // tiles through the ring so far: tile it sits in stage it % STAGES, its use it / STAGES");
    w.line("int qi = 0;  // query tiles so far: in Q buffer qi % Q_STAGES, its use qi / Q_STAGES");
    // Q buffer qb of query tile qi, once its barrier `bar` has completed the phase of this use.
    const waitQBuffer = (bar: string, parity: string) => {
      w.line("const int qb = qi % Q_STAGES;");
      w.line(`attnc_mbar_wait(${bar} + qb, ${parity});`);
    };
    w.block("if (threadIdx.x < 128)", () => {
      // The producer: takes each query tile (from the counter, if persistent), copies its Q, walks its live key
      // tiles, and ends each with a stage that carries tile -1. Its thread 0 arrives on full_q once more after
      // writing the item, so that full_q completes for every item, the end of the work included.
      w.line(`attnc_regs_dec<${regs.producer}>();`);
      // Whole tiles are all cp.async, which arrive on `bar` when they land; others also stored and so wait here first.
      const arriveWhenLanded = (whole: string, bar: string) => {
        w.line("attnc_cp_commit();");
        w.line(`if (${whole}) attnc_cp_async_arrive(${bar});`);
        w.line(`else { attnc_cp_wait<0>(); attnc_mbar_arrive(${bar}); }`);
      };
      printQueryTileLoop(stage, d, w, () => {
        if (!persistent) {
          waitQBuffer("empty_q", "((qi / Q_STAGES) & 1) ^ 1");
          w.line("if (threadIdx.x == 0) attnc_mbar_arrive(full_q + qb);");
        }
        printPrologue(stage, d, w, slots);
        w.line("const bool whole_q = N - i0 >= BR && (vec & 1);");
        w.block("for (int h = 0; h < BR / 64; ++h)", () => {
          w.line("attnc_load_tile_sw128<T, 64, D, 128, 4>(sQ_at(qb) + h * (64 * D * 2), gQ + (long long)(i0 + h * 64) * q_rs, q_rs, q_cs, N - i0 - h * 64, vec & 1, threadIdx.x);");
        });
        arriveWhenLanded("whole_q", "full_q + qb");
        w.line("++qi;");
        w.block("for (int kt = next_tile(first);; kt = next_tile(kt + 1), ++it)", () => {
          w.line("const int b = it % STAGES;");
          w.line("const uint32_t parity = ((it / STAGES) & 1) ^ 1;");
          w.block("if (kt < 0)", () => {
            w.line("attnc_mbar_wait(empty_k + b, parity);");
            w.line("if (threadIdx.x == 0) { tile[b] = -1; attnc_mbar_arrive(full_k + b); }");
            w.line("attnc_mbar_arrive(full_k + b);");
            w.line("attnc_mbar_wait(empty_v + b, parity);");
            w.line("attnc_mbar_arrive(full_v + b);");
            w.line("++it;");
            w.line("break;");
          });
          w.line("const bool whole = M - kt * BC >= BC;");
          // Stage b of K (k) or V (v), once the consumers have released it; K's carries the tile's code.
          const copy = (x: "k" | "v", cols: string, bit: number) => {
            const X = x.toUpperCase();
            w.line(`attnc_mbar_wait(empty_${x} + b, parity);`);
            if (x === "k") w.line("if (threadIdx.x == 0) { tile[b] = 2 * kt + (tile_full(kt) ? 1 : 0); attnc_mbar_arrive(full_k + b); }");
            w.line(`attnc_load_tile_sw128<T, BC, ${cols}, 128, 4>(s${X}(b), g${X} + (long long)kt * BC * ${x}_rs, ${x}_rs, ${x}_cs, M - kt * BC, vec & ${bit}, threadIdx.x);`);
            arriveWhenLanded(`whole && (vec & ${bit})`, `full_${x} + b`);
          };
          copy("k", "D", 2);
          copy("v", "DV", 4);
        });
      }, persistent ? () => {
        // Thread 0 takes the next item from the counter and hands it to the other producer threads (named barrier
        // 1) and to the consumers (item[qb], then full_q).
        waitQBuffer("empty_q", "((qi / Q_STAGES) & 1) ^ 1");
        w.line("if (threadIdx.x == 0) { q_item[qb] = (long long)atomicAdd(counter, 1ULL); attnc_mbar_arrive(full_q + qb); }");
        w.line("attnc_named_sync(1, 128);");
        w.line("const long long item = q_item[qb];");
        w.line("if (item >= work) attnc_mbar_arrive(full_q + qb);");
      } : undefined);
      w.line("attnc_cp_wait<0>();");
    });
    w.block("else", () => {
      w.line(`attnc_regs_inc<${regs.consumer}>();`);
      w.line("const int warp = (threadIdx.x >> 5) - 4;  // among the consumer warps");
      w.line("const int warp_row = warp * 16;  // this warp's first query row in the tile");
      w.line("const int cg = warp >> 2;  // this consumer warpgroup: rows cg * 64 to cg * 64 + 63 of the query tile");
      // Ping-pong: consumer cg issues its products after a bar.sync on barrier 3 + cg, which the other consumer's
      // bar.arrive opens once it has issued its own, so that one's softmax runs under the other's products (FA3's
      // schedule). Both walk the same rows and tiles, so every sync has its arrive; consumer 0 goes first.
      if (pingpong) w.line("if (cg == 1) attnc_named_arrive(3, 256);");
      const waitQ = () => waitQBuffer("full_q", "(qi / Q_STAGES) & 1");
      printQueryTileLoop(stage, d, w, () => {
        if (!persistent) waitQ();
        // The tiles, their classes and Q come from the producer: only the output's plane is needed here.
        w.line("unsigned char* sQ_g = sQ_at(qb) + cg * (64 * D * 2);  // this warpgroup's 64 rows of Q");
        w.line("attnc_fence_async_smem();");
        printRowState(t, d, w);
        // P V of the tile in stage `stage` on its own, once that stage's V has landed; its V stage released after.
        const runPV = (stage: string, parity: string) => {
          w.line(`attnc_mbar_wait(full_v + ${stage}, ${parity});`);
          w.line("attnc_fence_async_smem();");
          printRunPV(w, rs, stage);
          w.line(`attnc_mbar_arrive(empty_v + ${stage});`);
        };
        if (shape.overlap) {
          // P V of tile it - 1 is issued behind S of tile it and runs under its softmax (as in fused-wgmma.ts); its
          // V stage is released once that product is waited for, one iteration later than its K.
          w.line("uint32_t pa[MT][BC / 16][4];");
          w.line("int pb = -1;  // the stage of the previous tile of this row, whose P V is still to run");
          w.line("uint32_t pp = 0;");
        }
        // The tiles come from the producer, through the stages, until one carries -1 (released at once).
        w.block("for (;; ++it)", () => {
          w.line("const int b = it % STAGES;");
          w.line("const uint32_t parity = (it / STAGES) & 1;");
          w.line("attnc_mbar_wait(full_k + b, parity);");
          w.line("const int code = tile[b];");
          w.block("if (code < 0)", () => {
            w.line("attnc_mbar_arrive(empty_k + b);");
            w.line("attnc_mbar_wait(full_v + b, parity);");
            w.line("attnc_mbar_arrive(empty_v + b);");
            w.line("++it;");
            w.line("break;");
          });
          w.line("const int kt = code >> 1;");
          w.line("const int j0 = kt * BC;");
          w.line("attnc_fence_async_smem();");
          printIssueS(w, ss, "sQ_g + (kk >> 2) * (64 * 128)", "sK(b)", shape.overlap, pingpong ? "attnc_named_sync(3 + cg, 256);" : undefined);
          printMaskPrefetch(t, d, w, "(code & 1) != 0");
          if (shape.overlap) {
            w.block("if (pb >= 0)", () => {
              w.line("attnc_mbar_wait(full_v + pb, pp);");
              w.line("attnc_fence_async_smem();");
              printIssuePV(w, rs, "pb");
              if (pingpong) w.line("attnc_named_arrive(4 - cg, 256);");
              w.line("attnc_wgmma_wait<1>();");
            });
            w.block("else", () => {
              if (pingpong) w.line("attnc_named_arrive(4 - cg, 256);");
              w.line("attnc_wgmma_wait<0>();");
            });
          }
          printSoftmax(w, t, d, shape.overlap, "attnc_mbar_arrive(empty_k + b);", "if (pb >= 0) attnc_mbar_arrive(empty_v + pb);");
          if (shape.overlap) {
            w.line("pb = b;");
            w.line("pp = parity;");
          } else runPV("b", "parity");
        });
        // Every S of this query tile has been waited for: its Q buffer is free for the producer's next one.
        w.line("attnc_mbar_arrive(empty_q + qb);");
        w.line("++qi;");
        if (shape.overlap) w.block("if (pb >= 0)", () => runPV("pb", "pp"));
        printFinalise(t, d, w, slots);
      }, persistent ? () => {
        waitQ();
        w.line("const long long item = q_item[qb];");
      } : undefined);
    });
  });
  return { name, code: w.toString(), threads, smemBytes: shape.smemBytes, blockQ: shape.blockQ, forms: [ss, rs], persistent };
}
