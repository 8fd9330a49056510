// Benchmark support (CUDA): compiles programs and writes correctness cases (random inputs and float64
// reference outputs from the interpreter) for bench/cuda/harness.py to check on the GPU.
// Usage: tsx bench/cuda/make-cases.ts OUTDIR
import { mkdirSync, readFileSync, writeFileSync, readdirSync } from "node:fs";
import { basename, join } from "node:path";
import { compile } from "../../src/compile.js";
import { interpret } from "../../src/interp/interpret.js";
import { documentIds } from "../../src/interp/inputs.js";
import { extentValueOf, type CheckedKernel, type Extent } from "../../src/check/typed.js";
import { planKernel } from "../../src/plan/plan.js";
import { pinnedCuda } from "../../src/compile.js";
import { wgmmaPin, wgmmaShapeTag, type WgmmaShape } from "./shape-tag.js";

// wgmma tile shapes checked beside each case's default, so that a shape can become a default once it has passed
// here (tagged as in shape-tag.ts, like make-bench.ts's variants).
const shapes: WgmmaShape[] = [
  { warpgroups: 1, blockK: 64, overlap: true },
  { warpgroups: 1, blockK: 64, overlap: false },
  { warpgroups: 2, blockK: 64, overlap: true },
  { warpgroups: 2, blockK: 128, overlap: true },
  { warpgroups: 2, blockK: 64, overlap: false, producer: true },
  { warpgroups: 2, blockK: 64, overlap: true, producer: true },
  { warpgroups: 2, blockK: 128, overlap: false, producer: true },
  { warpgroups: 2, blockK: 128, overlap: true, producer: true },
  { warpgroups: 2, blockK: 64, overlap: true, producer: true, pingpong: true },
  { warpgroups: 2, blockK: 128, overlap: true, producer: true, pingpong: true },
  { warpgroups: 2, blockK: 128, overlap: true, producer: true, pingpong: true, persistent: true },
  { warpgroups: 2, blockK: 64, overlap: true, producer: true, pingpong: true, persistent: true },
  { warpgroups: 2, blockK: 64, overlap: false, producer: true, persistent: true },
  { warpgroups: 2, blockK: 128, overlap: false, producer: true, persistent: true },
  { warpgroups: 2, blockK: 64, overlap: false, producer: true, stages: 3 },
  { warpgroups: 3, blockK: 64, overlap: false, producer: true },
];

/** A program file, or with `source` the program's text (`program` then names it). */
type Case = { program: string; source?: string; defines: Record<string, number>; sizes: Record<string, number>; scalars?: Record<string, number>; note: string };

/** DeepSeek MLA's shape: q and k of head dim DK (576), v and o of DV (512); causal from the bottom right (decode). */
const mla = (dtype: string, lse: boolean, causal = true) => `const DK = 576
const DV = 512
kernel mla_${dtype}${lse ? "_lse" : ""}${causal ? "" : "_full"}(q: ${dtype}[B, H, N, DK], k: ${dtype}[B, H, M, DK], v: ${dtype}[B, H, M, DV]) -> (o: ${dtype}[B, H, N, DV]${lse ? ", lse: f32[B, H, N]" : ""}) {
  s[b, h, i, j] = ${causal ? "where(j <= i + M - N, sum[d](q[b, h, i, d] * k[b, h, j, d]) * rsqrt(DK), -inf)" : "sum[d](q[b, h, i, d] * k[b, h, j, d]) * rsqrt(DK)"}
  o[b, h, i, e] = sum[j](softmax[j](s[b, h, i, j]) * v[b, h, j, e])${lse ? "\n  lse[b, h, i] = logsumexp[j](s[b, h, i, j])" : ""}
}
`;

