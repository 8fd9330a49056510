// Emit stage (CUDA): the register-level tile math that the mma.sync and the wgmma kernels share. Both hold a
// warp's scores in the m16n8 accumulator layout (s[MT][BC / 8][4], rows lane / 4 and + 8, columns 2 (lane % 4)
// and + 1), so the tile program's score ops, online softmax, P packing and row finish print the same for both.
import type { Expr } from "../../check/typed.js";
import type { Dialect } from "../expr.js";
import { identifier, printExpr } from "../expr.js";
import type { CodeWriter } from "../writer.js";
import type { TensorSlot } from "./common.js";
import { cudaScalars, printMaskElement, printOutputStore, printRowFinish, printScoreElement, scoreCode, type ScoreCode } from "./fused-common.js";
import { some } from "../../graph/walk.js";
import { hoistScoreReads, type Hoisted } from "../../graph/hoist.js";
import type { Register, TileOp, TileProgram } from "../../tile/types.js";
import { printScalar } from "../../tile/print.js";

const reads = (e: Expr, h: Hoisted): boolean => some(e, (x) => x.kind === "ref" && x.name === h.name);

export const unrolled = (w: CodeWriter, head: string, body: () => void): void => {
  w.line("#pragma unroll");
  w.block(head, body);
};

/**
 * The tile program with its score code's key- or query-independent tensor reads replaced by hoisted values (`code`),
 * and the scale the softmax applies inside exp2 to raw products (the program's), where the score allows it.
 */
export type TileMath = {
  readonly program: TileProgram; readonly code: ScoreCode; readonly hoisted: readonly Hoisted[]; readonly scale: number | undefined;
};

/**
 * Tensor reads that do not depend on the key (ALiBi's slopes[h], a document id doc[b, i]) are loaded once per row
 * before the key loop, those that do not depend on the query (doc[b, j]) once per column of a key tile, instead of
 * once per score.
 */
export function tileMath(program: TileProgram): TileMath {
  const c = program.stage.chain;
  const written = scoreCode(program);
  const { scoreMod, mask, hoisted } = hoistScoreReads(written.score ?? rawScore, written.mask, c.keyVar.name, c.queryVar.name);
  const code = { ...written, score: written.score === undefined ? undefined : scoreMod, mask };
  return { program, code, hoisted, scale: program.scale };
}

const rawScore: Expr = { kind: "ref", name: "score", type: "float", span: { start: 0, end: 0 } };

const softmaxOf = (p: TileProgram) => p.state.length > 0;

/** Declares the O accumulators, the row-hoisted values and the program's row state, before the key loop. */
export function printRowState(t: TileMath, d: Dialect, w: CodeWriter): void {
  const iName = identifier(t.program.stage.chain.queryVar.name);
  w.line("float o[MT][DV / 8][4];");
  unrolled(w, "for (int mt = 0; mt < MT; ++mt)", () => {
    w.line("#pragma unroll");
    w.line("for (int nt = 0; nt < DV / 8; ++nt) o[mt][nt][0] = o[mt][nt][1] = o[mt][nt][2] = o[mt][nt][3] = 0.0f;");
  });
  const rows = t.hoisted.filter((h) => h.over === "row");
  for (const h of rows) w.line(`${d[h.value.type]} hoisted_${h.name}[MT][2];`);
  if (rows.length > 0) {
    unrolled(w, "for (int mt = 0; mt < MT; ++mt)", () => {
      unrolled(w, "for (int r = 0; r < 2; ++r)", () => {
        w.line(`const int ${iName} = min(i0 + warp_row + mt * 16 + (lane >> 2) + r * 8, N - 1);`);
        w.line(`(void)${iName};`);
        for (const h of rows) w.line(`hoisted_${h.name}[mt][r] = ${printExpr(h.value, d, w)};`);
      });
    });
  }
  if (t.program.state.length === 0) return;
  w.line(`float ${t.program.state.map((s) => `${rowState(s.reg, "")}[MT][2]`).join(", ")};`);
  w.line("#pragma unroll");
  const init = t.program.state.map((s) => `${rowState(s.reg, "[mt][0]")} = ${rowState(s.reg, "[mt][1]")} = ${cudaScalars(d, w, (r) => r).float(s.init)};`);
  w.line(`for (int mt = 0; mt < MT; ++mt) { ${init.join(" ")} }`);
}

