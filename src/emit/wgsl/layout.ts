// Emit stage (WGSL): how a kernel's tensors, sizes and scalars are bound, and how each stage is dispatched.
// The runner reads this (it also goes into NAME.json under "webgpu"), so it is plain data.
import type { DType } from "../../syntax/ast.js";
import type { Storage } from "../../schedule/types.js";

export type { Storage } from "../../schedule/types.js";
export { storageOf, elementsPerWorkgroup } from "../../schedule/choose-wgsl.js";

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

export type WgslStage = {
  readonly entryPoint: string;
  /** The bindings the entry point uses (0, the parameters, always). */
  readonly bindings: readonly number[];
  readonly dispatch: StageDispatch;
};

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

export const maxDispatch = 65535;
