// Benchmark support (WebGPU): what bench/webgpu/make.ts writes and bench/webgpu/run.ts reads.
import type { RunnableKernel } from "../../src/runtime/index.js";

export type TimedKernel = {
  readonly program: "full" | "causal";
  readonly D: number;
  readonly schedule: "fused" | "naive";
  readonly dtype: string;
  readonly kernel: RunnableKernel;
};

export type CheckCase = {
  readonly file: string;
  readonly dtype: string;
  readonly schedule: "fused" | "naive";
  readonly kernel: RunnableKernel;
  readonly sizes: Record<string, number>;
  readonly args: Record<string, number[] | number>;
  readonly want: Record<string, number[]>;
};

export type BenchFile = { readonly made: string; readonly timed: readonly TimedKernel[]; readonly checks: readonly CheckCase[] };

// JSON has no infinities or NaN (plans hold -inf constants): they travel as { "$number": "-Infinity" }.
export const encodeCases = (file: BenchFile): string =>
  JSON.stringify(file, (_, v: unknown) => (typeof v === "number" && !Number.isFinite(v) ? { $number: String(v) } : v));

export const decodeCases = (text: string): BenchFile =>
  JSON.parse(text, (_, v: unknown) => (v !== null && typeof v === "object" && "$number" in v ? Number((v as { $number: string }).$number) : v)) as BenchFile;
