// The schedule as data: a record a stage and target, chosen once, written into the manifest, printed by explain,
// and pinned by compile's `tileSchedule` (a pin changes the kernel, and runs; one that cannot work is a diagnostic).
import { describe, expect, it } from "vitest";
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { compile, type CompileOptions } from "../../src/compile.js";
import { explainPlan } from "../../src/explain.js";
import { sourceFile } from "../../src/diagnostics/source.js";
import { createRunner } from "../../src/runtime/index.js";
import { compare } from "../support/programs.js";
import { reference, tolerance, withDtype } from "../exec/support.js";

const run = promisify(execFile);
const causal = readFileSync("bench/cuda/programs/causal.attn", "utf8");
const documents = readFileSync("bench/cuda/programs/document.attn", "utf8");

const build = (source: string, options: CompileOptions) => compile(source, { fileName: "t.attn", ...options });
const one = (source: string, options: CompileOptions) => {
  const r = build(source, options);
  const errors = r.diagnostics.filter((d) => d.severity === "error");
  if (errors.length > 0) throw new Error(errors.map((e) => e.message).join("\n"));
  return r.kernels[0];
};
const errorsOf = (source: string, options: CompileOptions) => {
  const r = build(source, options);
  return { messages: r.diagnostics.filter((d) => d.severity === "error").map((d) => d.message), kernels: r.kernels };
};

describe("the schedule record", () => {
  it("is chosen for every stage of each target's plan and written into the manifest", () => {
    const k = one(documents, { defines: { D: 128 }, arch: "sm_90a" });
    const { cuda, wgsl } = k.manifest.tileSchedule!;
    expect(k.manifest.schedule).toBe("fused");
    expect(cuda!.arch).toBe("sm_90a");
    // The document program's naive stages (the id tables) and its fused stage, in plan order, for both targets.
    expect(cuda!.stages.map((s) => s.kind)).toEqual(k.plan.stages.map((s) => s.kind));
    expect(wgsl!.stages.map((s) => s.kind)).toEqual(k.wgslPlan!.stages.map((s) => s.kind));
    expect(cuda!.stages.filter((s) => s.kind === "naive").every((s) => s.threads === 256)).toBe(true);
    const fused = cuda!.stages.find((s) => s.kind === "fused")!;
    expect(fused).toMatchObject({ target: "cuda", path: "wgmma", output: "o", blockQ: 128, blockK: 128, warpgroups: 2, producer: true, persistent: true, threads: 384 });
    // The launch prints the record's threads and shared memory.
    expect(fused.kind === "fused" && k.cuda!.includes(`, ${fused.threads}, ${fused.smemBytes}, stream>>>`)).toBe(true);
    const tile = wgsl!.stages.find((s) => s.kind === "fused")!;
    expect(tile.kind === "fused" && k.wgsl!.includes(`${tile.blockQ} x ${tile.blockK} tiles, ${tile.threads} invocations`)).toBe(true);
    // sm_80 takes mma.sync: two m-tiles a warp for plain causal attention at D = 128.
    const ampere = one(causal, { defines: { D: 128 }, arch: "sm_80", target: "cuda" }).manifest.tileSchedule!;
    expect(ampere.wgsl).toBeUndefined();
    expect(ampere.cuda!.stages[0]).toMatchObject({ path: "mma", warps: 4, mTiles: 2, blockQ: 128, blockK: 32, valueSlice: 128, valueSlices: 1 });
  });

  it("records a target's fallback to the naive plan with its reason", () => {
    const source = "kernel k(q: f32[N, D], k: f32[M, D], v: f32[M, D]) -> (o: f32[N, D]) {\n  o[i, e] = sum[j](softmax[j](sum[d](q[i, d] * k[j, d])) * v[j, e])\n}\n";
    const { cuda, wgsl } = one(source, {}).manifest.tileSchedule!;
    expect(cuda!.plan).toBe("naive");
    expect(cuda!.fallback).toMatch(/run-time extent/);
    expect(wgsl!.plan).toBe("naive");
    expect(wgsl!.stages.every((s) => s.kind === "naive")).toBe(true);
  });

  it("is what explain prints, and its tile is the one explain counts", () => {
    for (const arch of ["sm_80", "sm_90a"] as const) {
      const k = one(causal, { defines: { D: 128 }, arch });
      const text = explainPlan(k.plan, sourceFile("t.attn", causal), { sizes: {}, scalars: {} }, k.manifest.tileSchedule);
      const record = k.manifest.tileSchedule!.cuda!.stages[0];
      if (record.kind !== "fused") throw new Error("not fused");
      expect(text).toContain(`CUDA schedule (${arch}): fused`);
      expect(text).toContain(`stage 0 \`o\` fused: path ${record.path}, blockQ ${record.blockQ}, blockK ${record.blockK}, threads ${record.threads}`);
      expect(text).toContain(`with ${record.blockQ} x ${record.blockK} tiles`);
      expect(text).toMatch(/WGSL schedule \(16384 bytes of workgroup memory\): fused\n {4}stage 0 `o` fused: blockQ \d+, blockK \d+/);
    }
  });
});

