// Benchmark (WebGPU): on the adapter at hand, checks every example (fused and naive, three storage types) against
// the float64 reference, then times the fused kernel against the naive plan for full and causal attention.
// Usage: node run.mjs CASES.json [--quick] [--no-checks]   (bundled by bench/webgpu/bundle.sh; see bench/webgpu/README.md)
import { readFileSync } from "node:fs";
import { createRunner, releaseDevice, requestDevice, type Runner } from "../../src/runtime/index.js";
import { compare, withinTolerance } from "../../src/interp/inputs.js";
import { decodeCases } from "./cases.js";
import type { DType } from "../../src/syntax/ast.js";

const file = decodeCases(readFileSync(process.argv[2] ?? "tmp/webgpu-bench/cases.json", "utf8"));
const quick = process.argv.includes("--quick");
const checks = process.argv.includes("--no-checks") ? [] : file.checks;
const info = await requestDevice();
const { device } = info;
console.log(`adapter: ${info.description}; shader-f16 ${info.features.shaderF16}, subgroups ${info.features.subgroups}, workgroup memory ${info.limits.maxComputeWorkgroupStorageSize} B, storage binding ${info.limits.maxStorageBufferBindingSize} B`);
console.log(`cases made ${file.made}; run ${new Date().toISOString()}`);

let failed = 0;
for (const c of checks) {
  try {
    const run = await createRunner(c.kernel, { device, guardWords: 64 });
    const got = await run(c.args, c.sizes);
    for (const t of c.kernel.manifest.tensors.filter((x) => x.role === "output")) {
      const cmp = compare(got[t.name], c.want[t.name]);
      if (!withinTolerance(cmp, t.dtype as DType)) {
        failed++;
        console.log(`FAILED ${c.file} ${c.dtype} ${c.schedule} ${t.name}: max error ${cmp.maxRel.toExponential(2)}, ${cmp.nan} NaN, ${cmp.zeroMismatches} zeros differ`);
      }
    }
  } catch (e) {
    failed++;
    console.log(`FAILED ${c.file} ${c.dtype} ${c.schedule}: ${(e as Error).message}`);
  }
}
console.log(`checks: ${checks.length - failed} of ${checks.length} passed (every example x f32/f16/bf16 x fused/naive, N=37 M=53, guard regions intact)`);

/** Median milliseconds per run, over batches of runs in one submission each. */
async function time(run: Runner, inputs: Record<string, Float32Array>, sizes: Record<string, number>): Promise<number> {
  const bound = run.bind(inputs, sizes);
  try {
    // Warm-up: at least 200 ms of this kernel, so that clocks are up and caches warm (an idle GPU starts slow).
    let once = await bound.dispatch(1);
    for (let spent = once; spent < (quick ? 0 : 200); ) {
      const t = await bound.dispatch(Math.max(1, Math.min(50, Math.round(50 / once))));
      spent += t;
      once = Math.min(once, await bound.dispatch(1));
    }
    once = Math.min(once, await bound.dispatch(1));
    const batch = Math.max(1, Math.min(50, Math.round((quick ? 50 : 300) / once)));
    const samples: number[] = [];
    for (let r = 0; r < (quick ? 1 : 5); r++) samples.push((await bound.dispatch(batch)) / batch);
    return samples.sort((a, b) => a - b)[Math.floor(samples.length / 2)];
  } finally {
    bound.destroy();
  }
}

const shapes = quick ? [{ N: 256, B: 1, H: 2 }] : [{ N: 1024, B: 4, H: 8 }, { N: 4096, B: 1, H: 8 }];
const rows: string[] = ["| variant | D | N | B×H | fused ms | fused TFLOP/s | naive ms | naive TFLOP/s | fused / naive |", "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"];
for (const { N, B, H } of shapes) {
  for (const program of ["full", "causal"]) {
    for (const D of [64, 128]) {
      const sizes = { B, H, N, M: N };
      const count = B * H * N * D;
      const random = () => Float32Array.from({ length: count }, () => Math.random() * 2 - 1);
      const inputs = { q: random(), k: random(), v: random() };
      const unmasked = program === "causal" ? (N + 1) / (2 * N) : 1;
      const flops = 4 * B * H * N * N * D * unmasked;
      const ms: Record<string, number | string> = {};
      for (const schedule of ["fused", "naive"]) {
        const t = file.timed.find((x) => x.program === program && x.D === D && x.schedule === schedule)!;
        try {
          ms[schedule] = await time(await createRunner(t.kernel, { device }), inputs, sizes);
        } catch (e) {
          ms[schedule] = (e as Error).message.slice(0, 80);
        }
      }
      const show = (x: number | string) => (typeof x === "number" ? x.toFixed(3) : x);
      const tflops = (x: number | string) => (typeof x === "number" ? (flops / (x * 1e-3) / 1e12).toPrecision(3) : "-");
      const ratio = typeof ms.fused === "number" && typeof ms.naive === "number" ? `${(ms.naive / ms.fused).toFixed(1)}×` : "-";
      rows.push(`| ${program} | ${D} | ${N} | ${B}×${H} | ${show(ms.fused)} | ${tflops(ms.fused)} | ${show(ms.naive)} | ${tflops(ms.naive)} | ${ratio} |`);
      console.log(rows[rows.length - 1]);
    }
  }
}
console.log(`\nf16 storage (packed in u32), useful FLOPs 4·B·H·N·M·D × unmasked fraction\n${rows.join("\n")}`);
await releaseDevice();
process.exit(failed > 0 ? 1 : 0);
