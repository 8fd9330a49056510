// Emit (CUDA): a fused plan whose head dims are run-time sizes compiles as the naive schedule, with a warning that
// says why and how to fix it, never as text that does not compile.
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { compile } from "../../src/compile.js";

const run = promisify(execFile);

describe("a symbolic head dim in CUDA", () => {
  it("runs the naive schedule with a warning, and nvcc compiles it for sm_80 and sm_90a without warnings", async () => {
    const source = readFileSync("bench/cuda/programs/gqa-lse.attn", "utf8");
    const dir = mkdtempSync(join(tmpdir(), "attnc-fallback-"));
    try {
      for (const arch of ["sm_80", "sm_90a"] as const) {
        const result = compile(source, { fileName: "gqa-lse.attn", target: "cuda", arch });
        expect(result.kernels[0].plan.schedule).toBe("fused");
        const warnings = result.diagnostics.filter((d) => d.severity === "warning" && d.message.includes("naive schedule")).map((d) => d.message);
        expect(warnings).toEqual([expect.stringMatching(/^the CUDA kernel `gqa_lse` runs the naive schedule: the head dim `d` has the run-time extent `D`.*`const D = \.\.\.` or --define D=\.\.\./)]);
        const cuda = result.kernels[0].cuda!;
        expect(cuda).toContain("naive schedule");
        expect(cuda).not.toContain("undefined");
        const file = join(dir, `gqa_lse_${arch}.cu`);
        writeFileSync(file, cuda);
        const flag = arch === "sm_80" ? "-gencode=arch=compute_80,code=sm_80" : "-gencode=arch=compute_90a,code=sm_90a";
        const { stderr } = await run("nvcc", ["-c", flag, "-o", `${file}.o`, file], { maxBuffer: 1 << 24 });
        expect(stderr.split("\n").filter((l) => /warning|error/i.test(l))).toEqual([]);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 300_000);
});
