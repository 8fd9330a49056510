// Emit (CUDA): wide head dims (D = 512, and DeepSeek MLA's 576 for q and k with 512 for v) get kernels that nvcc
// compiles for sm_80 and sm_90a without errors, warnings or register spills: the tensor-core kernel with the value
// columns in slices for 16-bit storage, the SIMT kernel with several threads a query row for f32.
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { compile } from "../../src/compile.js";
import { maxSharedBytes, mmaValueSlice, simtShape, simtSmemBytes } from "../../src/schedule/choose-cuda.js";

const run = promisify(execFile);

const program = (name: string, dtype: string, dk: number, dv: number, mask: string | undefined, lse = false): string => `
const DK = ${dk}
const DV = ${dv}
kernel ${name}(q: ${dtype}[B, H, N, DK], k: ${dtype}[B, H, M, DK], v: ${dtype}[B, H, M, DV]) -> (o: ${dtype}[B, H, N, DV]${lse ? ", lse: f32[B, H, N]" : ""}) {
  s[b, h, i, j] = ${mask ? `where(${mask}, sum[d](q[b, h, i, d] * k[b, h, j, d]) * rsqrt(DK), -inf)` : "sum[d](q[b, h, i, d] * k[b, h, j, d]) * rsqrt(DK)"}
  o[b, h, i, e] = sum[j](softmax[j](s[b, h, i, j]) * v[b, h, j, e])${lse ? "\n  lse[b, h, i] = logsumexp[j](s[b, h, i, j])" : ""}
}
`;

/** Each kernel with the path and the tile constants it must get. */
const kernels: { source: string; expect: string[]; warning?: RegExp }[] = [
  { source: program("full512", "f16", 512, 512, undefined), expect: ["fused o (tensor cores)", "constexpr int D = 512, DV = 256,"] },
  { source: program("causal512", "f16", 512, 512, "j <= i"), expect: ["fused o (tensor cores)", "constexpr int D = 512, DV = 256,"] },
  { source: program("mla_full", "f16", 576, 512, undefined), expect: ["fused o (tensor cores)", "constexpr int D = 576, DV = 256,"] },
  // Decode-style causal (the last query sees every key), bf16, with a second output that one slice alone writes.
  { source: program("mla_causal", "bf16", 576, 512, "j <= i + M - N", true), expect: ["fused o (tensor cores)", "constexpr int D = 576, DV = 256,", "(lane & 3) == 0 && blockIdx.z == 0"] },
  { source: program("mla_f32", "f32", 576, 512, "j <= i + M - N"), expect: ["fused o (SIMT)", "LANES = 16"] },
  // Past what either fused kernel's registers and shared memory take: the naive schedule, with a warning.
  { source: program("huge", "f16", 2048, 2048, "j <= i"), expect: ["naive schedule"], warning: /^the CUDA kernel `huge` runs the naive schedule: the head dims `d` = 2048 and `e` = 2048 are too wide/ },
];

describe("wide head dims in CUDA", () => {
  it("slice the value columns of the tensor-core kernel into equal parts of at most 256, multiples of 16", () => {
    expect([64, 256, 512, 576, 320, 1024, 272, 4096].map(mmaValueSlice)).toEqual([64, 256, 256, 192, 160, 256, undefined, 256]);
  });

  it("give the SIMT kernel several lanes a row past 128, within registers and shared memory", () => {
    expect(simtShape(128, 128)).toEqual({ blockQ: 32, blockK: 16, lanes: 1, threads: 32 });
    expect(simtShape(576, 512)).toEqual({ blockQ: 16, blockK: 8, lanes: 16, threads: 256 });
    expect(simtShape(256, 256)).toEqual({ blockQ: 32, blockK: 16, lanes: 8, threads: 256 });
    expect(simtShape(2048, 2048)).toBeUndefined();
    for (const [d, dv] of [[256, 256], [576, 512], [1024, 1024], [64, 2048], [2048, 512]]) {
      const shape = simtShape(d, dv)!;
      expect(Math.ceil(d / shape.lanes) + Math.ceil(dv / shape.lanes)).toBeLessThanOrEqual(80);
      expect(simtSmemBytes(d, dv, shape)).toBeLessThanOrEqual(maxSharedBytes);
    }
  });

  it("compile for sm_80 and sm_90a without errors, warnings or spills (D = 512; 576 for q and k, 512 for v)", async () => {
    const dir = mkdtempSync(join(tmpdir(), "attnc-large-head-"));
    try {
      // The kernels' paths and the nvcc results, reported together (before the fix: the SIMT kernel, 131 KB of
      // static shared memory that ptxas rejects for sm_80, and 10 KB of register spills).
      const failures: string[] = [];
      const jobs: Promise<string[]>[] = [];
      for (const arch of ["sm_80", "sm_90a"] as const) {
        // One translation unit an arch: each kernel's .cu in a namespace of its own, after the headers they include
        // (whose guards then keep them out of the namespaces), so that nvcc starts twice rather than ten times.
        const units: string[] = ["#include <cuda_runtime.h>", "#include <cuda_fp16.h>", "#include <cuda_bf16.h>", "#include <stdint.h>"];
        for (const [x, kernel] of kernels.entries()) {
          const result = compile(kernel.source, { fileName: `wide${x}.attn`, target: "cuda", arch });
          expect(result.diagnostics.map((d) => d.message)).toEqual(kernel.warning ? [expect.stringMatching(kernel.warning)] : []);
          const cuda = result.kernels[0].cuda!;
          for (const text of kernel.expect) if (!cuda.includes(text)) failures.push(`${result.kernels[0].name} ${arch}: no \`${text}\``);
          writeFileSync(join(dir, `k${x}_${arch}.cu`), cuda);
          units.push(`namespace unit${x} {`, `#include "k${x}_${arch}.cu"`, "}");
        }
        const file = join(dir, `all_${arch}.cu`);
        writeFileSync(file, `${units.join("\n")}\n`);
        const flag = arch === "sm_80" ? "-gencode=arch=compute_80,code=sm_80" : "-gencode=arch=compute_90a,code=sm_90a";
        jobs.push(run("nvcc", ["-c", flag, "-Xptxas", "-v", "-o", `${file}.o`, file], { maxBuffer: 1 << 24 }).then(
          ({ stderr }) => {
            const problems = stderr.split("\n").filter((line) => /warning|error/i.test(line));
            const spills = [...stderr.matchAll(/(\d+) bytes spill stores, (\d+) bytes spill loads/g)];
            expect(spills.length, stderr).toBeGreaterThan(kernels.length);
            problems.push(...spills.filter((m) => m[1] !== "0" || m[2] !== "0").map((m) => `register spills: ${m[0]}`));
            return problems.map((p) => `${arch}: ${p}`);
          },
          (e: { stderr?: string }) => [`${arch}: nvcc failed\n${e.stderr?.slice(-3000)}`],
        ));
      }
      expect([...failures, ...(await Promise.all(jobs)).flat()]).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 600_000);
});
