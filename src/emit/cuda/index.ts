// Emit stage (CUDA): a kernel plan printed as a CUDA C++ translation unit and its header. (Being written: see issue 5.)
import type { KernelPlan } from "../../plan/plan.js";

export type CudaOptions = { readonly arch: "sm_80" | "sm_90a" };
export type CudaProgram = { readonly source: string; readonly header: string };

export function emitCuda(plan: KernelPlan, options: CudaOptions): CudaProgram | undefined {
  void plan;
  void options;
  return undefined;
}
