// Emit stage (WGSL): what the fused and naive printers take from the binding layout (manifest.ts, NAME.json's
// "webgpu") and the schedule.
export type { BufferBinding } from "../../manifest.js";
export { elementsPerWorkgroup } from "../../schedule/choose-wgsl.js";
