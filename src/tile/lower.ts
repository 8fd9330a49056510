// Tile stage: a fused stage lowered to its tile program (types.ts), a pure function of the stage and of what the
// target asks: `deferScale`, where the target's softmax scales raw products inside exp2 (CUDA: one multiply-add a
// score instead of a multiply and a subtract).
import type { Expr } from "../check/typed.js";
import type { FusedStage } from "../plan/plan.js";
import { softmaxFinish, softmaxTileOps } from "./online-softmax.js";
import type { TileOp, TileProgram } from "./types.js";

export type LowerOptions = { readonly deferScale: boolean };

export function lowerFused(stage: FusedStage, options: LowerOptions): TileProgram {
  const c = stage.chain;
  const common = { stage, mask: c.mask, skipEmpty: c.maskedIsZero };
  if (c.normalizer.kind === "elementwise") {
    return {
      kind: "attention", ...common, loads: { k: true, v: true }, scale: undefined, state: [],
      tile: [{ op: "scores" }, { op: "scoreMod", value: c.scoreMod }, { op: "mask" }, { op: "normalise", fn: c.normalizer.fn }, { op: "accumulate" }],
      finish: [{ op: "storeOutput" }],
    };
  }
  const scale = options.deferScale ? deferredScale(c.scoreMod) : undefined;
  const tile: TileOp[] = [
    { op: "scores" },
    ...(scale === undefined ? [{ op: "scoreMod", value: timesLog2e(c.scoreMod) } as const] : []),
    { op: "mask" },
    ...softmaxTileOps(scale, true),
    { op: "accumulate" },
  ];
  const stats = c.extras.map((x) => ({ kind: x.kind, store: { output: x.output, outputVars: x.outputVars, epilogue: x.epilogue } }));
  return {
    kind: "attention", ...common, loads: { k: true, v: true }, scale,
    state: [{ reg: "rowMax", init: -Infinity }, { reg: "rowSum", init: 0 }],
    tile, finish: softmaxFinish(stats, c.normalizer.sink, true),
  };
}

/** The program's ops of a kind, in order (for printers that place an op where their pipeline wants it). */
export const opsOf = <K extends TileOp["op"]>(p: TileProgram, op: K): Extract<TileOp, { op: K }>[] =>
  p.tile.filter((o): o is Extract<TileOp, { op: K }> => o.op === op);

const LOG2E = Math.LOG2E;

/**
 * For a score function `score * c` with a constant c > 0 (the usual 1 / sqrt(D)): c log2(e), the factor a softmax
 * may apply inside exp2(s c' - m) to raw products, whose maximum it takes unscaled (a positive factor keeps the
 * order).
 */
export function deferredScale(scoreMod: Expr): number | undefined {
  const e = timesLog2e(scoreMod);
  if (e.kind !== "binary" || e.op !== "*") return undefined;
  const [ref, k] = e.left.kind === "ref" ? [e.left, e.right] : [e.right, e.left];
  return ref.kind === "ref" && ref.name === "score" && k.kind === "const" && k.value > 0 && Number.isFinite(k.value) ? k.value : undefined;
}

/** e * log2(e): the online softmax works in base 2, folded into a constant factor of a product where e has one. */
export function timesLog2e(e: Expr): Expr {
  if (e.kind === "binary" && e.op === "*" && e.right.kind === "const" && e.type === "float") {
    return { ...e, right: { ...e.right, value: e.right.value * LOG2E } };
  }
  if (e.kind === "binary" && e.op === "*" && e.left.kind === "const" && e.type === "float") {
    return { ...e, left: { ...e.left, value: e.left.value * LOG2E } };
  }
  return { kind: "binary", op: "*", left: e, right: { kind: "const", value: LOG2E, type: "float", span: e.span }, type: "float", span: e.span };
}
