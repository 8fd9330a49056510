// Benchmark support (CUDA): the tag a wgmma tile shape goes by in kernel file names, shared by make-bench.ts and
// make-cases.ts so that a shape timed in one is the shape checked in the other: gWbB, then s where P V does not
// overlap the softmax, w where a producer warpgroup copies K/V, its stage count where that is not 2, p where its
// consumers take turns (ping-pong), and r where its blocks stay resident (persistent).
import type { WgmmaShape } from "../../src/emit/cuda/fused-wgmma.js";

export const wgmmaShapeTag = (s: WgmmaShape): string =>
  `g${s.warpgroups}b${s.blockK}${s.overlap ? "" : "s"}${s.producer ? "w" : ""}${s.producer && (s.stages ?? 2) !== 2 ? s.stages : ""}${s.pingpong ? "p" : ""}${s.persistent ? "r" : ""}`;
