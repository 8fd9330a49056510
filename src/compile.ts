// The library's compile(): front end, schedule, and the emitters for each requested target.
import { frontEnd } from "./frontend.js";
import { manifestOf, type Manifest } from "./manifest.js";
import type { Diagnostic } from "./diagnostics/diagnostic.js";
import type { CheckedKernel } from "./check/typed.js";
import { planKernel, type KernelPlan } from "./plan/plan.js";
import { resolve } from "./diagnostics/source.js";
import { emitWgsl } from "./emit/wgsl/index.js";
import { error, warning } from "./diagnostics/diagnostic.js";
import { scheduleCuda, scheduleWgsl, type Scheduled, type TileScheduleOverride, type WgslLimits } from "./schedule/index.js";
import { emitCuda, type CudaProgram } from "./emit/cuda/index.js";
import { emitTsWrapper } from "./emit/ts/index.js";

export type Target = "cuda" | "wgsl" | "all";

/** A path's last component: output names the input by it, so that it does not depend on the working directory. */
const baseName = (path: string): string => path.split(/[\\/]/).pop() || path;

export type CompileOptions = {
  readonly target?: Target;
  readonly defines?: Readonly<Record<string, number>>;
  readonly fileName?: string;
  readonly kernel?: string;
  readonly schedule?: "auto" | "fused" | "naive";
  readonly arch?: "sm_80" | "sm_90a";
  /** The workgroup memory WGSL kernels may use (default 16 KiB, which every WebGPU device offers). */
  readonly wgslLimits?: WgslLimits;
  /**
   * Fields of the tile schedule to pin in every fused stage, per target (src/schedule/types.ts), e.g.
   * `{ cuda: { path: "mma", warps: 8 }, wgsl: { blockQ: 32, blockK: 32 } }`; one that cannot run is an error.
   */
  readonly tileSchedule?: TileScheduleOverride;
};

export type CompiledKernel = {
  readonly name: string;
  readonly manifest: Manifest;
  readonly checked: CheckedKernel;
  readonly plan: KernelPlan;
  readonly wgsl?: string;
  /** The plan the WGSL runs: the kernel's plan, or the naive one where the fused WGSL kernel cannot run it; naive stages lowered. */
  readonly wgslPlan?: KernelPlan;
  readonly ts?: string;
  readonly cuda?: string;
  readonly header?: string;
  /** The pinned tile schedule it was compiled with (the runtime keeps it where it rebuilds the WGSL). */
  readonly tileSchedule?: TileScheduleOverride;
};

export type CompileResult = { readonly diagnostics: readonly Diagnostic[]; readonly kernels: readonly CompiledKernel[] };

/**
 * A target's schedule (the plan it runs, naive where the target's fused kernel cannot run the kernel's: `fallback`)
 * and, where the pinned fields can run (`errors` empty), the plan printed on it.
 */
const printedOn = <S, P>(scheduled: Scheduled<S>, emit: (plan: KernelPlan, schedule: S) => P) =>
  ({ ...scheduled, program: scheduled.errors.length > 0 ? undefined : emit(scheduled.plan, scheduled.schedule) });

/**
 * A plan as CUDA at an arch with `pin`'s fields pinned, for tools and tests that print variants; throws what is wrong
 * with the pin. It prints the plan the schedule is for (its naive stages lowered), never the plan given.
 */
export function pinnedCuda(plan: KernelPlan, arch: "sm_80" | "sm_90a", pin: TileScheduleOverride["cuda"]): CudaProgram {
  const printed = printedOn(scheduleCuda(plan, arch, pin), emitCuda);
  if (printed.program === undefined) throw new Error(printed.errors.join("; "));
  return printed.program;
}

export function compile(source: string, options: CompileOptions = {}): CompileResult {
  const fileName = options.fileName ?? "<input>";
  const front = frontEnd(source, { fileName, defines: options.defines });
  const diagnostics: Diagnostic[] = [...front.diagnostics];
  let checked = front.kernels;
  if (options.kernel !== undefined) {
    checked = checked.filter((k) => k.name === options.kernel);
    if (checked.length === 0 && !diagnostics.some((d) => d.severity === "error")) {
      diagnostics.push({
        severity: "error", message: `no kernel named \`${options.kernel}\` (the file has ${front.kernels.map((k) => `\`${k.name}\``).join(", ") || "none"})`,
        file: fileName, line: 1, column: 1, endLine: 1, endColumn: 1,
      });
    }
  }
  const target = options.target ?? "all";
  // Generated files name the input by its base name: the same bytes from any working directory.
  const inputName = options.fileName === undefined ? undefined : baseName(options.fileName);
  const kernels: CompiledKernel[] = [];
  for (const k of checked) {
    const planned = planKernel(k, options.schedule ?? "auto");
    diagnostics.push(...planned.diagnostics.map((d) => resolve(front.file, d)));
    if (planned.diagnostics.some((d) => d.severity === "error")) continue;
    const plan = planned.plan;
    const pin = options.tileSchedule;
    // WGSL's fused kernel needs compile-time head dims and a tile that fits, the CUDA ones compile-time head dims;
    // otherwise the target runs the naive plan.
    const wgsl = target === "cuda" ? undefined : printedOn(scheduleWgsl(plan, options.wgslLimits, pin?.wgsl), (p, s) => emitWgsl(p, s, { fileName: inputName }));
    const cuda = target === "wgsl" ? undefined : printedOn(scheduleCuda(plan, options.arch ?? "sm_80", pin?.cuda), emitCuda);
    for (const [name, build] of [["WGSL", wgsl], ["CUDA", cuda]] as const) {
      if (build?.schedule.fallback !== undefined) {
        diagnostics.push(resolve(front.file, warning(k.span, `the ${name} kernel \`${k.name}\` runs the naive schedule: ${build.schedule.fallback}`)));
      }
      for (const message of build?.errors ?? []) diagnostics.push(resolve(front.file, error(k.span, message)));
    }
    if (wgsl?.errors.length || cuda?.errors.length) continue;
    const tileSchedule = { ...(cuda ? { cuda: cuda.schedule } : {}), ...(wgsl ? { wgsl: wgsl.schedule } : {}) };
    const manifest = manifestOf(k, plan.schedule);
    let compiled: CompiledKernel = { name: k.name, manifest: { ...manifest, tileSchedule }, checked: k, plan, ...(pin !== undefined ? { tileSchedule: pin } : {}) };
    if (wgsl?.program !== undefined) {
      const withLayout: Manifest = { ...manifest, webgpu: wgsl.program.layout, tileSchedule };
      const ts = emitTsWrapper(withLayout, wgsl.program.code, { fileName: inputName });
      compiled = { ...compiled, manifest: withLayout, wgsl: wgsl.program.code, wgslPlan: wgsl.plan, ts };
    }
    if (cuda?.program !== undefined) compiled = { ...compiled, cuda: cuda.program.source, header: cuda.program.header };
    kernels.push(compiled);
  }
  return { diagnostics, kernels };
}
