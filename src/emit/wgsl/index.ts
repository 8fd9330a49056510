// Emit stage (WGSL): a kernel plan printed as one WGSL module, an entry point a stage, and its binding layout.
import { dimOf, type TensorInfo } from "../../check/typed.js";
import type { KernelPlan } from "../../plan/plan.js";
import { scheduleWgsl, type WgslLimits } from "../../schedule/index.js";
import type { TileScheduleOverride, WgslSchedule } from "../../schedule/types.js";
import { CodeWriter } from "../writer.js";
import { commentText } from "../names.js";
import type { TensorUses } from "./dialect.js";
import { printFused } from "./fused.js";
import { elementsPerWorkgroup, storageOf, type BufferBinding, type WebGpuLayout, type WgslStage } from "./layout.js";
import { declareHelpers, declareParams, declareTensor } from "./module.js";
import { printNaive } from "./naive.js";
import { lowerFused } from "../../tile/lower.js";
import { lowerNaiveStage } from "../../tile/elements.js";

export type { WebGpuLayout } from "./layout.js";
export type { WgslLimits } from "../../schedule/index.js";

export type WgslProgram = { readonly code: string; readonly layout: WebGpuLayout };

export type WgslOptions = {
  /** The source file's name (its base name, not a path), for the header comment. */
  readonly fileName?: string;
  /** Test builds: every tensor this many words into its binding (guard regions; see module.ts). */
  readonly guardWords?: number;
};

const dimName = (t: TensorInfo) => t.dims.map(dimOf);

export type WgslBuild = {
  /** Undefined where a pinned schedule cannot run (`errors`). */
  readonly program: WgslProgram | undefined;
  /** The plan the WGSL runs, naive stages lowered (see plan/naive-lower.ts). */
  readonly plan: KernelPlan;
  /** Its schedule, a record a stage (schedule/); `fallback` says why it is naive where the kernel's plan is fused. */
  readonly schedule: WgslSchedule;
  /** What is wrong with the pinned schedule. */
  readonly errors: readonly string[];
};

/** The kernel's plan as WGSL under these limits, on its schedule (scheduleWgsl), with the fields `pin` gives pinned. */
export function buildWgsl(plan: KernelPlan, limits?: WgslLimits, options: WgslOptions = {}, pin?: TileScheduleOverride["wgsl"]): WgslBuild {
  const scheduled = scheduleWgsl(plan, limits, pin);
  const program = scheduled.errors.length > 0 ? undefined : emitWgsl(scheduled.plan, scheduled.schedule, options);
  return { program, plan: scheduled.plan, schedule: scheduled.schedule, errors: scheduled.errors };
}

