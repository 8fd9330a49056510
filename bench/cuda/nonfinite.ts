// Non-finite semantics on the GPU (docs/language.md section 7): writes, for a few programs with +inf/-inf/NaN scores,
// sinks and divisors, each fused CUDA kernel (tensor cores mma.sync and wgmma, and SIMT), a host driver (no torch),
// its f32 inputs and the interpreter's outputs. Usage:
//   tsx bench/cuda/nonfinite.ts OUTDIR            # here
//   cd OUTDIR/<case> && nvcc -O3 -gencode=arch=compute_90a,code=sm_90a -o run kernel.cu main.cu && ./run in.bin out.bin
//   tsx bench/cuda/nonfinite.ts --check OUTDIR    # here, with each out.bin copied back beside its case
import { existsSync, mkdirSync, writeFileSync, readFileSync } from "node:fs";
import { compile } from "../../src/compile.js";
import { nonFiniteMismatches } from "../../test/support/nonfinite.js";
import { interpret } from "../../src/interp/interpret.js";
import { nonFiniteProgram, nonFiniteArgs } from "../../test/support/nonfinite.js";
import { rng } from "../../src/interp/inputs.js";
import { roundTo } from "../../src/interp/dtype.js";
const tc = (dt: string) => `const D = 64
kernel tc_${dt}(q: ${dt}[B, H, N, D], k: ${dt}[B, H, M, D], v: ${dt}[B, H, M, D], bias: f32[B, H, N, M], sinks: f32[H]) -> (o: f32[B, H, N, D], lse: f32[B, H, N]) {
  s[b, h, i, j] = where(j <= i + 40, sum[d](q[b, h, i, d] * k[b, h, j, d]) * rsqrt(D) + bias[b, h, i, j], -inf)
  o[b, h, i, e] = sum[j](softmax[j](s[b, h, i, j], sink: sinks[h]) * v[b, h, j, e])
  lse[b, h, i] = logsumexp[j](s[b, h, i, j])
}`;
const special = [Infinity, -Infinity, NaN];
type Job = { name: string; source: string; arch: "sm_80" | "sm_90a"; sizes: Record<string, number>; args: (k: any) => Record<string, Float64Array> };
const tcArgs = (sizes: Record<string, number>) => (k: any) => {
  const r = rng(7); const { B, H, N, M } = sizes;
  const mk = (n: number, f: () => number) => Float64Array.from({ length: n }, f);
  return {
    q: mk(B * H * N * 64, () => r() * 2 - 1), k: mk(B * H * M * 64, () => r() * 2 - 1), v: mk(B * H * M * 64, () => r() * 2 - 1),
    // rows: mostly finite; some rows get a +inf, some a NaN, at random keys
    bias: mk(B * H * N * M, () => (r() < 0.004 ? special[Math.floor(r() * 3)] : r() - 0.5)),
    sinks: Float64Array.from([0.5, Infinity, NaN, -Infinity].slice(0, H)),
  };
};
const check = process.argv[2] === "--check";
const root = process.argv[check ? 3 : 2];
if (root === undefined) throw new Error("usage: tsx bench/cuda/nonfinite.ts [--check] OUTDIR");
const jobs: Job[] = [];
for (const arch of ["sm_80", "sm_90a"] as const) for (const dt of ["bf16", "f16"]) {
  const sizes = { B: 1, H: 4, N: 200, M: 300 };
  jobs.push({ name: `tc_${dt}_${arch}`, source: tc(dt), arch, sizes, args: tcArgs(sizes) });
}
for (const [n, v] of ([["simt_bias", { mod: "bias", mask: "j <= i", normaliser: "sink" }], ["simt_plusinf", { mod: "plus-inf", normaliser: "softmax" }], ["simt_div", { mod: "divide", mask: "j < klen[b]", normaliser: "sink" }], ["simt_m0", { mod: "plain", normaliser: "sink" }]] as const)) {
  const sizes = { B: 5, N: 37, M: n === "simt_m0" ? 0 : 45 };
  jobs.push({ name: n, source: nonFiniteProgram(v as any), arch: "sm_90a", sizes, args: (k) => nonFiniteArgs(k, sizes as any, 11) });
}
const ctype: Record<string, string> = { f16: "__half", bf16: "__nv_bfloat16", f32: "float", i32: "int" };
const conv: Record<string, string> = { f16: "__float2half", bf16: "__float2bfloat16", f32: "", i32: "(int)" };
if (check) {
  let failed = 0;
  for (const j of jobs) {
    const dir = `${root}/${j.name}`;
    if (!existsSync(`${dir}/out.bin`)) { console.log(`${j.name}: no out.bin`); failed++; continue; }
    // A small file's Buffer is a view into Node's shared pool: take its own bytes, not the pool's.
    const bytes = readFileSync(`${dir}/out.bin`);
    const got = new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
    const want = JSON.parse(readFileSync(`${dir}/want.json`, "utf8")) as Record<string, string[]>;
    let off = 0;
    for (const [name, values] of Object.entries(want)) {
      const bad = nonFiniteMismatches(got.subarray(off, off + values.length), values.map(Number), 2e-2);
      off += values.length;
      console.log(`${j.name} ${name}: ${bad.length === 0 ? "ok" : `${bad.length} mismatches, ${bad.slice(0, 3).join("; ")}`}`);
      if (bad.length > 0) failed++;
    }
  }
  process.exit(failed > 0 ? 1 : 0);
}
const manifest: any[] = [];
for (const j of jobs) {
  const r = compile(j.source, { target: "cuda", arch: j.arch });
  const k = r.kernels[0];
  const dir = `${root}/${j.name}`; mkdirSync(dir, { recursive: true });
  writeFileSync(`${dir}/kernel.cu`, k.cuda!);
  const args = j.args(k.checked);
  const want = interpret(k.checked, args, j.sizes);
  const tensors = [...k.checked.inputs, ...k.checked.outputs];
  const ext = (e: any) => (e.kind === "const" ? e.value : j.sizes[e.name]);
  const numel = (t: any) => t.dims.reduce((a: number, d: any) => a * ext(d), 1);
  const inputData = new Float32Array(k.checked.inputs.reduce((a, t) => a + numel(t), 0));
  let off = 0;
  for (const t of k.checked.inputs) { inputData.set(Float32Array.from(args[t.name], (x) => roundTo(t.dtype, x)), off); off += numel(t); }
  writeFileSync(`${dir}/in.bin`, Buffer.from(inputData.buffer));
  const w: string[] = [`#include <cstdio>\n#include <cstdint>\n#include <vector>\n#include <cuda_runtime.h>\n#include <cuda_fp16.h>\n#include <cuda_bf16.h>`,
    `extern "C" int attnc_${k.name}_launch(void* const*, const int64_t*, const int64_t*, const double*, cudaStream_t);`,
    `int main(int argc, char** argv) {`, `FILE* f = fopen(argv[1], "rb"); std::vector<float> in(${inputData.length}); if (${inputData.length} > 0 && fread(in.data(), 4, in.size(), f) != in.size()) return 2; fclose(f);`,
    `void* t[${tensors.length}]; int64_t st[${Math.max(1, tensors.reduce((a, t) => a + t.dims.length, 0))}]; int sx = 0; size_t off = 0;`];
  for (const [x, t] of tensors.entries()) {
    const n = numel(t); const dims = t.dims.map(ext);
    w.push(`{ std::vector<${ctype[t.dtype]}> h(${Math.max(1, n)}); ${t.role === "input" ? `for (size_t e = 0; e < ${n}; ++e) h[e] = ${conv[t.dtype]}(in[off + e]); off += ${n};` : ""} cudaMalloc(&t[${x}], ${Math.max(1, n)} * sizeof(${ctype[t.dtype]})); cudaMemcpy(t[${x}], h.data(), ${Math.max(1, n)} * sizeof(${ctype[t.dtype]}), cudaMemcpyHostToDevice);`);
    dims.forEach((_: number, d: number) => w.push(`st[sx++] = ${dims.slice(d + 1).reduce((a: number, b: number) => a * b, 1)};`));
    w.push(`}`);
  }
  w.push(`int64_t sizes[${Math.max(1, k.checked.sizes.length)}] = {${k.checked.sizes.map((s) => j.sizes[s]).join(", ")}}; double scalars[1] = {0};`);
  w.push(`int err = attnc_${k.name}_launch(t, st, sizes, scalars, 0); cudaError_t e2 = cudaDeviceSynchronize(); if (err || e2) { printf("launch error %d %d\\n", err, (int)e2); return 1; }`);
  w.push(`FILE* o = fopen(argv[2], "wb");`);
  for (const [x, t] of tensors.entries()) if (t.role === "output") w.push(`{ std::vector<float> h(${Math.max(1, numel(t))}); cudaMemcpy(h.data(), t[${x}], ${Math.max(1, numel(t))} * 4, cudaMemcpyDeviceToHost); fwrite(h.data(), 4, ${numel(t)}, o); }`);
  w.push(`fclose(o); printf("ok\\n"); return 0; }`);
  writeFileSync(`${dir}/main.cu`, w.join("\n"));
  manifest.push({ name: j.name, outputs: k.checked.outputs.map((t) => ({ name: t.name, n: numel(t) })), stages: k.cuda!.split("\n")[1] });
  writeFileSync(`${dir}/want.json`, JSON.stringify(Object.fromEntries(k.checked.outputs.map((t) => [t.name, [...want[t.name]].map(String)]))));
}
writeFileSync(`${root}/jobs.json`, JSON.stringify(manifest, null, 1));
console.log(manifest.map((m) => `${m.name}: ${m.stages}`).join("\n"));
