// Schedule stage: a kernel plan's schedule for a target, one record a stage (types.ts), chosen by the pure
// choosers (choose-cuda.ts, choose-wgsl.ts) or pinned (override.ts); the plan it schedules is the kernel's, or the
// naive one where the target's fused kernel cannot run a stage, with its naive stages lowered (targetPlan). compile()
// hands the record to the emitter, the manifest and `explain`.
import type { DType } from "../syntax/ast.js";
import { planKernel, type KernelPlan } from "../plan/plan.js";
import { lowerNaive } from "../plan/naive-lower.js";
import { chooseCuda, cudaFusedUnsupportedReason, naiveThreads } from "./choose-cuda.js";
import { chooseWgsl, defaultLimits, elementsPerWorkgroup, fusedUnsupportedReason, storageOf, type WgslLimits } from "./choose-wgsl.js";
import { overrideCuda, overrideWgsl } from "./override.js";
import type { CudaArch, CudaSchedule, CudaStageSchedule, Storage, TileScheduleOverride, WgslSchedule, WgslStageSchedule } from "./types.js";

export type * from "./types.js";
export { cudaFusedUnsupportedReason } from "./choose-cuda.js";
export { fusedUnsupportedReason, defaultLimits, type WgslLimits } from "./choose-wgsl.js";

/** A target's schedule, the plan it schedules, and what was wrong with a pinned schedule (nothing then is printed). */
export type Scheduled<S> = { readonly schedule: S; readonly plan: KernelPlan; readonly errors: readonly string[] };

/** The storage dtype of each of a plan's tensors (inputs, outputs and intermediates) by name. */
export const dtypeLookup = (plan: KernelPlan) => {
  const types = new Map([...plan.kernel.inputs, ...plan.kernel.outputs, ...plan.buffers].map((t) => [t.name, t.dtype]));
  return (tensor: string): DType => types.get(tensor)!;
};

const firstReason = (plan: KernelPlan, reason: (s: Extract<KernelPlan["stages"][number], { kind: "fused" }>) => string | undefined) =>
  plan.stages.flatMap((s) => (s.kind === "fused" ? [reason(s)] : [])).find((r): r is string => r !== undefined);

/** A pinned schedule for a target whose plan has no fused stage: an error, so that a pin is never silently dropped. */
const nothingToPin = (target: string, pin: Readonly<Record<string, unknown>> | undefined, plan: KernelPlan, fallback: string | undefined): string[] =>
  pin !== undefined && Object.keys(pin).length > 0 && !plan.stages.some((s) => s.kind === "fused")
    ? [`the ${target} tile schedule pins fields of a fused stage, but the ${target} kernel runs the naive schedule${fallback ? ` (${fallback})` : ""}`]
    : [];

/**
 * The plan a target prints: the kernel's, or its naive plan where the target's fused kernel cannot run a stage
 * (`fallback`); either way with its naive stages lowered (plan/naive-lower.ts), so that no backend's naive kernel
 * recomputes a softmax's row statistics for every element.
 */
const targetPlan = (plan: KernelPlan, fallback: string | undefined): KernelPlan =>
  lowerNaive(fallback !== undefined ? planKernel(plan.kernel, "naive").plan : plan);

/**
 * The CUDA schedule of a plan at an arch: fused where the fused kernels can run every fused stage, naive otherwise;
 * the plan it schedules has its naive stages lowered (targetPlan).
 */
export function scheduleCuda(plan: KernelPlan, arch: CudaArch, pin?: TileScheduleOverride["cuda"]): Scheduled<CudaSchedule> {
  const fallback = firstReason(plan, (s) => cudaFusedUnsupportedReason(s, dtypeLookup(plan)));
  const cudaPlan = targetPlan(plan, fallback);
  const dtypeOf = dtypeLookup(cudaPlan);
  const errors: string[] = nothingToPin("CUDA", pin, cudaPlan, fallback);
  const stages = cudaPlan.stages.map((stage): CudaStageSchedule => {
    if (stage.kind === "naive") return { target: "cuda", kind: "naive", output: stage.statement.target, threads: naiveThreads };
    const chosen = chooseCuda(stage, dtypeOf, arch);
    if (pin === undefined) return chosen;
    const pinned = overrideCuda(stage, dtypeOf, arch, pin);
    errors.push(...pinned.errors);
    return pinned.record ?? chosen;
  });
  return { schedule: { arch, plan: cudaPlan.schedule, stages, ...(fallback !== undefined ? { fallback } : {}) }, plan: cudaPlan, errors };
}

/** The storage of each of a WGSL plan's tensors: written ones (outputs, intermediates) f32 or i32, inputs packed halves. */
export const storageLookup = (plan: KernelPlan) => {
  const written = new Set([...plan.kernel.outputs.map((t) => t.name), ...plan.buffers.map((t) => t.name)]);
  const dtypeOf = dtypeLookup(plan);
  return (tensor: string): Storage => storageOf(dtypeOf(tensor), written.has(tensor));
};

/**
 * The WGSL schedule of a plan under a device's workgroup-memory limit: fused where a tile fits every fused stage,
 * naive otherwise; the plan it schedules has its naive stages lowered (targetPlan).
 */
export function scheduleWgsl(plan: KernelPlan, limits: WgslLimits = defaultLimits, pin?: TileScheduleOverride["wgsl"]): Scheduled<WgslSchedule> {
  const fallback = firstReason(plan, (s) => fusedUnsupportedReason(s, limits));
  const wgslPlan = targetPlan(plan, fallback);
  const storage = storageLookup(wgslPlan);
  const errors: string[] = nothingToPin("WGSL", pin, wgslPlan, fallback);
  const stages = wgslPlan.stages.map((stage): WgslStageSchedule => {
    if (stage.kind === "naive") return { target: "wgsl", kind: "naive", output: stage.statement.target, threads: elementsPerWorkgroup };
    const chosen = chooseWgsl(stage, limits, storage);
    if (chosen === undefined) throw new Error(`internal: no WGSL tile for \`${stage.chain.output.name}\` (fusedUnsupportedReason)`);
    if (pin === undefined) return chosen;
    const pinned = overrideWgsl(stage, chosen, limits, storage, pin);
    errors.push(...pinned.errors);
    return pinned.record ?? chosen;
  });
  return {
    schedule: { plan: wgslPlan.schedule, stages, workgroupStorageLimit: limits.maxWorkgroupStorageBytes, ...(fallback !== undefined ? { fallback } : {}) },
    plan: wgslPlan, errors,
  };
}