const programs = "bench/cuda/programs";
const examples = "examples";
const cases: Case[] = [
  { program: `${programs}/full.attn`, defines: { D: 64 }, sizes: { B: 2, H: 3, N: 77, M: 77 }, note: "full D=64 ragged" },
  { program: `${programs}/full.attn`, defines: { D: 128 }, sizes: { B: 1, H: 2, N: 130, M: 61 }, note: "full D=128 N!=M" },
  { program: `${programs}/causal.attn`, defines: { D: 64 }, sizes: { B: 2, H: 2, N: 100, M: 100 }, note: "causal" },
  { program: `${programs}/causal.attn`, defines: { D: 128 }, sizes: { B: 1, H: 2, N: 50, M: 141 }, note: "causal N<M: top rows see few keys" },
  { program: `${programs}/causal.attn`, defines: { D: 64 }, sizes: { B: 1, H: 1, N: 90, M: 0 + 30 }, note: "causal N>M" },
  { program: `${programs}/sliding.attn`, defines: { D: 64 }, sizes: { B: 1, H: 2, N: 150, M: 150 }, scalars: { W: 37 }, note: "window 37" },
  { program: `${programs}/alibi.attn`, defines: { D: 64 }, sizes: { B: 2, H: 4, N: 70, M: 70 }, note: "alibi" },
  { program: `${programs}/softcap.attn`, defines: { D: 128 }, sizes: { B: 1, H: 2, N: 99, M: 99 }, scalars: { cap: 5 }, note: "softcap, large logits" },
  { program: `${programs}/document.attn`, defines: { D: 64 }, sizes: { B: 2, H: 2, N: 133 }, note: "documents" },
  { program: `${programs}/gqa-lse.attn`, defines: { D: 64 }, sizes: { B: 2, H: 4, HKV: 2, N: 45, M: 80 }, scalars: { G: 2 }, note: "GQA, sinks, lse" },
  // A run-time head dim: the naive schedule, its softmax with sinks and its lse lowered to row max, row sum, probs.
  { program: `${programs}/gqa-lse.attn`, defines: {}, sizes: { B: 2, H: 4, HKV: 2, N: 45, M: 80, D: 40 }, scalars: { G: 2 }, note: "GQA, sinks, lse, run-time D (naive)" },
  // Several 128-key tiles, ragged at both ends, so the double-buffered wgmma kernel cycles through its buffers.
  { program: `${programs}/full.attn`, defines: { D: 128 }, sizes: { B: 1, H: 2, N: 300, M: 517 }, note: "full D=128 multi-tile" },
  { program: `${programs}/causal.attn`, defines: { D: 64 }, sizes: { B: 1, H: 2, N: 333, M: 333 }, note: "causal D=64 multi-tile" },
  { program: `${programs}/causal.attn`, defines: { D: 128 }, sizes: { B: 1, H: 1, N: 290, M: 290 }, note: "causal D=128 multi-tile" },
  { program: `${programs}/document.attn`, defines: { D: 128 }, sizes: { B: 1, H: 2, N: 400 }, note: "documents D=128 multi-tile" },
  { program: `${programs}/sliding.attn`, defines: { D: 128 }, sizes: { B: 1, H: 1, N: 420, M: 420 }, scalars: { W: 150 }, note: "window 150, multi-tile" },
  { program: `${programs}/alibi.attn`, defines: { D: 128 }, sizes: { B: 1, H: 3, N: 260, M: 260 }, note: "alibi D=128 multi-tile" },
  // More query tiles than an H100 or H200 has SMs (132), so that persistent blocks take several items each.
  { program: `${programs}/full.attn`, defines: { D: 64 }, sizes: { B: 1, H: 67, N: 131, M: 40 }, note: "full D=64, 134 query tiles" },
  { program: `${programs}/causal.attn`, defines: { D: 64 }, sizes: { B: 1, H: 67, N: 130, M: 130 }, note: "causal D=64, 134 query tiles" },
  { program: `${programs}/document.attn`, defines: { D: 128 }, sizes: { B: 67, H: 1, N: 129 }, note: "documents D=128, 134 query tiles" },
  // Products of sizes as dims: the query heads are HKV * G, rows over a product extent.
  { program: `${examples}/gqa.attn`, defines: { D: 128 }, sizes: { B: 1, HKV: 2, G: 4, N: 200 }, note: "GQA with dims HKV * G, D=128 multi-tile" },
  { program: `${programs}/sigmoid-f32.attn`, defines: { D: 32 }, sizes: { B: 3, H: 2, N: 41, M: 57 }, scalars: { bias: -1 }, note: "sigmoid f32 SIMT, key padding incl. klen=0" },
  // Wide head dims: the mma kernel with the value columns in slices of 256 (blockIdx.z), several query and key tiles.
  { program: `${programs}/full.attn`, defines: { D: 512 }, sizes: { B: 1, H: 2, N: 130, M: 77 }, note: "full D=512, 2 value slices" },
  { program: `${programs}/causal.attn`, defines: { D: 512 }, sizes: { B: 1, H: 2, N: 150, M: 150 }, note: "causal D=512, 2 value slices" },
  { program: `${programs}/gqa-lse.attn`, defines: { D: 512 }, sizes: { B: 1, H: 4, HKV: 2, N: 45, M: 80 }, scalars: { G: 2 }, note: "GQA, sinks, lse D=512 slices" },
  { program: "mla_f16.attn", source: mla("f16", false), defines: {}, sizes: { B: 2, H: 3, N: 5, M: 300 }, note: "MLA 576/512 decode causal f16" },
  { program: "mla_f16_full.attn", source: mla("f16", false, false), defines: {}, sizes: { B: 1, H: 2, N: 70, M: 90 }, note: "MLA 576/512 full f16" },
  { program: "mla_bf16_lse.attn", source: mla("bf16", true), defines: {}, sizes: { B: 1, H: 2, N: 67, M: 140 }, note: "MLA 576/512 causal bf16, lse" },
  // Wide head dims on the SIMT kernel: 16 lanes a row (f32 576/512); 32 lanes and dynamic shared memory (D=1024).
  { program: "mla_f32_lse.attn", source: mla("f32", true), defines: {}, sizes: { B: 1, H: 2, N: 37, M: 100 }, note: "MLA 576/512 causal f32 SIMT, lse" },
  { program: `${programs}/causal.attn`, defines: { D: 1024 }, sizes: { B: 1, H: 2, N: 40, M: 45 }, note: "causal D=1024 SIMT, dynamic smem" },
  { program: `${programs}/sigmoid-f32.attn`, defines: { D: 1024 }, sizes: { B: 3, H: 1, N: 20, M: 41 }, scalars: { bias: -1 }, note: "sigmoid f32 D=1024 SIMT, dynamic smem, klen=0 in batch 0" },
];
for (const f of (() => { try { return readdirSync(examples).filter((x) => x.endsWith(".attn")).sort(); } catch { return []; } })()) {
  cases.push({ program: join(examples, f), defines: {}, sizes: {}, note: `example ${f}` });
}

