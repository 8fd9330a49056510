// Emit stage (WGSL): a kernel plan printed as WGSL compute shaders. (Being written: see issue 4.)
import type { KernelPlan } from "../../plan/plan.js";

export type WgslProgram = { readonly code: string };

export function emitWgsl(plan: KernelPlan): WgslProgram | undefined {
  void plan;
  return undefined;
}