/** The row state's registers, and a key tile's, as this layout names them (`at`: [mt][r] or the like). */
const rowState = (r: Register, at: string): string => {
  const names: Partial<Record<Register, string>> = { rowMax: "m_run", rowSum: "l_run", alpha: "alpha" };
  return `${names[r] ?? r}${at}`;
};
const tileRegister = (r: Register, row: string): string => {
  switch (r) {
    case "tileMax": return `mx[${row}]`;
    case "base": return `base[${row}]`;
    case "score": return "s[mt][nt][cc]";
    default: return rowState(r, `[mt][${row}]`);
  }
};

/**
 * The column values that only a softmax's mask reads (a document id doc[b, j]): loaded in guarded tiles alone, and
 * then used only by the mask's own pass over those tiles, so that full tiles never load them.
 */
const maskOnlyColumns = (t: TileMath): readonly Hoisted[] =>
  softmaxOf(t.program) ? t.hoisted.filter((h) => h.over === "column" && !(t.code.score !== undefined && reads(t.code.score, h))) : [];

/** Declares hoisted_NAME[BC / 8][2] of each of `hs` and loads this lane's columns of the tile at j0 (where `guard`). */
function printColumnLoads(t: TileMath, d: Dialect, w: CodeWriter, hs: readonly Hoisted[], guard?: string): void {
  if (hs.length === 0) return;
  const jName = identifier(t.program.stage.chain.keyVar.name);
  for (const h of hs) w.line(`${d[h.value.type]} hoisted_${h.name}[BC / 8][2];`);
  const load = () =>
    unrolled(w, "for (int nt = 0; nt < BC / 8; ++nt)", () => {
      unrolled(w, "for (int c1 = 0; c1 < 2; ++c1)", () => {
        w.line(`const int ${jName} = min(j0 + nt * 8 + ((lane & 3) << 1) + c1, M - 1);`);
        w.line(`(void)${jName};`);
        for (const h of hs) w.line(`hoisted_${h.name}[nt][c1] = ${printExpr(h.value, d, w)};`);
      });
    });
  if (guard === undefined) load();
  else w.block(`if (${guard})`, load);
}

/**
 * Declares `guarded` (the tile needs its mask) and, in guarded tiles, loads the mask-only column values: printed
 * after the tile's S = Q K^T is issued and before it is waited for, so that those loads run under the product
 * (printScores is then told they are loaded). `full`: whether the tile needs no mask (tile_full(kt) unless given).
 */
export function printMaskPrefetch(t: TileMath, d: Dialect, w: CodeWriter, full = "tile_full(kt)"): void {
  w.line(`const bool guarded = !${full} || j0 + BC > M;`);
  printColumnLoads(t, d, w, maskOnlyColumns(t), "guarded");
}

/**
 * With the raw products in s (the program's `scores`) and j0 the tile's first key: the program's ops up to the
 * rescale: the score function on every element, for a softmax the mask in a pass of its own that only guarded
 * tiles run (full interior tiles run no mask code), then the tile max, the row formulas and the exponentials: s
 * holds the tile's unnormalised probabilities and alpha[mt][r] the factor O must be rescaled by
 * (printRescaleAndPack). With `prefetched`, the caller has printed printMaskPrefetch (under its S product).
 */
