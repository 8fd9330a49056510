// Emit stage (CUDA): the register-level tile math that the mma.sync and the wgmma kernels share. Both hold a
// warp's scores in the m16n8 accumulator layout (s[MT][BC / 8][4], rows lane / 4 and + 8, columns 2 (lane % 4)
// and + 1), so the score function, mask, online softmax, P packing and row finalisation print the same for both.
import type { Expr } from "../../check/typed.js";
import type { FusedStage } from "../../plan/plan.js";
import type { Dialect } from "../expr.js";
import { identifier, printExpr } from "../expr.js";
import type { CodeWriter } from "../writer.js";
import type { TensorSlot } from "./common.js";
import { deferredScale, printMaskElement, printOutputStore, printRowScale, printScoreElement } from "./fused-common.js";
import { some } from "../../graph/walk.js";
import { hoistScoreReads, type Hoisted } from "../../graph/hoist.js";

const reads = (e: Expr, h: Hoisted): boolean => some(e, (x) => x.kind === "ref" && x.name === h.name);

export const unrolled = (w: CodeWriter, head: string, body: () => void): void => {
  w.line("#pragma unroll");
  w.block(head, body);
};

/**
 * The chain with its key- or query-independent tensor reads replaced by hoisted values, and the score scale the
 * softmax applies inside exp2 to raw products, where the score allows it (deferredScale).
 */
export type TileMath = {
  readonly stage: FusedStage; readonly element: FusedStage; readonly hoisted: readonly Hoisted[]; readonly scale: number | undefined;
};

/**
 * Tensor reads that do not depend on the key (ALiBi's slopes[h], a document id doc[b, i]) are loaded once per row
 * before the key loop, those that do not depend on the query (doc[b, j]) once per column of a key tile, instead of
 * once per score.
 */
export function tileMath(stage: FusedStage): TileMath {
  const c = stage.chain;
  const { scoreMod, mask, hoisted } = hoistScoreReads(c.scoreMod, c.mask, c.keyVar.name, c.queryVar.name);
  return { stage, element: { ...stage, chain: { ...c, scoreMod, mask } }, hoisted, scale: deferredScale(stage) };
}

/** Declares the O accumulators, the row-hoisted values and the running max and sum, before the key loop. */
export function printRowState(t: TileMath, d: Dialect, w: CodeWriter): void {
  const iName = identifier(t.stage.chain.queryVar.name);
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
  w.line("float m_run[MT][2], l_run[MT][2];");
  w.line("#pragma unroll");
  w.line("for (int mt = 0; mt < MT; ++mt) { m_run[mt][0] = m_run[mt][1] = NEG_INF; l_run[mt][0] = l_run[mt][1] = 0.0f; }");
}

/**
 * The column values that only a softmax's mask reads (a document id doc[b, j]): loaded in guarded tiles alone, and
 * then used only by the mask's own pass over those tiles, so that full tiles never load them.
 */
const maskOnlyColumns = (t: TileMath): readonly Hoisted[] =>
  t.stage.chain.normalizer.kind === "softmax" ? t.hoisted.filter((h) => h.over === "column" && !reads(t.element.chain.scoreMod, h)) : [];