let seed = 12345;
const random = () => {
  seed = (seed * 1103515245 + 12345) & 0x7fffffff;
  return seed / 0x7fffffff;
};
const normal = () => Math.sqrt(-2 * Math.log(random() + 1e-12)) * Math.cos(2 * Math.PI * random());

const out = process.argv[2] ?? "tmp/cuda-cases";
mkdirSync(join(out, "kernels"), { recursive: true });
const index: unknown[] = [];
const compiled = new Set<string>();
for (const [n, c] of cases.entries()) {
  const source = c.source ?? readFileSync(c.program, "utf8");
  // Each case runs both kernels an H100 can take: the sm_80 one (mma.sync) and the sm_90a one (wgmma where it applies).
  const [result, hopper] = (["sm_80", "sm_90a"] as const).map((arch) => compile(source, { fileName: c.program, defines: c.defines, target: "cuda", arch }));
  const errors = [...result.diagnostics, ...hopper.diagnostics].filter((d) => d.severity === "error");
  if (errors.length > 0) throw new Error(`${c.program}: ${errors.map((e) => e.message).join("; ")}`);
  for (const [x, k] of result.kernels.entries()) {
    const base = `${k.name}_${Object.entries(c.defines).map(([a, b]) => `${a}${b}`).join("_") || "default"}`;
    // Pins apply to fused stages: none where the kernel runs the naive schedule (paged-kv.attn, a run-time D), and
    // the shapes, pinned in every fused stage, only where each runs wgmma (not attention-of-attention.attn, whose
    // second chain reads an f32 query).
    const hopperStages = hopper.kernels[x].manifest.tileSchedule!.cuda!.stages;
    const fused = hopperStages.some((s) => s.kind === "fused");
    const wgmma = fused && hopperStages.every((s) => s.kind !== "fused" || s.path === "wgmma");
    // Both defaults again with a small L2 budget, so that the launch's row groups (3 rows of M = 77 at D = 64, 4
    // of the f32 case) end in a partial group in several cases.
    const tags = [`${base}_sm80`, `${base}_sm90a`, ...(fused ? [`${base}_sm80_grouped`, `${base}_sm90a_grouped`] : []), ...(wgmma ? shapes.map((s) => `${base}_sm90a_${wgmmaShapeTag(s)}`) : [])];
    if (!compiled.has(base)) {
      compiled.add(base);
      const plan = planKernel(k.checked).plan;
      const grouped = fused ? (["sm_80", "sm_90a"] as const).map((arch) => pinnedCuda(plan, arch, { l2Budget: 60_000 }).source) : [];
      const sources = [k.cuda!, hopper.kernels[x].cuda!, ...grouped, ...(wgmma ? shapes.map((s) => pinnedCuda(plan, "sm_90a", wgmmaPin(s)).source) : [])];
      sources.forEach((source, y) => {
        writeFileSync(join(out, "kernels", `${tags[y]}.cu`), source.replaceAll(`attnc_${k.name}`, `attnc_${tags[y]}`));
        writeFileSync(join(out, "kernels", `${tags[y]}.json`), JSON.stringify(k.manifest, null, 1));
      });
    }
    const sizes = defaultSizes(k.checked, c.sizes);
    const args: Record<string, Float64Array | number> = {};
    const ext = (e: Extent) => extentValueOf(e, (name) => sizes[name]);
    for (const t of k.checked.inputs) {
      const dims = t.dims.map(ext);
      const count = dims.reduce((a, b) => a * b, 1);
      if (t.dtype === "i32") args[t.name] = intInput(t.name, dims, sizes);
      else args[t.name] = Float64Array.from({ length: count }, () => normal() * (c.note.includes("large") ? 8 : 1));
    }
    for (const s of k.checked.scalars) args[s.name] = c.scalars?.[s.name] ?? (s.dtype === "i32" ? 2 : 0.5);
    const expected = interpret(k.checked, args, sizes);
    const dir = join(out, `case${n}`);
    mkdirSync(dir, { recursive: true });
    for (const t of k.checked.inputs) {
      const a = args[t.name] as Float64Array;
      writeFileSync(join(dir, `${t.name}.bin`), Buffer.from(t.dtype === "i32" ? Int32Array.from(a).buffer : Float32Array.from(a).buffer));
    }
    for (const [name, a] of Object.entries(expected)) writeFileSync(join(dir, `${name}.expected.bin`), Buffer.from(a.buffer));
    for (const tag of tags) {
      index.push({ dir: `case${n}`, kernel: tag, note: `${c.note} (${tag.slice(base.length + 1)})`, program: basename(c.program), sizes, scalars: Object.fromEntries(k.checked.scalars.map((s) => [s.name, args[s.name]])) });
    }
  }
}
writeFileSync(join(out, "cases.json"), JSON.stringify(index, null, 1));
console.log(`${index.length} cases in ${out}`);

function defaultSizes(k: CheckedKernel, given: Record<string, number>): Record<string, number> {
  const sizes: Record<string, number> = {};
  const fallback: Record<string, number> = { B: 2, H: 4, HKV: 2, N: 67, M: 83, W: 16, C: 16 };
  for (const s of k.sizes) sizes[s] = given[s] ?? fallback[s] ?? 5;
  return sizes;
}

/** Integer inputs: sorted small ids along the last axis (documents), or lengths with a zero (padding, prefixes). */
function intInput(name: string, dims: number[], sizes: Record<string, number>): Float64Array {
  const count = dims.reduce((a, b) => a * b, 1);
  const last = dims[dims.length - 1] ?? 1;
  if (dims.length >= 2) return documentIds(count, last, random, 0.05);
  const limit = Math.max(sizes.M ?? 0, sizes.N ?? 0, 1);
  void name;
  return Float64Array.from({ length: count }, (_, x) => (x === 0 ? 0 : Math.floor(random() * limit)));
}