export function printScores(t: TileMath, d: Dialect, w: CodeWriter, prefetched = false): void {
  const c = t.program.stage.chain;
  const iName = identifier(c.queryVar.name);
  const jName = identifier(c.keyVar.name);
  const softmax = softmaxOf(t.program);
  if (!prefetched) printMaskPrefetch(t, d, w);
  const maskOnly = maskOnlyColumns(t);
  /** The body over every score, with the hoisted values that `read` (the expressions it prints) reads in scope. */
  const eachScore = (candidates: readonly Hoisted[], read: readonly (Expr | undefined)[], body: () => void) => {
    const hs = candidates.filter((h) => read.some((e) => e !== undefined && reads(e, h)));
    unrolled(w, "for (int mt = 0; mt < MT; ++mt)", () => {
      unrolled(w, "for (int nt = 0; nt < BC / 8; ++nt)", () => {
        unrolled(w, "for (int cc = 0; cc < 4; ++cc)", () => {
          w.line("const int i_raw = i0 + warp_row + mt * 16 + (lane >> 2) + ((cc >> 1) << 3);");
          w.line("const int j_raw = j0 + nt * 8 + ((lane & 3) << 1) + (cc & 1);");
          w.line(`const int ${iName} = min(i_raw, N - 1);`);
          w.line(`const int ${jName} = min(j_raw, M - 1);`);
          w.line(`(void)${iName}; (void)${jName};`);
          for (const h of hs) w.line(`const ${d[h.value.type]} ${d.ref(h.name)} = hoisted_${h.name}${h.over === "row" ? "[mt][cc >> 1]" : "[nt][cc & 1]"};`);
          body();
        });
      });
    });
  };
  const inline = t.hoisted.filter((h) => !maskOnly.includes(h));
  printColumnLoads(t, d, w, inline.filter((h) => h.over === "column"));
  // The score pass (for raw products that the softmax scales it leaves s as it is, and nvcc drops it); other
  // normalisers mask in it.
  const scorePass = [t.code.score, t.code.normalise, ...(softmax ? [] : [t.code.mask])];
  eachScore(inline, scorePass, () => printScoreElement(t.code, d, w, "s[mt][nt][cc]", !softmax));
  if (softmax) {
    w.block("if (guarded)", () => {
      eachScore(t.hoisted, [t.code.mask], () => printMaskElement(t.code, d, w, "s[mt][nt][cc]"));
    });
  }
  if (!softmax) return;
  // The row formulas of the program (online-softmax.ts); alpha outlives this loop (the rescale reads it).
  w.line("float alpha[MT][2];");
  const spelling = cudaScalars(d, w, (r) => tileRegister(r, "r"));
  const assigns = (op: TileOp | undefined) => {
    if (op?.op === "assign") for (const s of op.steps) w.line(`${tileRegister(s.reg, "r")} = ${printScalar(s.value, spelling)};`);
  };
  unrolled(w, "for (int mt = 0; mt < MT; ++mt)", () => {
    t.program.tile.forEach((op, x) => {
      const next = t.program.tile[x + 1];
      if (op.op === "tileMax") {
        w.line(op.init === undefined ? "float mx[2] = {NEG_INF, NEG_INF};" : `float mx[2] = {${tileRegister(op.init, "0")}, ${tileRegister(op.init, "1")}};`);
        w.line("#pragma unroll");
        w.line("for (int nt = 0; nt < BC / 8; ++nt) { mx[0] = fmaxf(mx[0], fmaxf(s[mt][nt][0], s[mt][nt][1])); mx[1] = fmaxf(mx[1], fmaxf(s[mt][nt][2], s[mt][nt][3])); }");
        w.line("float base[2];");
        // The quad's max, and the assigns that follow it in the same loop over the thread's two rows.
        unrolled(w, "for (int r = 0; r < 2; ++r)", () => {
          w.line("mx[r] = fmaxf(mx[r], __shfl_xor_sync(0xffffffffu, mx[r], 1));");
          w.line("mx[r] = fmaxf(mx[r], __shfl_xor_sync(0xffffffffu, mx[r], 2));");
          assigns(next);
        });
      } else if (op.op === "assign") {
        if (t.program.tile[x - 1]?.op !== "tileMax") unrolled(w, "for (int r = 0; r < 2; ++r)", () => assigns(op));
      } else if (op.op === "exponentiate") {
        const spelling = cudaScalars(d, w, (r) => tileRegister(r, "cc >> 1"));
        w.line("#pragma unroll");
        w.line("for (int nt = 0; nt < BC / 8; ++nt) {");
        w.line("  #pragma unroll");
        w.line(`  for (int cc = 0; cc < 4; ++cc) { s[mt][nt][cc] = ${printScalar(op.value, spelling)}; ${tileRegister(op.sum, "cc >> 1")} += s[mt][nt][cc]; }`);
        w.line("}");
      }
    });
  });
}

