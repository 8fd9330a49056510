// Shared by the emitters and the runtime: the manifest (NAME.json) that describes a compiled kernel's interface.
import { dimOf, type CheckedKernel } from "./check/typed.js";
import type { DType } from "./syntax/ast.js";
import type { CudaSchedule, Storage, WgslSchedule } from "./schedule/types.js";

import type { Schedule } from "./plan/plan.js";

export type { Schedule } from "./plan/plan.js";

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

/** A tensor's binding in the WGSL module (the parameters are binding 0). */
export type BufferBinding = {
  readonly name: string;
  readonly binding: number;
  readonly role: "input" | "output" | "scratch";
  readonly dtype: DType;
  readonly storage: Storage;
  readonly dims: readonly (string | number)[];
};

export type StageDispatch =
  /** One invocation an element: ceil(total / 256) workgroups, spread over x and y (x at most 65535). */
  | { readonly kind: "elements"; readonly dims: readonly (string | number)[] }
  /**
   * One workgroup a query tile (x) and row tuple (y); y is at most 65535 and the shader loops over the rest.
   * x, ceil(query / blockQ), must stay within 65535.
   */
  | { readonly kind: "tiles"; readonly query: string | number; readonly blockQ: number; readonly rows: readonly (string | number)[] };

/** The most workgroups a dispatch has along x or y. */
export const maxDispatch = 65535;

export type WgslStage = {
  readonly entryPoint: string;
  /** The bindings the entry point uses (0, the parameters, always). */
  readonly bindings: readonly number[];
  readonly dispatch: StageDispatch;
};

/**
 * How a kernel's tensors, sizes and scalars are bound, and how each stage is dispatched (emit/wgsl/ fills it in,
 * the runner reads it): plain data, NAME.json's "webgpu".
 */
export type WebGpuLayout = {
  /** The schedule the WGSL runs (naive where the fused WGSL kernel cannot run the kernel's fused plan). */
  readonly schedule: "fused" | "naive";
  /** binding 0: a uniform array<vec4u> of the sizes (i32 bits) then the scalars (f32 or i32 bits), in manifest order. */
  readonly paramsBinding: 0;
  readonly paramWords: number;
  readonly buffers: readonly BufferBinding[];
  readonly stages: readonly WgslStage[];
  /** The most workgroup memory a stage uses, and the device limit the tiles were chosen for. */
  readonly workgroupStorageBytes: number;
  readonly workgroupStorageLimit: number;
  /** Test builds: every tensor starts this many words into its buffer, between guard regions (0 otherwise). */
  readonly guardWords: number;
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
