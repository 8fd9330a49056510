// Benchmark support (CUDA): compiles the benchmark programs at each head dim for bench/cuda/bench.py.
// Usage: tsx bench/cuda/make-bench.ts OUTDIR
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { compile } from "../../src/compile.js";
import { planKernel } from "../../src/plan/plan.js";
import { emitCuda } from "../../src/emit/cuda/index.js";
import type { MmaShape } from "../../src/emit/cuda/fused-mma.js";

// Tile shapes tried beside the default for full and causal attention (tagged wWmMbBqQ[nN]); earlier runs tried more
// (bench/results/cuda-notes.md).
const shapes: MmaShape[] = [
  { warps: 8, mTiles: 1, blockK: 64, qInRegisters: true },
  { warps: 8, mTiles: 1, blockK: 64, qInRegisters: false },
  { warps: 4, mTiles: 1, blockK: 64, qInRegisters: false },
  { warps: 4, mTiles: 2, blockK: 32, qInRegisters: false },
  { warps: 4, mTiles: 2, blockK: 64, qInRegisters: false },
  { warps: 4, mTiles: 2, blockK: 64, qInRegisters: true },
];
const shapeTag = (s: MmaShape) => `w${s.warps}m${s.mTiles}b${s.blockK}q${s.qInRegisters ? 1 : 0}${s.minBlocks !== undefined ? `n${s.minBlocks}` : ""}`;

const out = process.argv[2] ?? "tmp/cuda-bench";
mkdirSync(out, { recursive: true });
const builds: [string, number][] = [
  ["full", 64], ["full", 128], ["causal", 64], ["causal", 128],
  ["sliding", 128], ["alibi", 128], ["softcap", 128], ["document", 128],
];
for (const [program, D] of builds) {
  const path = `bench/cuda/programs/${program}.attn`;
  const result = compile(readFileSync(path, "utf8"), { fileName: path, defines: { D }, target: "cuda", arch: "sm_90a" });
  const errors = result.diagnostics.filter((d) => d.severity === "error");
  if (errors.length > 0) throw new Error(errors.map((e) => e.message).join("; "));
  const k = result.kernels[0];
  const tag = `${k.name}_D${D}`;
  writeFileSync(join(out, `${tag}.cu`), k.cuda!.replaceAll(`attnc_${k.name}`, `attnc_${tag}`));
  writeFileSync(join(out, `${tag}.json`), JSON.stringify(k.manifest, null, 1));
  if (program !== "full" && program !== "causal") continue;
  for (const shape of shapes) {
    const variant = `${tag}__${shapeTag(shape)}`;
    const cuda = emitCuda(planKernel(k.checked).plan, { arch: "sm_90a", mma: shape })!;
    writeFileSync(join(out, `${variant}.cu`), cuda.source.replaceAll(`attnc_${k.name}`, `attnc_${variant}`));
  }
}
console.log(`${builds.length} kernels in ${out}`);