/** Declares hoisted_NAME[BC / 8][2] of each of `hs` and loads this lane's columns of the tile at j0 (where `guard`). */
function printColumnLoads(t: TileMath, d: Dialect, w: CodeWriter, hs: readonly Hoisted[], guard?: string): void {
  if (hs.length === 0) return;
  const jName = identifier(t.stage.chain.keyVar.name);
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
 * With the raw products in s and j0 the tile's first key: applies the score function to every element, and for a
 * softmax the mask in a pass of its own that only guarded tiles run (full interior tiles run no mask code), then
 * the online softmax: s holds the tile's unnormalised probabilities, m_run and l_run are updated, and
 * alpha[mt][r] is the factor O must be rescaled by (printRescaleAndPack). With `prefetched`, the caller has
 * printed printMaskPrefetch (under its S product); otherwise it is printed here.
 */
export function printScores(t: TileMath, d: Dialect, w: CodeWriter, prefetched = false): void {
  const c = t.stage.chain;
  const iName = identifier(c.queryVar.name);
  const jName = identifier(c.keyVar.name);
  const softmax = c.normalizer.kind === "softmax";
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
  // The score pass (for a softmax's raw score with a deferred scale it leaves s as it is, and nvcc drops it); other
  // normalisers mask in it.
  const scorePass = [...(t.scale !== undefined ? [] : [t.element.chain.scoreMod]), ...(softmax ? [] : [t.element.chain.mask])];
  eachScore(inline, scorePass, () => printScoreElement(t.element, d, w, "s[mt][nt][cc]", t.scale !== undefined, !softmax));
  if (softmax) {
    w.block("if (guarded)", () => {
      eachScore(t.hoisted, [t.element.chain.mask], () => printMaskElement(t.element, d, w, "s[mt][nt][cc]"));
    });
  }
  if (c.normalizer.kind === "softmax") {
    const scale = t.scale === undefined ? undefined : d.floatLiteral(t.scale);
    w.line("float alpha[MT][2];");
    unrolled(w, "for (int mt = 0; mt < MT; ++mt)", () => {
      // With a deferred scale the scores are raw: their maximum is scaled once per row, and exp2 takes s * scale - m
      // in one multiply-add.
      w.line(scale === undefined ? "float mx[2] = {m_run[mt][0], m_run[mt][1]};" : "float mx[2] = {NEG_INF, NEG_INF};");
      w.line("#pragma unroll");
      w.line("for (int nt = 0; nt < BC / 8; ++nt) { mx[0] = fmaxf(mx[0], fmaxf(s[mt][nt][0], s[mt][nt][1])); mx[1] = fmaxf(mx[1], fmaxf(s[mt][nt][2], s[mt][nt][3])); }");
      w.line("float base[2];");
      unrolled(w, "for (int r = 0; r < 2; ++r)", () => {
        w.line("mx[r] = fmaxf(mx[r], __shfl_xor_sync(0xffffffffu, mx[r], 1));");
        w.line("mx[r] = fmaxf(mx[r], __shfl_xor_sync(0xffffffffu, mx[r], 2));");
        if (scale !== undefined) w.line(`mx[r] = fmaxf(m_run[mt][r], mx[r] * ${scale});`);
        // The base is the running max kept finite (once a row and tile, no work a score): +inf scores give
        // exp2(+inf) = +inf, not exp2(inf - inf) = NaN, so the row sum is +inf and logsumexp +inf (language.md 6).
        w.line("base[r] = mx[r] == NEG_INF ? 0.0f : attnc_below_inf(mx[r]);");
        // The previous max kept finite too: after a +inf score alpha is 1, not inf (a thread's partial sum may be 0).
        w.line("alpha[mt][r] = attnc_exp2(attnc_below_inf(m_run[mt][r]) - base[r]);");
        w.line("m_run[mt][r] = mx[r];");
        w.line("l_run[mt][r] *= alpha[mt][r];");
      });
      w.line("#pragma unroll");
      w.line("for (int nt = 0; nt < BC / 8; ++nt) {");
      w.line("  #pragma unroll");
      const arg = scale === undefined ? "s[mt][nt][cc] - base[cc >> 1]" : `fmaf(s[mt][nt][cc], ${scale}, -base[cc >> 1])`;
      w.line(`  for (int cc = 0; cc < 4; ++cc) { s[mt][nt][cc] = attnc_exp2(${arg}); l_run[mt][cc >> 1] += s[mt][nt][cc]; }`);
      w.line("}");
    });
  }
}

/**
 * After printScores, once no product into O is in flight: rescales O by the running max's change and packs P into
 * pa, the A operand of P V (the S accumulator layout of two n-tiles is the A operand layout of one k-step).
 */
export function printRescaleAndPack(t: TileMath, w: CodeWriter, declarePa = true): void {
  if (t.stage.chain.normalizer.kind === "softmax") {
    unrolled(w, "for (int mt = 0; mt < MT; ++mt)", () => {
      w.line("#pragma unroll");
      w.line("for (int nt = 0; nt < DV / 8; ++nt) { o[mt][nt][0] *= alpha[mt][0]; o[mt][nt][1] *= alpha[mt][0]; o[mt][nt][2] *= alpha[mt][1]; o[mt][nt][3] *= alpha[mt][1]; }");
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
 * After the key loop: quad-reduces the row sums, folds the sink, writes the outputs and row statistics. With
 * `slice`, the block owns the DV value columns from `e0` on (the kernel declares e0) of a wider value head dim: its
 * accumulator column x is output column e0 + x, and only the block of the first slice writes the row statistics.
 */
export function printFinalise(t: TileMath, d: Dialect, w: CodeWriter, slots: ReadonlyMap<string, TensorSlot>, slice?: { first: string }): void {
  const c = t.stage.chain;
  unrolled(w, "for (int mt = 0; mt < MT; ++mt)", () => {
    unrolled(w, "for (int r = 0; r < 2; ++r)", () => {
      w.line("l_run[mt][r] += __shfl_xor_sync(0xffffffffu, l_run[mt][r], 1);");
      w.line("l_run[mt][r] += __shfl_xor_sync(0xffffffffu, l_run[mt][r], 2);");
      w.line("const int i_raw = i0 + warp_row + mt * 16 + (lane >> 2) + r * 8;");
      w.line("if (i_raw >= N) continue;");
      w.line(`const int ${identifier(c.queryVar.name)} = i_raw;`);
      printRowScale(t.stage, d, w, slots, "m_run[mt][r]", "l_run[mt][r]", slice ? `(lane & 3) == 0 && ${slice.first}` : "(lane & 3) == 0");
      unrolled(w, "for (int nt = 0; nt < DV / 8; ++nt)", () => {
        unrolled(w, "for (int c2 = 0; c2 < 2; ++c2)", () => {
          w.line(`const int ${identifier(c.valueVar.name)} = ${slice ? "e0 + " : ""}nt * 8 + (lane & 3) * 2 + c2;`);
          w.line("const float r_acc = o[mt][nt][r * 2 + c2] * scale;");
          printOutputStore(t.stage, d, w, slots);
        });
      });
    });
  });
}
