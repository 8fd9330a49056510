// Every emitted .cu compiles alone with plain nvcc for sm_80 and sm_90a, with no warnings and no register spills.
import { describe, expect, it } from "vitest";
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { compile } from "../../src/compile.js";

const run = promisify(execFile);
const programs = [
  ...readdirSync("bench/cuda/programs").map((f) => join("bench/cuda/programs", f)),
  ...(() => { try { return readdirSync("examples").map((f) => join("examples", f)); } catch { return []; } })(),
].filter((f) => f.endsWith(".attn")).sort();

const archs = [
  { arch: "sm_80" as const, flag: "-gencode=arch=compute_80,code=sm_80" },
  { arch: "sm_90a" as const, flag: "-gencode=arch=compute_90a,code=sm_90a" },
];

async function pool<T>(items: T[], workers: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: workers }, async () => {
    while (next < items.length) await work(items[next++]);
  }));
}

describe("emitted CUDA", () => {
  it(`compiles with nvcc for sm_80 and sm_90a without warnings or spills (${programs.length} programs)`, async () => {
    const dir = mkdtempSync(join(tmpdir(), "attnc-cuda-"));
    const jobs: { file: string; flag: string; label: string }[] = [];
    // Examples at their own head dim and at D = 128 (another tile shape); benchmark programs at D = 128.
    const builds = programs.flatMap((program) => (program.includes("bench/") ? [{ program, D: 128 }] : [{ program }, { program, D: 128 }]));
    for (const { program, D } of builds) {
      for (const { arch, flag } of archs) {
        const result = compile(readFileSync(program, "utf8"), { fileName: program, target: "cuda", arch, defines: D !== undefined ? { D } : {} });
        expect(result.diagnostics.filter((d) => d.severity === "error")).toEqual([]);
        for (const k of result.kernels) {
          expect(k.cuda, `${program}: ${k.name}`).toBeDefined();
          const file = join(dir, `${k.name}_${arch}${D !== undefined ? `_D${D}` : ""}.cu`);
          writeFileSync(file, k.cuda!);
          writeFileSync(join(dir, `${k.name}.h`), k.header!);
          jobs.push({ file, flag, label: `${program}${D !== undefined ? ` (D=${D})` : ""} ${k.name} ${arch}` });
        }
      }
    }
    const failures: string[] = [];
    await pool(jobs, 2, async (job) => {
      try {
        const { stderr } = await run("nvcc", ["-c", job.flag, "-Xptxas", "-v", "-o", `${job.file}.o`, job.file], { maxBuffer: 1 << 24 });
        const spills = [...stderr.matchAll(/(\d+) bytes spill stores, (\d+) bytes spill loads/g)].filter((m) => m[1] !== "0" || m[2] !== "0");
        if (spills.length > 0) failures.push(`${job.label}: register spills (${spills.map((m) => m[0]).join("; ")})`);
        const warnings = stderr.split("\n").filter((line) => /warning/i.test(line));
        if (warnings.length > 0) failures.push(`${job.label}: nvcc warnings\n${warnings.join("\n")}`);
      } catch (e) {
        failures.push(`${job.label}: nvcc failed\n${(e as { stderr?: string }).stderr?.slice(-3000)}`);
      }
    });
    expect(failures).toEqual([]);
  }, 1_200_000);

  it("declares the stable launch ABI in the .cu and the header", () => {
    const source = readFileSync("bench/cuda/programs/gqa-lse.attn", "utf8");
    const k = compile(source, { target: "cuda", defines: { D: 64 } }).kernels[0];
    const abi = 'int attnc_gqa_lse_launch(void* const* tensors, const int64_t* strides, const int64_t* sizes, const double* scalars, cudaStream_t stream)';
    expect(k.cuda).toContain(`extern "C" ${abi}`);
    expect(k.header).toContain(`${abi};`);
    expect(k.manifest.tensors.map((t) => t.name)).toEqual(["q", "k", "v", "sinks", "o", "lse"]);
    expect(k.manifest.sizes).toEqual(["B", "H", "N", "HKV", "M"]);
  });
});
