// Tile stage: the fused kernel as a tile program, plain data between plan/schedule and the printers. A program says
// what a block does for a query tile: the row state it keeps, the operations it runs on each live key tile of the
// stage's key range and tile classes, and those that finish each row. The CPU executor (interp/execute-tile.ts) runs
// it; the CUDA and WGSL printers print it, each op in their own spelling (docs/design/tile-ir.md).
import type { Expr, IndexVar, TensorInfo } from "../check/typed.js";
import type { FusedStage } from "../plan/plan.js";

/**
 * A value a query row holds: the running max `rowMax` and sum `rowSum` of the online softmax (log2 units), and the
 * temporaries of a key tile's update and of the row's finish. `score` is the element an `exponentiate` maps.
 */
export const registers = [
  "rowMax", "rowSum", "tileMax", "base", "alpha", "score", "stat", "sink", "finalMax", "finalBase", "scale", "denominator",
] as const;
export type Register = (typeof registers)[number];

/** A scalar of a row, in f32: what the online softmax computes, one formula a register. */
export type Scalar =
  | { readonly kind: "reg"; readonly reg: Register }
  | { readonly kind: "const"; readonly value: number }
  /** A chain expression (the sink logit), printed by the backend's expression printer. */
  | { readonly kind: "expr"; readonly expr: Expr }
  /** Whether the key axis is empty (M = 0). */
  | { readonly kind: "noKeys" }
  /**
   * `belowInf`: min(x, largest f32). `finite`: a finite stand-in for a row max: x where finite, the largest f32 for
   * +inf, and for -inf any finite value (exp2(-inf - it) is 0 whatever it is), so that exp2(s - it) is never NaN.
   */
  | { readonly kind: "unary"; readonly op: "neg" | "exp2" | "log2" | "belowInf" | "finite"; readonly arg: Scalar }
  | { readonly kind: "binary"; readonly op: "+" | "-" | "*" | "/" | "max" | "==" | "||"; readonly left: Scalar; readonly right: Scalar }
  /** a * b + c in one rounding where the target has it. */
  | { readonly kind: "fma"; readonly a: Scalar; readonly b: Scalar; readonly c: Scalar }
  | { readonly kind: "select"; readonly cond: Scalar; readonly then: Scalar; readonly otherwise: Scalar };

export type Assign = { readonly reg: Register; readonly value: Scalar };

/** A register a row keeps across key tiles, and its value before the first one. */
export type RowState = { readonly reg: Register; readonly init: number };

/**
 * The operations on a key tile, in order:
 * - `scores`: S = Q K^T over the tile, the raw products (the backend's matrix product);
 * - `scoreMod`: s = `value` (the score function with the product as `ref score`, times log2(e) for a softmax),
 *   absent where the softmax scales raw products itself (`TileProgram.scale`);
 * - `mask`: s = -inf where `TileProgram.mask` is off or the key is past the end, in tiles that are not full;
 * - `normalise`: an element-wise normaliser, p = fn(x) with the masked score as `ref x`, 0 past the end;
 * - `tileMax`: the register `into` = the row's max of s over the tile (across the threads that share the row), and
 *   of the register `init` where given;
 * - `assign`: row registers, in order;
 * - `exponentiate`: each s = `value` (with s as the register `score`), summed into the register `sum`;
 * - `rescale`: the output accumulator times the register `by`;
 * - `accumulate`: O += P V.
 */
export type TileOp =
  | { readonly op: "scores" }
  | { readonly op: "scoreMod"; readonly value: Expr }
  | { readonly op: "mask" }
  | { readonly op: "normalise"; readonly fn: Expr }
  | { readonly op: "tileMax"; readonly into: Register; readonly init?: Register }
  | { readonly op: "assign"; readonly steps: readonly Assign[] }
  | { readonly op: "exponentiate"; readonly value: Scalar; readonly sum: Register }
  | { readonly op: "rescale"; readonly by: Register }
  | { readonly op: "accumulate" };

/** A row statistic the program writes: `epilogue` reads the register `stat` as `ref stat`. */
export type StatisticStore = { readonly output: TensorInfo; readonly outputVars: readonly IndexVar[]; readonly epilogue: Expr };

/**
 * The operations that finish a row, after its last key tile:
 * - `rowSum`: the register `reg` summed across the threads that share the row;
 * - `assign`: row registers, in order;
 * - `storeStatistic`: a statistic output (the register `stat`), written by one thread of the row;
 * - `storeOutput`: the output through the chain's epilogue, the accumulator times the register `scale` as `ref acc`.
 */
export type FinishOp =
  | { readonly op: "rowSum"; readonly reg: Register }
  | { readonly op: "assign"; readonly steps: readonly Assign[] }
  | { readonly op: "storeStatistic"; readonly store: StatisticStore }
  | { readonly op: "storeOutput"; readonly scale?: Register };

/**
 * A fused stage as a tile program. `stage` gives the loops: the row variables, the query tiles, the key range and
 * tile classes (`skipEmpty`: empty tiles are skipped, where a masked score contributes exactly 0). `mask` is the
 * chain's mask; `scale`, where the softmax scales raw products inside exp2 (the score function is `score * c`),
 * is c log2(e); `loads` says which tiles a key tile needs.
 */
export type TileProgram = {
  readonly kind: "attention" | "statistics";
  readonly stage: FusedStage;
  readonly loads: { readonly k: true; readonly v: boolean };
  readonly mask: Expr | undefined;
  readonly scale: number | undefined;
  readonly skipEmpty: boolean;
  readonly state: readonly RowState[];
  readonly tile: readonly TileOp[];
  readonly finish: readonly FinishOp[];
};
