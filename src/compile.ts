// The library's compile(): front end, schedule, and the emitters for each requested target.
import { frontEnd } from "./frontend.js";
import { manifestOf, type Manifest } from "./manifest.js";
import type { Diagnostic } from "./diagnostics/diagnostic.js";
import type { CheckedKernel } from "./check/typed.js";
import { planKernel, type KernelPlan } from "./plan/plan.js";
import { resolve } from "./diagnostics/source.js";
import { buildWgsl, type WgslLimits } from "./emit/wgsl/index.js";
import { warning } from "./diagnostics/diagnostic.js";
import { buildCuda } from "./emit/cuda/index.js";
import { emitTsWrapper } from "./emit/ts/index.js";
import { baseName } from "./emit/names.js";

export type Target = "cuda" | "wgsl" | "all";

export type CompileOptions = {
  readonly target?: Target;
  readonly defines?: Readonly<Record<string, number>>;
  readonly fileName?: string;
  readonly kernel?: string;
  readonly schedule?: "auto" | "fused" | "naive";
  readonly arch?: "sm_80" | "sm_90a";
  /** The workgroup memory WGSL kernels may use (default 16 KiB, which every WebGPU device offers). */
  readonly wgslLimits?: WgslLimits;
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
};

export type CompileResult = { readonly diagnostics: readonly Diagnostic[]; readonly kernels: readonly CompiledKernel[] };

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
    const manifest = manifestOf(k, plan.schedule);
    let compiled: CompiledKernel = { name: k.name, manifest, checked: k, plan };
    if (target !== "cuda") {
      // WGSL's fused kernel needs compile-time head dims and a tile that fits; otherwise its WGSL runs the naive plan.
      const build = buildWgsl(plan, options.wgslLimits, { fileName: inputName });
      if (build.fallback !== undefined) {
        diagnostics.push(resolve(front.file, warning(k.span, `the WGSL kernel \`${k.name}\` runs the naive schedule: ${build.fallback}`)));
      }
      const wgslPlan = build.plan;
      const wgsl = build.program;
      if (wgsl !== undefined) {
        const withLayout: Manifest = { ...manifest, webgpu: wgsl.layout };
        const ts = emitTsWrapper(withLayout, wgsl.code, { fileName: inputName });
        compiled = { ...compiled, manifest: withLayout, wgsl: wgsl.code, wgslPlan, ts };
      }
    }
    if (target !== "wgsl") {
      // The fused CUDA kernels need compile-time head dims too; otherwise the CUDA runs the naive plan.
      const build = buildCuda(plan, { arch: options.arch ?? "sm_80" });
      if (build.fallback !== undefined) {
        diagnostics.push(resolve(front.file, warning(k.span, `the CUDA kernel \`${k.name}\` runs the naive schedule: ${build.fallback}`)));
      }
      const cuda = build.program;
      if (cuda !== undefined) compiled = { ...compiled, cuda: cuda.source, header: cuda.header };
    }
    kernels.push(compiled);
  }
  return { diagnostics, kernels };
}