/**
 * After printScores, once no product into O is in flight: the program's rescale of O by the running max's change,
 * and P packed into pa, the A operand of P V (the S accumulator layout of two n-tiles is the A operand layout of
 * one k-step).
 */
export function printRescaleAndPack(t: TileMath, w: CodeWriter, declarePa = true): void {
  for (const op of t.program.tile) {
    if (op.op !== "rescale") continue;
    const by = (r: number) => tileRegister(op.by, `${r}`);
    unrolled(w, "for (int mt = 0; mt < MT; ++mt)", () => {
      w.line("#pragma unroll");
      w.line(`for (int nt = 0; nt < DV / 8; ++nt) { o[mt][nt][0] *= ${by(0)}; o[mt][nt][1] *= ${by(0)}; o[mt][nt][2] *= ${by(1)}; o[mt][nt][3] *= ${by(1)}; }`);
    });
  }
  if (declarePa) w.line("uint32_t pa[MT][BC / 16][4];");
  unrolled(w, "for (int mt = 0; mt < MT; ++mt)", () => {
    unrolled(w, "for (int kk = 0; kk < BC / 16; ++kk)", () => {
      w.line("pa[mt][kk][0] = attnc_mma<T>::pack(s[mt][2 * kk][0], s[mt][2 * kk][1]);");
      w.line("pa[mt][kk][1] = attnc_mma<T>::pack(s[mt][2 * kk][2], s[mt][2 * kk][3]);");
      w.line("pa[mt][kk][2] = attnc_mma<T>::pack(s[mt][2 * kk + 1][0], s[mt][2 * kk + 1][1]);");
      w.line("pa[mt][kk][3] = attnc_mma<T>::pack(s[mt][2 * kk + 1][2], s[mt][2 * kk + 1][3]);");
    });
  });
}

/**
 * After the key loop, the program's finish: the row sums joined across the quad, then its formulas, statistics
 * and outputs. With `slice`, the block owns the DV value columns from `e0` on (the kernel declares e0) of a wider
 * value head dim: its accumulator column x is output column e0 + x, and only the block of the first slice writes
 * the row statistics.
 */
export function printFinalise(t: TileMath, d: Dialect, w: CodeWriter, slots: ReadonlyMap<string, TensorSlot>, slice?: { first: string }): void {
  const c = t.program.stage.chain;
  unrolled(w, "for (int mt = 0; mt < MT; ++mt)", () => {
    unrolled(w, "for (int r = 0; r < 2; ++r)", () => {
      for (const op of t.program.finish) {
        if (op.op !== "rowSum") continue;
        w.line(`${rowState(op.reg, "[mt][r]")} += __shfl_xor_sync(0xffffffffu, ${rowState(op.reg, "[mt][r]")}, 1);`);
        w.line(`${rowState(op.reg, "[mt][r]")} += __shfl_xor_sync(0xffffffffu, ${rowState(op.reg, "[mt][r]")}, 2);`);
      }
      w.line("const int i_raw = i0 + warp_row + mt * 16 + (lane >> 2) + r * 8;");
      w.line("if (i_raw >= N) continue;");
      w.line(`const int ${identifier(c.queryVar.name)} = i_raw;`);
      const writer = slice ? `(lane & 3) == 0 && ${slice.first}` : "(lane & 3) == 0";
      printRowFinish(t.program, d, w, slots, (r) => rowState(r, "[mt][r]"), writer, (scale) => {
        unrolled(w, "for (int nt = 0; nt < DV / 8; ++nt)", () => {
          unrolled(w, "for (int c2 = 0; c2 < 2; ++c2)", () => {
            w.line(`const int ${identifier(c.valueVar.name)} = ${slice ? "e0 + " : ""}nt * 8 + (lane & 3) * 2 + c2;`);
            w.line(`const float r_acc = o[mt][nt][r * 2 + c2]${scale === undefined ? "" : ` * ${scale}`};`);
            printOutputStore(t.program.stage, d, w, slots);
          });
        });
      });
    });
  });
}
