// Emit (CUDA): the naive schedule prints the plan lowered once (plan/naive-lower.ts), the one WGSL prints: a
// softmax's row max, row sum and probabilities are kernels of their own, never recomputed for every element, and the
// intermediates are scratch of the launch, not part of its ABI.
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { compile, type CompiledKernel } from "../../src/compile.js";

const run = promisify(execFile);

const compiled = (path: string, arch: "sm_80" | "sm_90a", schedule: "auto" | "naive"): CompiledKernel => {
  const result = compile(readFileSync(path, "utf8"), { fileName: path, target: "all", arch, schedule });
  expect(result.diagnostics.filter((d) => d.severity === "error")).toEqual([]);
  return result.kernels[0];
};

const kernelCount = (cuda: string) => [...cuda.matchAll(/__global__ void/g)].length;

describe("the CUDA naive schedule", () => {
  it("runs the lowered naive plan WGSL runs, a kernel a stage, and keeps the manifest and header to inputs and outputs", () => {
    // causal.attn asked naive; gqa-lse.attn (sinks and an lse) falls back to naive with its head dim a run-time size.
    for (const [path, schedule] of [["examples/causal.attn", "naive"], ["bench/cuda/programs/gqa-lse.attn", "auto"]] as const) {
      const k = compiled(path, "sm_80", schedule);
      const cuda = k.manifest.tileSchedule!.cuda!;
      const wgsl = k.manifest.tileSchedule!.wgsl!;
      expect(cuda.plan).toBe("naive");
      expect(cuda.stages.map((s) => s.output)).toEqual(wgsl.stages.map((s) => s.output));
      expect(cuda.stages.map((s) => s.output)).toEqual(expect.arrayContaining(["o_rowmax", "o_rowsum", "o_probs"]));
      expect(kernelCount(k.cuda!)).toBe(k.wgslPlan!.stages.length);
      expect(kernelCount(k.cuda!)).toBeGreaterThan(k.plan.stages.length);
      // No kernel recomputes a softmax (expr.ts names its row max and sum sm_max, sm_sum when it prints one inline).
      expect(k.cuda).not.toMatch(/sm_max|sm_sum/);
      // The intermediates are scratch the launch allocates and frees, one each, and appear in no interface.
      const scratch = k.wgslPlan!.buffers.length;
      expect([...k.cuda!.matchAll(/cudaMallocAsync\(&scratch\[/g)].length).toBe(scratch);
      expect([...k.cuda!.matchAll(/cudaFreeAsync\(scratch\[/g)].length).toBe(scratch);
      expect(k.manifest.tensors.map((t) => t.role)).not.toContain("intermediate");
      expect(k.manifest.tensors.map((t) => t.name)).toEqual([...k.checked.inputs, ...k.checked.outputs].map((t) => t.name));
      expect(k.header).not.toMatch(/o_rowmax|o_rowsum|o_probs/);
    }
  });

  it("compiles with nvcc for sm_80 and sm_90a without warnings", async () => {
    const dir = mkdtempSync(join(tmpdir(), "attnc-naive-"));
    try {
      for (const [arch, flag] of [["sm_80", "-gencode=arch=compute_80,code=sm_80"], ["sm_90a", "-gencode=arch=compute_90a,code=sm_90a"]] as const) {
        const k = compiled("examples/causal.attn", arch, "naive");
        const file = join(dir, `causal_${arch}.cu`);
        writeFileSync(file, k.cuda!);
        writeFileSync(join(dir, "causal.h"), k.header!);
        const { stderr } = await run("nvcc", ["-c", flag, "-o", `${file}.o`, file], { maxBuffer: 1 << 24 });
        expect(stderr.split("\n").filter((l) => /warning|error/i.test(l))).toEqual([]);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 300_000);
});
