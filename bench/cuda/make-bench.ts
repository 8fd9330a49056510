// Benchmark support (CUDA): compiles the benchmark programs at each head dim for bench/cuda/bench.py.
// Usage: tsx bench/cuda/make-bench.ts OUTDIR
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { compile } from "../../src/compile.js";
import { planKernel } from "../../src/plan/plan.js";
import { pinnedCuda } from "../../src/compile.js";
import { wgmmaPin, wgmmaShapeTag } from "./shape-tag.js";

// Kernels timed beside the default (the sm_90a wgmma kernel where it applies): the mma.sync kernel at its own
// default shape (tagged mma), and other wgmma tile shapes (tagged by shape-tag.ts); earlier runs tried more mma.sync shapes
// (bench/results/cuda-notes.md).
type Variant = { readonly tag: string; readonly pin: Readonly<Record<string, unknown>> };
function variants(D: number, program: string): Variant[] {
  const wgmma = (warpgroups: number, blockK: number, overlap = true, producer = false, stages = 2, pingpong = false, persistent = false): Variant => {
    const shape = { warpgroups, blockK, overlap, producer, stages, pingpong, persistent };
    return { tag: wgmmaShapeTag(shape), pin: wgmmaPin(shape) };
  };
  // rows: the default kernel with its rows one after another (the order before step 16); l2b24: row groups of 24 MB.
  const out: Variant[] = [{ tag: "mma", pin: { path: "mma" } }, { tag: "rows", pin: { l2Budget: 0 } }, { tag: "l2b24", pin: { l2Budget: 24 << 20 } }, wgmma(2, 64), wgmma(2, 128), wgmma(1, 64), wgmma(1, 64, false),
    wgmma(2, 64, false, true), wgmma(2, 64, true, true), wgmma(2, 128, false, true), wgmma(2, 128, true, true), wgmma(2, 64, false, true, 3),
    wgmma(2, 64, true, true, 2, true), wgmma(2, 128, true, true, 2, true),
    wgmma(2, 64, true, true, 2, true, true), wgmma(2, 128, true, true, 2, true, true), wgmma(2, 64, false, true, 2, false, true), wgmma(2, 128, false, true, 2, false, true)];
  if (program === "full" || program === "causal") out.push(wgmma(1, 128), ...(D <= 64 ? [wgmma(3, 64), wgmma(3, 64, false, true)] : []));
  return out;
}

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
  const plan = planKernel(k.checked).plan;
  for (const v of variants(D, program)) {
    const variant = `${tag}__${v.tag}`;
    const cuda = pinnedCuda(plan, "sm_90a", v.pin);
    writeFileSync(join(out, `${variant}.cu`), cuda.source.replaceAll(`attnc_${k.name}`, `attnc_${variant}`));
  }
}
console.log(`${builds.length} kernels in ${out}`);
