// Benchmark support (WebGPU): compiles the benchmark kernels (fused and naive) and the examples' check cases, with
// their float64 reference outputs, into one JSON file that bench/webgpu/run.ts reads on the machine with the GPU.
// Usage: tsx bench/webgpu/make.ts [OUT.json] [--workgroup-bytes N]
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { compile } from "../../src/compile.js";
import { interpret } from "../../src/interp/interpret.js";
import { randomArgs, rng } from "../../src/interp/inputs.js";
import { encodeCases, type BenchFile, type CheckCase, type TimedKernel } from "./cases.js";

const out = process.argv[2] ?? "tmp/webgpu-bench/cases.json";
const wantBytes = process.argv.indexOf("--workgroup-bytes");
// The H100 through Vulkan offers 48 KiB of workgroup memory; the runner re-emits for whatever the device has.
const wgslLimits = { maxWorkgroupStorageBytes: wantBytes > 0 ? Number(process.argv[wantBytes + 1]) : 49152 };

function compileOne(source: string, fileName: string, defines: Record<string, number>, schedule: "fused" | "naive") {
  const result = compile(source, { fileName, defines, schedule, target: "wgsl", wgslLimits });
  const errors = result.diagnostics.filter((d) => d.severity === "error");
  if (errors.length > 0) throw new Error(`${fileName}: ${errors.map((e) => e.message).join("; ")}`);
  const k = result.kernels[0];
  return { manifest: k.manifest, wgsl: k.wgsl!, plan: k.plan };
}

const timed: TimedKernel[] = [];
for (const program of ["full", "causal"] as const) {
  const path = `bench/cuda/programs/${program}.attn`;
  const source = readFileSync(path, "utf8").replaceAll("bf16[", "f16[");
  for (const D of [64, 128]) {
    for (const schedule of ["fused", "naive"] as const) timed.push({ program, D, schedule, dtype: "f16", kernel: compileOne(source, path, { D }, schedule) });
  }
}

// Every example, fused and naive, f32/f16/bf16 storage, at sizes that are multiples of no tile.
const scalars = { G: 2, W: 5, cap: 3, bias: -1 };
const sizes = { B: 2, H: 4, HKV: 2, N: 37, M: 53 };
const checks: CheckCase[] = [];
for (const file of readdirSync("examples").filter((f) => f.endsWith(".attn")).sort()) {
  for (const dtype of ["f32", "f16", "bf16"]) {
    const source = readFileSync(join("examples", file), "utf8").replace(/\b(f16|bf16|f32)\[/g, `${dtype}[`);
    const defines = { D: 16 };
    const naive = compileOne(source, file, defines, "naive");
    const k = compile(source, { fileName: file, defines, schedule: "naive", target: "wgsl" }).kernels[0].checked;
    const used = Object.fromEntries(k.sizes.map((s) => [s, sizes[s as keyof typeof sizes]]));
    const args = randomArgs(k, used, rng(7), { scalars });
    const want = interpret(k, args, used);
    const plain = (r: Record<string, Float64Array | number>) => Object.fromEntries(Object.entries(r).map(([n, v]) => [n, typeof v === "number" ? v : Array.from(v)]));
    for (const schedule of ["fused", "naive"] as const) {
      checks.push({ file, dtype, schedule, kernel: schedule === "naive" ? naive : compileOne(source, file, defines, "fused"), sizes: used, args: plain(args), want: plain(want) as Record<string, number[]> });
    }
  }
}

const bench: BenchFile = { made: new Date().toISOString(), timed, checks };
mkdirSync(dirname(out), { recursive: true });
writeFileSync(out, encodeCases(bench));
console.log(`wrote ${out}: ${timed.length} timed kernels, ${checks.length} check cases`);