describe("a pinned tile schedule", () => {
  it("changes the CUDA kernel, which nvcc compiles for sm_80", async () => {
    const base = one(causal, { defines: { D: 64 }, arch: "sm_80", target: "cuda" });
    const pinned = one(causal, { defines: { D: 64 }, arch: "sm_80", target: "cuda", tileSchedule: { cuda: { path: "mma", warps: 2, blockK: 32, l2Budget: 0 } } });
    expect(pinned.manifest.tileSchedule!.cuda!.stages[0]).toMatchObject({ path: "mma", warps: 2, mTiles: 1, blockQ: 32, blockK: 32, threads: 64, l2Budget: 0 });
    expect(base.cuda).toContain("__launch_bounds__(128)");
    expect(pinned.cuda).toContain("__launch_bounds__(64)");
    expect(pinned.cuda).toContain("MT = 1, BR = 32, BC = 32");
    expect(pinned.cuda).toContain("long long group = 1;");
    const dir = mkdtempSync(join(tmpdir(), "attnc-schedule-"));
    const file = join(dir, "pinned.cu");
    writeFileSync(file, pinned.cuda!);
    const { stderr } = await run("nvcc", ["-c", "-gencode=arch=compute_80,code=sm_80", "-Xptxas", "-v", "-o", `${file}.o`, file], { maxBuffer: 1 << 24 });
    expect(stderr).not.toMatch(/warning|spill stores [1-9]/);
  }, 300_000);

  it("pins the sm_90a kernel's shape (one warpgroup, no producer)", () => {
    const k = one(causal, { defines: { D: 128 }, arch: "sm_90a", target: "cuda", tileSchedule: { cuda: { warpgroups: 1, blockK: 64, producer: false, pingpong: false, persistent: false } } });
    expect(k.manifest.tileSchedule!.cuda!.stages[0]).toMatchObject({ path: "wgmma", warpgroups: 1, blockQ: 64, blockK: 64, threads: 128 });
    expect(k.cuda).toContain("__launch_bounds__(128, 1)");
    expect(k.cuda).not.toContain("cudaDevAttrMultiProcessorCount");
  });

  it("changes the WGSL kernel, which runs on the WebGPU adapter as the interpreter computes", async () => {
    // f32 storage: the tightest tolerance, and tiles of f32 slots.
    const source = withDtype(causal, "f32");
    const c = { source, defines: { D: 64 }, sizes: { B: 1, H: 2, N: 45, M: 45 } };
    const pin = { wgsl: { blockQ: 16, blockK: 8, shareKV: true } };
    const k = one(source, { defines: c.defines, target: "wgsl", tileSchedule: pin });
    expect(k.manifest.tileSchedule!.wgsl!.stages[0]).toMatchObject({ blockQ: 16, blockK: 8, threads: 8, shareKV: true });
    expect(k.wgsl).toContain("16 x 8 tiles, 8 invocations, K and V share memory");
    expect(k.wgsl).not.toEqual(one(source, { defines: c.defines, target: "wgsl" }).wgsl);
    const ref = reference(c);
    const runner = await createRunner(k);
    // The runner rebuilds the WGSL for its device's limit where that differs, and keeps the pin.
    expect(runner.layout.stages[0].dispatch).toMatchObject({ kind: "tiles", blockQ: 16 });
    const got = await runner(ref.args, ref.sizes);
    const cmp = compare(got.o, ref.want.o);
    expect(cmp.nan).toBe(0);
    expect(cmp.maxRel).toBeLessThanOrEqual(tolerance.f32);
  }, 120_000);
});

