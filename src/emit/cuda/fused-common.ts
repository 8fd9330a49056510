// Emit stage (CUDA): the parts of a fused kernel that the tensor-core and the SIMT kernels share:
// key range and tile classes, q/k/v planes, the tile program's score ops on one element, its row formulas (spelled
// by cudaScalars) and the row's finish.
import type { Expr } from "../../check/typed.js";
import type { FusedStage } from "../../plan/plan.js";
import type { Dialect } from "../expr.js";
import { printAssigns, printExpr } from "../expr.js";
import { some } from "../../graph/walk.js";
import type { CodeWriter } from "../writer.js";
import { declareRows, extentCode, offsetCode, rowCountCode, storeOffset, type TensorSlot } from "./common.js";
import type { Register, TileProgram } from "../../tile/types.js";
import { opsOf } from "../../tile/lower.js";
import type { ScalarSpelling } from "../../tile/print.js";

/**
 * Declares N, M, the row count and the block's query tile [i0, i1] (also as r_i0, r_i1 for tile classification),
 * then loops over the block's rows around `body`. Rows go in groups of `group`, chosen at launch so that a group's
 * K and V stay in L2: blockIdx.x walks a group's rows fastest and its query tiles from the last (the longest under
 * a causal mask) to the first, blockIdx.y the groups. The hardware dispatches blocks in that order, so within a
 * group the long blocks start first and the short ones fill the tail. With group = 1 this is row after row.
 *
 * With `persistent` (the schedule's persistent blocks, one an SM), the block loops over work items instead:
 * `persistent` declares `item`, the next one this block runs (at or past `work` when none is left), taken in the
 * same order (row group, a group's query tiles longest first, rows fastest; the last group may be short), so that
 * items handed out one at a time from a counter keep the grid's longest-first order.
 */
export function printQueryTileLoop(stage: FusedStage, d: Dialect, w: CodeWriter, body: () => void, persistent?: () => void): void {
  const c = stage.chain;
  w.line(`const int N = ${extentCode(c.queryVar.extent, d)}, M = ${extentCode(c.keyVar.extent, d)};`);
  w.line(`const long long rows = ${rowCountCode(c.rowVars, d)};`);
  if (persistent) {
    w.line("const int tiles = (N + BR - 1) / BR;");
    w.line("const long long work = rows * tiles, whole_groups = rows / group;");
    w.block("for (;;)", () => {
      persistent();
      w.line("if (item >= work) break;");
      // Items before group g: g * group * tiles; the group holds `size` rows (fewer in a short last group).
      w.line("const long long g = min(item / ((long long)group * tiles), whole_groups);");
      w.line("const long long size = g < whole_groups ? group : rows - whole_groups * group;");
      w.line("const long long x = item - g * group * tiles;");
      w.line("const long long row = g * group + x % size;");
      w.line("const int i0 = (tiles - 1 - (int)(x / size)) * BR;");
      w.line("const int i1 = min(i0 + BR, N) - 1;");
      w.line("const int r_i0 = i0, r_i1 = i1;");
      w.line("(void)r_i0; (void)r_i1;");
      declareRows(c.rowVars, "(int)row", d, w);
      body();
    });
    return;
  }
  w.line("const int in_group = blockIdx.x % group;");
  w.line("const int i0 = (gridDim.x / group - 1 - blockIdx.x / group) * BR;  // the longest (causal) tiles start first");
  w.line("const int i1 = min(i0 + BR, N) - 1;");
  w.line("const int r_i0 = i0, r_i1 = i1;");
  w.line("(void)r_i0; (void)r_i1;");
  w.block("for (long long row = blockIdx.y * (long long)group + in_group; row < rows; row += gridDim.y * (long long)group)", () => {
    declareRows(c.rowVars, "(int)row", d, w);
    body();
  });
}

const position = (load: FusedStage["chain"]["q"], name: string) => load.indices.findIndex((x) => x.kind === "var" && x.name === name);

/** Whether the tile classes read run-time tables (document ids) rather than indices alone. */
export const classifiedFromTables = (stage: FusedStage): boolean =>
  some(stage.tiles.empty, (x) => x.kind === "load") || some(stage.tiles.full, (x) => x.kind === "load");

