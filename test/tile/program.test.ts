// The tile program: what lowerFused builds from a fused stage, and that the executor and the printers run and print
// the program they are given (the online softmax is written once, in src/tile/online-softmax.ts).
import { describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import { compile } from "../../src/compile.js";
import { lowerFused } from "../../src/tile/lower.js";
import { printScalar } from "../../src/tile/print.js";
import type { Assign, Register, TileProgram } from "../../src/tile/types.js";
import type { FusedStage } from "../../src/plan/plan.js";
import { runTileProgram } from "../../src/interp/execute-tile.js";
import { prepare } from "../../src/interp/interpret.js";
import { cudaDialect } from "../../src/emit/cuda/dialect.js";
import { cudaScalars } from "../../src/emit/cuda/fused-common.js";
import { printFusedSimt } from "../../src/emit/cuda/fused-simt.js";
import { printFusedMma } from "../../src/emit/cuda/fused-mma.js";
import { printFusedWgmma } from "../../src/emit/cuda/fused-wgmma.js";
import { printFusedWgmmaWs } from "../../src/emit/cuda/fused-wgmma-ws.js";
import { wgslScalars } from "../../src/emit/wgsl/fused.js";
import { scheduleCuda } from "../../src/schedule/index.js";
import { CodeWriter } from "../../src/emit/writer.js";
import { planned, randomArgs, rng } from "../support/programs.js";

const fusedStage = (source: string, defines: Record<string, number> = {}): FusedStage => {
  const stage = planned(source, defines).stages.find((s) => s.kind === "fused");
  if (stage === undefined || stage.kind !== "fused") throw new Error("no fused stage");
  return stage;
};
const example = (name: string) => readFileSync(`examples/${name}.attn`, "utf8");
const ops = (p: TileProgram) => p.tile.map((o) => o.op);

/** The program with `step` run just before the output is stored. */
const withFinishStep = (p: TileProgram, step: Assign): TileProgram => ({
  ...p, finish: p.finish.flatMap((o): TileProgram["finish"][number][] => (o.op === "storeOutput" ? [{ op: "assign", steps: [step] }, o] : [o])),
});
const halveScale: Assign = { reg: "scale", value: { kind: "binary", op: "*", left: { kind: "reg", reg: "scale" }, right: { kind: "const", value: 0.5 } } };

describe("lowerFused", () => {
  const causal = fusedStage(example("causal"));

  it("scales raw products inside exp2 where the target asks and the score is a positive constant times the product", () => {
    const cuda = lowerFused(causal, { deferScale: true });
    expect(cuda.scale).toBeCloseTo(Math.LOG2E / Math.sqrt(64), 12);
    expect(ops(cuda)).toEqual(["scores", "mask", "tileMax", "assign", "rescale", "exponentiate", "accumulate"]);
    const wgsl = lowerFused(causal, { deferScale: false });
    expect(wgsl.scale).toBeUndefined();
    expect(ops(wgsl)).toEqual(["scores", "scoreMod", "mask", "tileMax", "assign", "rescale", "exponentiate", "accumulate"]);
    expect(cuda.state).toEqual([{ reg: "rowMax", init: -Infinity }, { reg: "rowSum", init: 0 }]);
  });

  it("keeps no row state for an element-wise normaliser, and never skips its masked tiles unless they give 0", () => {
    const p = lowerFused(fusedStage(example("sigmoid")), { deferScale: true });
    expect(p.state).toEqual([]);
    expect(ops(p)).toEqual(["scores", "scoreMod", "mask", "normalise", "accumulate"]);
    expect(p.finish).toEqual([{ op: "storeOutput" }]);
  });

  it("writes each row statistic from the running max and sum, and folds the sink into the denominator only", () => {
    const p = lowerFused(fusedStage(example("sinks-lse")), { deferScale: true });
    const finish = p.finish.map((o) => (o.op === "storeStatistic" ? `store ${o.store.output.name}` : o.op === "assign" ? o.steps.map((s) => s.reg).join(",") : o.op));
    expect(finish).toEqual(["rowSum", "stat", "store lse", "sink,finalMax,finalBase,scale,denominator,scale", "storeOutput"]);
  });
});

describe("the tile program is the kernel", () => {
  const source = example("causal");
  const stage = fusedStage(source);
  const plan = planned(source);
  const sizes = { B: 1, H: 2, N: 13, M: 13 };
  const args = randomArgs(plan.kernel, sizes, rng(3));
  const run = (p: TileProgram) => {
    const { buffers, infos, scalars } = prepare(plan.kernel, args, sizes);
    runTileProgram(p, { sizes, scalars, buffers, infos }, { blockQ: 4, blockK: 5 }, { full: 0, partial: 0, empty: 0, skipped: 0 });
    return buffers.get("o")!;
  };

  it("in the executor: a step added to the program changes what it computes, exactly", () => {
    const p = lowerFused(stage, { deferScale: true });
    const plain = run(p);
    const halved = run(withFinishStep(p, halveScale));
    expect(plain.some((x) => x !== 0)).toBe(true);
    expect(Array.from(halved)).toEqual(Array.from(plain, (x) => x / 2));
  });

  it("in every CUDA printer: the kernels print the program's formulas, an added one included", () => {
    const d = cudaDialect({ tensorIndex: new Map([["q", 0], ["k", 1], ["v", 2], ["o", 3]]), sizeIndex: new Map([["B", 0], ["H", 1], ["N", 2]]), scalarIndex: new Map() }, { fastMath: true });
    const slots = new Map(["q", "k", "v", "o"].map((name, index) => [name, { index, strideOffset: 4 * index, rank: 4, ctype: "__nv_bfloat16" }]));
    const program = withFinishStep(lowerFused(stage, { deferScale: true }), halveScale);
    const record = (arch: "sm_80" | "sm_90a", pin: Record<string, unknown>) => {
      const scheduled = scheduleCuda(plan, arch, pin);
      expect(scheduled.errors).toEqual([]);
      return scheduled.schedule.stages[0];
    };
    const texts: string[] = [];
    const simt = record("sm_80", { path: "simt" });
    if (simt.kind === "fused" && simt.path === "simt") texts.push(printFusedSimt("k", program, d, slots, simt).code);
    const mma = record("sm_80", { path: "mma" });
    if (mma.kind === "fused" && mma.path === "mma") texts.push(printFusedMma("k", program, d, slots, "__nv_bfloat16", mma).code);
    for (const producer of [false, true]) {
      const wgmma = record("sm_90a", producer ? { path: "wgmma", producer } : { path: "wgmma", producer, persistent: false });
      if (wgmma.kind === "fused" && wgmma.path === "wgmma") texts.push((producer ? printFusedWgmmaWs : printFusedWgmma)("k", program, d, slots, "__nv_bfloat16", wgmma).code);
    }
    expect(texts).toHaveLength(4);
    const w = new CodeWriter();
    const tileNames: Partial<Record<Register, string>> = { rowMax: "m_run", rowSum: "l_run", tileMax: "mx" };
    for (const text of texts) {
      expect(text).toMatch(/scale = scale \* 0\.50*f;/);
      // The online softmax's update, as the SIMT kernel names its registers (the tensor-core ones index them).
      if (text.includes("float s[BC];")) {
        const update = program.tile.find((o) => o.op === "assign")!;
        if (update.op !== "assign") throw new Error("no update");
        for (const s of update.steps) expect(text).toContain(`${tileNames[s.reg] ?? s.reg} = ${printScalar(s.value, cudaScalars(d, w, (r) => tileNames[r] ?? r))};`);
      }
    }
  });

  it("in WGSL: the compiled kernel holds the program's formulas, spelled by WGSL's table", () => {
    const wgsl = compile(source, { target: "wgsl" }).kernels[0].wgsl!;
    const p = lowerFused(stage, { deferScale: false });
    const names = (r: Register) => ({ rowMax: "m0", rowSum: "l0", tileMax: "tile_max0" } as Partial<Record<Register, string>>)[r] ?? `${r}0`;
    for (const o of p.tile) {
      if (o.op === "assign") for (const s of o.steps) expect(wgsl).toContain(`${names(s.reg)} = ${printScalar(s.value, wgslScalars(() => "", names))};`);
      if (o.op === "exponentiate") expect(wgsl).toContain(`s0 = ${printScalar(o.value, wgslScalars(() => "", (r) => (r === "score" ? "s0" : names(r))))};`);
    }
  });
});