describe("a pinned tile schedule that cannot work", () => {
  const cases: [string, CompileOptions, RegExp][] = [
    ["wgmma on sm_80", { arch: "sm_80", tileSchedule: { cuda: { path: "wgmma" } } }, /CUDA tile schedule of `o`: `path` "wgmma" cannot run this stage: wgmma needs sm_90a, not sm_80/],
    ["an unknown path", { tileSchedule: { cuda: { path: "tma" } } }, /`path` is "tma"; it takes one of "wgmma" \(sm_90a\), "mma", "simt"/],
    ["an unknown field, with a suggestion", { tileSchedule: { cuda: { path: "mma", warp: 8 } } }, /\(mma\): unknown field `warp` \(did you mean `warps`\?\); the fields are `warps`, `mTiles`, `blockK`, `valueSlice`, `l2Budget`/],
    ["a value not allowed", { tileSchedule: { cuda: { warps: 3 } } }, /\(mma\): `warps` is 3; it takes one of 1, 2, 4, 8/],
    ["a value of the wrong type", { tileSchedule: { cuda: { blockK: "64" } } }, /\(mma\): `blockK` is "64"; it takes one of 16, 32, 64, 128/],
    ["a value slice that does not divide the value dim", { tileSchedule: { cuda: { valueSlice: 48 } } }, /`valueSlice` is 48; it takes a multiple of 16 up to 256 that divides the value dim 64/],
    ["a derived field that disagrees", { tileSchedule: { cuda: { path: "mma", blockQ: 96 } } }, /`blockQ` is 16 x mTiles x warps, 64 here, not 96/],
    ["ping-pong without a producer", { arch: "sm_90a", tileSchedule: { cuda: { producer: false, pingpong: true, persistent: false } } }, /`pingpong` needs `producer`: true, `overlap`: true and `warpgroups`: 2/],
    ["wgmma tiles past shared memory", { arch: "sm_90a", defines: { D: 128 }, tileSchedule: { cuda: { warpgroups: 3, blockK: 128, stages: 4 } } }, /take \d+ bytes of shared memory, past sm_90a's 232448/],
    ["a WGSL tile past workgroup memory", { tileSchedule: { wgsl: { blockQ: 64, blockK: 64 } } }, /WGSL tile schedule of `o`: 64 x 64 tiles take \d+ bytes of workgroup memory, past the limit of 16384/],
    ["a WGSL block size the kernel cannot tile", { tileSchedule: { wgsl: { blockQ: 12 } } }, /`blockQ` is 12; it takes one of 8, 16, 32, 64/],
  ];
  for (const [what, options, message] of cases) {
    it(`is a diagnostic naming the field, and no kernel: ${what}`, () => {
      const { messages, kernels } = errorsOf(causal, { defines: { D: 64 }, ...options });
      expect(messages.join("\n")).toMatch(message);
      expect(kernels).toEqual([]);
    });
  }

  it("is a diagnostic where the target runs the naive schedule, so a pin is never silently dropped", () => {
    const { messages } = errorsOf(causal, { defines: { D: 64 }, schedule: "naive", tileSchedule: { cuda: { warps: 2 } } });
    expect(messages).toEqual(["the CUDA tile schedule pins fields of a fused stage, but the CUDA kernel runs the naive schedule"]);
  });
});
