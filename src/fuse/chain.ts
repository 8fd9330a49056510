// Fuse stage: the attention chain as found in a program, in the user's own sub-expressions.
import type { Expr, IndexVar, TensorInfo } from "../check/typed.js";
import type { Span } from "../syntax/ast.js";

export type Load = Extract<Expr, { kind: "load" }>;

/**
 * o[rows.., i, e] = epilogue( sum[j]( normalise( scoreMod(score) masked by mask ) * v[.., j, e] ) )
 * with score = sum[d](q[.., i, d] * k[.., j, d]). Expressions use `ref` nodes for the values the
 * kernel provides: `score` in scoreMod, `x` in an element-wise normaliser, `acc` in the epilogue.
 */
export type AttentionChain = {
  readonly output: TensorInfo;
  /** The output's index variables in order; rows are all but the query and value ones. */
  readonly outputVars: readonly IndexVar[];
  readonly rowVars: readonly IndexVar[];
  readonly queryVar: IndexVar;
  readonly keyVar: IndexVar;
  readonly headVar: IndexVar;
  readonly valueVar: IndexVar;
  readonly q: Load;
  readonly k: Load;
  readonly v: Load;
  /** sum[d](q * k) as written, and the normaliser's argument with the score as `ref score` (before the mask is peeled). */
  readonly score: Expr;
  readonly maskedScores: Expr;
  readonly scoreMod: Expr;
  readonly mask?: Expr;
  readonly normalizer: { readonly kind: "softmax"; readonly sink?: Expr } | { readonly kind: "elementwise"; readonly fn: Expr };
  /** Whether a masked score (-inf) contributes exactly 0, so that empty tiles can be skipped. */
  readonly maskedIsZero: boolean;
  readonly epilogue: Expr;
  readonly extras: readonly RowStatistic[];
  readonly span: Span;
};

/** Another output that reduces the chain's scores along the key axis, from the same running statistics. */
export type RowStatistic = {
  readonly output: TensorInfo;
  readonly outputVars: readonly IndexVar[];
  readonly kind: "logsumexp" | "max";
  /** Uses `ref stat` for the statistic. */
  readonly epilogue: Expr;
};

/** Why an output did not match, pointing at the part of the source that broke the chain. */
export type ChainMiss = { readonly output: string; readonly reason: string; readonly span: Span };