/** Declares key_lo/key_hi/tile_end, the tile_empty/tile_full/next_tile lambdas, and gQ/gK/gV with their strides (printPlanes). */
export function printPrologue(stage: FusedStage, d: Dialect, w: CodeWriter, slots: ReadonlyMap<string, TensorSlot>, types = { q: "T", k: "T", v: "T" }): void {
  const c = stage.chain;
  const expr = (e: Expr) => printExpr(e, d, w);
  const lo = stage.keyRange.lo ? `max(0, ${expr(stage.keyRange.lo)})` : "0";
  const hi = stage.keyRange.hi ? `min(M - 1, ${expr(stage.keyRange.hi)})` : "M - 1";
  w.line(`const int key_lo = ${lo};`);
  w.line(`const int key_hi = ${hi};`);
  w.line("const int tile_end = key_lo <= key_hi ? key_hi / BC + 1 : 0;");
  const classify = (name: string, e: Expr) =>
    w.block(`auto ${name} = [&](int kt) -> bool`, () => {
      w.line("const int r_j0 = kt * BC, r_j1 = min(r_j0 + BC, M) - 1;");
      w.line("(void)r_j0; (void)r_j1;");
      w.line(`return ${expr(e)};`);
    }, "};");
  classify("tile_empty", stage.tiles.empty);
  classify("tile_full_at", stage.tiles.full);
  const tables = classifiedFromTables(stage);
  if (c.maskedIsZero && tables) {
    // Tiles classified from run-time tables (document ids): each warp classifies a window of 32 candidate tiles at
    // once (one lane a tile, two ballots) and keeps both bit masks: the same answer in every warp without a
    // barrier, and one round of table loads per 32 tiles instead of one or two per tile visited. tile_full reads
    // the window and classifies tiles outside it itself.
    w.line("int window = -32;");
    w.line("unsigned window_live = 0u, window_full = 0u;");
    w.block("auto next_tile = [&](int kt) -> int", () => {
      w.block("while (kt < tile_end)", () => {
        w.block("if (kt < window || kt >= window + 32)", () => {
          w.line("const int candidate = kt + (int)(threadIdx.x & 31);");
          w.line("const bool inside = candidate < tile_end;");
          w.line("window_live = __ballot_sync(0xffffffffu, inside && !tile_empty(candidate));");
          w.line("window_full = __ballot_sync(0xffffffffu, inside && tile_full_at(candidate));");
          w.line("window = kt;");
        });
        w.line("const unsigned live = window_live >> (kt - window);");
        w.line("if (live != 0u) return kt + __ffs((int)live) - 1;");
        w.line("kt = window + 32;");
      });
      w.line("return -1;");
    }, "};");
    w.block("auto tile_full = [&](int kt) -> bool", () => {
      w.line("return kt >= window && kt < window + 32 ? ((window_full >> (kt - window)) & 1u) != 0u : tile_full_at(kt);");
    }, "};");
  } else if (c.maskedIsZero) {
    // Classes computed from indices alone: each warp tests 32 candidate tiles at once and takes the first live one.
    w.block("auto next_tile = [&](int kt) -> int", () => {
      w.block("while (kt < tile_end)", () => {
        w.line("const int candidate = kt + (int)(threadIdx.x & 31);");
        w.line("const unsigned live = __ballot_sync(0xffffffffu, candidate < tile_end && !tile_empty(candidate));");
        w.line("if (live != 0u) return kt + __ffs((int)live) - 1;");
        w.line("kt += 32;");
      });
      w.line("return -1;");
    }, "};");
    w.line("auto tile_full = tile_full_at;");
  } else {
    w.line("auto next_tile = [&](int kt) -> int { return kt < tile_end ? kt : -1; };");
    w.line("auto tile_full = tile_full_at;");
  }
  w.line("const int first = key_lo <= key_hi ? key_lo / BC : 0;");
  printPlanes(stage, d, w, slots, types);
}

/** Declares gQ/gK/gV (this row's q, k and v planes) and their row and column strides. */
function printPlanes(stage: FusedStage, d: Dialect, w: CodeWriter, slots: ReadonlyMap<string, TensorSlot>, types = { q: "T", k: "T", v: "T" }): void {
  const c = stage.chain;
  const plane = (load: typeof c.q, a: string, b: string, label: string, rs: string, cs: string, type: string) => {
    const slot = slots.get(load.tensor)!;
    const [pa, pb] = [position(load, a), position(load, b)];
    w.line(`const ${type}* ${label} = static_cast<const ${type}*>(p.t[${slot.index}]) + (${offsetCode(load, slot, d, w, new Set([pa, pb]))});`);
    w.line(`const long long ${rs} = p.st[${slot.strideOffset + pa}], ${cs} = p.st[${slot.strideOffset + pb}];`);
  };
  plane(c.q, c.queryVar.name, c.headVar.name, "gQ", "q_rs", "q_cs", types.q);
  plane(c.k, c.keyVar.name, c.headVar.name, "gK", "k_rs", "k_cs", types.k);
  plane(c.v, c.keyVar.name, c.valueVar.name, "gV", "v_rs", "v_cs", types.v);
}

/** A fused kernel's per-score expressions: the score function (absent: raw products), the mask, an element-wise normaliser. */
export type ScoreCode = { readonly score?: Expr; readonly mask?: Expr; readonly normalise?: Expr };

