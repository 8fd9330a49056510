// Benchmark support (CUDA): the tag a wgmma tile shape goes by in kernel file names, shared by make-bench.ts and
// make-cases.ts so that a shape timed in one is the shape checked in the other: gWbB, then s where P V does not
// overlap the softmax, w where a producer warpgroup copies K/V, its stage count where that is not 2, p where its
// consumers take turns (ping-pong), and _persistent where its blocks are persistent (bench/results logs up to
// 2026-12-03 wrote a final r for it: g2b128wpr is g2b128wp_persistent).
import type { WgmmaSchedule } from "../../src/schedule/types.js";

/** A wgmma shape as the benchmarks give it: the fields of the record (src/schedule/types.ts) they vary, false or 2 where absent. */
export type WgmmaShape = Pick<WgmmaSchedule, "warpgroups" | "blockK" | "overlap"> & Partial<Pick<WgmmaSchedule, "producer" | "stages" | "pingpong" | "persistent">>;

/** The shape as a pinned tile schedule: every field given, so that none comes from the default record. */
export const wgmmaPin = (s: WgmmaShape) => ({ path: "wgmma", producer: false, stages: 2, pingpong: false, persistent: false, ...s });

export const wgmmaShapeTag = (s: WgmmaShape): string =>
  `g${s.warpgroups}b${s.blockK}${s.overlap ? "" : "s"}${s.producer ? "w" : ""}${s.producer && (s.stages ?? 2) !== 2 ? s.stages : ""}${s.pingpong ? "p" : ""}${s.persistent ? "_persistent" : ""}`;