/** The plan as WGSL, each stage printed as its schedule record says (schedule.stages[i] for plan.stages[i]). */
export function emitWgsl(plan: KernelPlan, schedule: WgslSchedule, options: WgslOptions = {}): WgslProgram {
  if (schedule.stages.length !== plan.stages.length) throw new Error("internal: a WGSL schedule for another plan");
  const k = plan.kernel;
  const written = new Set([...k.outputs.map((t) => t.name), ...plan.buffers.map((t) => t.name)]);
  const tensors: TensorInfo[] = [...k.inputs, ...k.outputs, ...plan.buffers];
  const buffers: BufferBinding[] = tensors.map((t, i) => ({
    name: t.name, binding: i + 1, role: t.role === "intermediate" ? "scratch" : t.role,
    dtype: t.dtype, storage: storageOf(t.dtype, written.has(t.name)), dims: dimName(t),
  }));
  const bindingOf = new Map(buffers.map((b) => [b.name, b]));
  const placement = { guard: options.guardWords ?? 0 };
  const infoOf = new Map(tensors.map((t) => [t.name, t]));

  const stageCode: string[] = [];
  const stageUses: TensorUses[] = [];
  const stages: WgslStage[] = [];
  const shapes: string[] = [];
  let workgroupStorageBytes = 0;
  for (const [index, stage] of plan.stages.entries()) {
    const entry = `stage${index}`;
    let printed: { code: string; uses: TensorUses };
    const s = schedule.stages[index];
    if (stage.kind === "naive" || s.kind === "naive") {
      if (stage.kind !== "naive" || s.kind !== "naive" || s.threads !== elementsPerWorkgroup) throw new Error("internal: a WGSL schedule for another plan");
      printed = printNaive(entry, lowerNaiveStage(stage), infoOf.get(stage.statement.target)!.dtype === "i32");
      stages.push({ entryPoint: entry, bindings: [], dispatch: { kind: "elements", dims: stage.statement.vars.map((v) => dimOf(v.extent)) } });
    } else {
      const shape = s;
      printed = printFused(entry, lowerFused(stage, { deferScale: false }), shape, { binding: (t) => bindingOf.get(t)!, dims: (t) => infoOf.get(t)!.dims, placement });
      workgroupStorageBytes = Math.max(workgroupStorageBytes, shape.bytes);
      shapes.push(`${entry}: ${shape.blockQ} x ${shape.blockK} tiles, ${shape.threads} invocations${shape.shareKV ? ", K and V share memory" : ""}`);
      const c = stage.chain;
      stages.push({ entryPoint: entry, bindings: [], dispatch: { kind: "tiles", query: dimOf(c.queryVar.extent), blockQ: shape.blockQ, rows: c.rowVars.map((v) => dimOf(v.extent)) } });
    }
    stageCode.push(printed.code);
    stageUses.push(printed.uses);
  }
  // A stage binds the tensors its printer says it names (the loaders and stores touch only their own tensor).
  const mentions = (u: TensorUses, b: BufferBinding) => u.loads.has(b.name) || u.stores.has(b.name) || u.words.has(b.name);
  const withBindings = stages.map((s, x) => ({ ...s, bindings: [0, ...buffers.filter((b) => mentions(stageUses[x], b)).map((b) => b.binding)] }));

  const w = new CodeWriter();
  w.line(`// Generated by attnc from ${options.fileName ? `${commentText(options.fileName)}, ` : ""}kernel \`${commentText(k.name)}\`: ${plan.schedule} schedule, WGSL.`);
  w.line(`// Stages, dispatched in order: ${plan.stages.map((s, i) => (s.kind === "naive" ? `stage${i} naive \`${commentText(s.statement.target)}\`` : `stage${i} fused \`${commentText(s.chain.output.name)}\``)).join(", ")}.`);
  if (placement.guard > 0) w.line(`// Test build: every tensor starts ${placement.guard} words into its binding (guard regions).`);
  for (const s of shapes) w.line(`// ${s}; tiles chosen for ${schedule.workgroupStorageLimit} bytes of workgroup memory.`);
  w.line(`// Storage: f16 and bf16 inputs two to a u32 word, unpacked in the shader (no shader-f16 needed);`);
  w.line(`// outputs and intermediates f32 (or i32). Sizes and scalars in the uniform \`params\`.`);
  w.line("");
  const paramWords = declareParams(w, k.sizes, k.scalars);
  w.line("");
  declareHelpers(w);
  w.line("");
  for (const b of buffers) {
    declareTensor(w, b, infoOf.get(b.name)!, { load: stageUses.some((u) => u.loads.has(b.name)), store: stageUses.some((u) => u.stores.has(b.name)) }, placement);
  }
  for (const code of stageCode) {
    w.line("");
    for (const line of code.trimEnd().split("\n")) w.line(line);
  }
  return {
    code: w.toString(),
    layout: { schedule: plan.schedule, paramsBinding: 0, paramWords, buffers, stages: withBindings, workgroupStorageBytes, workgroupStorageLimit: schedule.workgroupStorageLimit, guardWords: placement.guard },
  };
}

export { elementsPerWorkgroup };
