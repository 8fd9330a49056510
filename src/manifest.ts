// Shared by the emitters and the runtime: the manifest (NAME.json) that describes a compiled kernel's interface.
import { dimOf, type CheckedKernel } from "./check/typed.js";
import type { DType } from "./syntax/ast.js";
import type { WebGpuLayout } from "./emit/wgsl/layout.js";
import type { CudaSchedule, WgslSchedule } from "./schedule/types.js";

export type Schedule = "fused" | "naive";

export type ManifestTensor = {
  readonly name: string;
  readonly dtype: DType;
  readonly dims: readonly (string | number)[];
  readonly role: "input" | "output";
};

export type Manifest = {
  readonly name: string;
  readonly schedule: Schedule;
  readonly sizes: readonly string[];
  readonly defines: Readonly<Record<string, number>>;
  readonly tensors: readonly ManifestTensor[];
  readonly scalars: readonly { readonly name: string; readonly dtype: "f32" | "i32" }[];
  /** How the WGSL binds and dispatches (present where WGSL was emitted). */
  readonly webgpu?: WebGpuLayout;
  /**
   * Each target's schedule (src/schedule/types.ts): the plan it runs ("fused", or "naive" with `fallback` where the
   * target's fused kernel cannot run the kernel's plan) and a record for each of its stages; present for each target
   * compiled.
   */
  readonly tileSchedule?: { readonly cuda?: CudaSchedule; readonly wgsl?: WgslSchedule };
};


export function manifestOf(kernel: CheckedKernel, schedule: Schedule): Manifest {
  return {
    name: kernel.name,
    schedule,
    sizes: kernel.sizes,
    defines: kernel.defines,
    tensors: [
      ...kernel.inputs.map((t) => ({ name: t.name, dtype: t.dtype, dims: t.dims.map(dimOf), role: "input" as const })),
      ...kernel.outputs.map((t) => ({ name: t.name, dtype: t.dtype, dims: t.dims.map(dimOf), role: "output" as const })),
    ],
    scalars: kernel.scalars.map((s) => ({ name: s.name, dtype: s.dtype })),
  };
}