/** The tile program's per-score expressions as written (the tensor-core kernels hoist reads out of them first). */
export const scoreCode = (p: TileProgram): ScoreCode => ({
  score: opsOf(p, "scoreMod")[0]?.value, mask: p.mask, normalise: opsOf(p, "normalise")[0]?.fn,
});

/**
 * With the query and key variables and r_score in scope (and j_raw, guarded): the program's scoreMod, mask and
 * normalise ops on one element: leaves in `target` the log2-scaled score (softmax), or the probability.
 */
export function printScoreElement(code: ScoreCode, d: Dialect, w: CodeWriter, target: string, masked = true): void {
  const expr = (e: Expr) => printExpr(e, d, w);
  w.line(`const float r_score = ${target};`);
  w.line(`float x = ${code.score === undefined ? "r_score" : expr(code.score)};`);
  if (masked) w.block("if (guarded)", () => printMaskElement(code, d, w, "x"));
  if (code.normalise === undefined) w.line(`${target} = x;`);
  else {
    w.line("const float r_x = x;");
    w.line(`${target} = j_raw < M ? ${expr(code.normalise)} : 0.0f;`);
  }
}

/** With the query and key variables and j_raw in scope, in a guarded tile: sets `target` to -inf where the mask is off. */
export function printMaskElement(code: ScoreCode, d: Dialect, w: CodeWriter, target: string): void {
  w.line(`if (j_raw >= M${code.mask ? ` || !(${printExpr(code.mask, d, w)})` : ""}) ${target} = NEG_INF;`);
}

/** How CUDA spells the tile program's row formulas, with `reg` the spelling of each register where they are printed. */
export const cudaScalars = (d: Dialect, w: CodeWriter, reg: (r: Register) => string): ScalarSpelling => ({
  reg, float: (v) => (v === -Infinity ? "NEG_INF" : d.floatLiteral(v)), expr: (e) => printExpr(e, d, w), noKeys: "M == 0",
  exp2: (a) => `attnc_exp2(${a})`, log2: (a) => `log2f(${a})`, max: (a, b) => `fmaxf(${a}, ${b})`,
  belowInf: (a) => `attnc_below_inf(${a})`, finite: (a) => `${a} == NEG_INF ? 0.0f : attnc_below_inf(${a})`,
  fma: (a, b, c) => `fmaf(${a}, ${b}, ${c})`, select: (c, t, o) => `${c} ? ${t} : ${o}`,
});


/** The finish's registers that are not the row state: locals of the row's finish, declared where first assigned. */
const finishNames: Partial<Record<Register, string>> = {
  stat: "r_stat", sink: "sink2", finalMax: "m_final", finalBase: "base_final", scale: "scale", denominator: "denominator",
};

/**
 * A row's finish after its partial sums are joined (the rowSum ops, which the caller prints before its guard on the
 * row): the program's assigns, its statistics (written where `writer` holds) and its output (`storeOutputs`, given
 * the scale's name or undefined, prints the loops over the value columns around printOutputStore). `state` spells
 * the row state (rowMax, rowSum) for this row.
 */
export function printRowFinish(
  p: TileProgram, d: Dialect, w: CodeWriter, slots: ReadonlyMap<string, TensorSlot>, state: (r: Register) => string, writer: string,
  storeOutputs: (scale: string | undefined) => void,
): void {
  const declared = new Set<Register>(["rowMax", "rowSum"]);
  const reg = (r: Register) => finishNames[r] ?? state(r);
  const spelling = cudaScalars(d, w, reg);
  for (const op of p.finish) {
    if (op.op === "assign") printAssigns(w, op.steps, spelling, declared, "float");
    else if (op.op === "storeStatistic") {
      const slot = slots.get(op.store.output.name)!;
      w.line(`if (${writer}) attnc_store(static_cast<${slot.ctype}*>(const_cast<void*>(p.t[${slot.index}])) + (${storeOffset(op.store.outputVars, slot)}), ${printExpr(op.store.epilogue, d, w)});`);
    } else if (op.op === "storeOutput") storeOutputs(op.scale && reg(op.scale));
  }
}

/** Writes one output element through the epilogue, with the value variable and r_acc in scope. */
export function printOutputStore(stage: FusedStage, d: Dialect, w: CodeWriter, slots: ReadonlyMap<string, TensorSlot>): void {
  const c = stage.chain;
  const out = slots.get(c.output.name)!;
  w.line(`attnc_store(static_cast<${out.ctype}*>(const_cast<void*>(p.t[${out.index}])) + (${storeOffset(c.outputVars, out)}), ${printExpr(c.epilogue, d, w)});`);
}
