// Emit stage (WGSL): how a kernel's tensors, sizes and scalars are bound, and how each stage is dispatched.
// The runner reads this (NAME.json's "webgpu", whose types manifest.ts holds), so it is plain data.
export type { Storage } from "../../schedule/types.js";
export type { BufferBinding, StageDispatch, WebGpuLayout, WgslStage } from "../../manifest.js";
export { storageOf, elementsPerWorkgroup } from "../../schedule/choose-wgsl.js";

export const maxDispatch = 65535;
