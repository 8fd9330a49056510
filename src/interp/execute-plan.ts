// Interp stage: a CPU executor of a kernel plan in float32: naive stages as element programs, fused ones as tile programs.
import type { KernelPlan } from "../plan/plan.js";
import { prepare, runElements, type Arguments, type Sizes } from "./interpret.js";
import { recordOf } from "../records.js";
import { lowerFused } from "../tile/lower.js";
import { runTileProgram, type TileCounts, type TileShape } from "./execute-tile.js";
import { lowerNaiveStage } from "../tile/elements.js";

export type { TileCounts, TileShape } from "./execute-tile.js";

/**
 * Runs a plan's programs: naive stages as element programs, fused ones as tile programs (lowered as CUDA lowers them,
 * the softmax scaling raw products where it can; `deferScale: false` as WGSL does).
 */
export function executePlan(plan: KernelPlan, args: Arguments, sizes: Sizes, tile: TileShape & { readonly deferScale?: boolean }): { outputs: Record<string, Float64Array>; tiles: TileCounts } {
  const { buffers, infos, scalars } = prepare(plan.kernel, args, sizes);
  for (const t of plan.buffers) infos.set(t.name, t);
  const counts: TileCounts = { full: 0, partial: 0, empty: 0, skipped: 0 };
  for (const stage of plan.stages) {
    if (stage.kind === "naive") runElements(lowerNaiveStage(stage), { sizes, scalars, buffers, infos });
    else runTileProgram(lowerFused(stage, { deferScale: tile.deferScale ?? true }), { sizes, scalars, buffers, infos }, tile, counts);
  }
  const outputs = recordOf(plan.kernel.outputs.map((o) => [o.name, buffers.get(o.name)!]));
  return { outputs, tiles: counts };
}
