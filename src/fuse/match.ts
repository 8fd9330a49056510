// Fuse stage: finding the attention chain of spec section 5 in an output's inlined, canonical expression.
import type { Expr, Statement, TensorInfo } from "../check/typed.js";
import { freeVars } from "../check/free-vars.js";
import { exprEqual, renameVar, type NameSupply } from "../graph/substitute.js";
import { factors, product } from "../graph/canonical.js";
import { children, rewrite, some } from "../graph/walk.js";
import { compileExpr } from "../graph/evaluate.js";
import type { AttentionChain, ChainMiss, Load, RowStatistic } from "./chain.js";

type Found<T> = { ok: true; value: T } | { ok: false; miss: ChainMiss };
const miss = (output: string, reason: string, span: Expr["span"]): { ok: false; miss: ChainMiss } => ({ ok: false, miss: { output, reason, span } });

const ref = (name: "score" | "acc" | "stat" | "x", span: Expr["span"]): Expr => ({ kind: "ref", name, type: "float", span });
const NEG_INF = -Infinity;
const isNegInf = (e: Expr) => e.kind === "const" && e.value === NEG_INF;

/** All subterms (outermost first) satisfying test, not looking inside matches. */
function find(e: Expr, test: (x: Expr) => boolean): Expr[] {
  if (test(e)) return [e];
  return children(e).flatMap((c) => find(c, test));
}

const replace = (e: Expr, target: Expr, by: Expr): Expr => rewrite(e, (x) => (x === target || exprEqual(x, target) ? by : x));

const directIndex = (load: Load, name: string): number => load.indices.findIndex((x) => x.kind === "var" && x.name === name);

export function matchChain(
  output: TensorInfo, statement: Statement, value: Expr, inputs: ReadonlySet<string>,
): Found<Omit<AttentionChain, "extras">> {
  const name = output.name;
  const outNames = new Set(statement.vars.map((v) => v.name));
  // The sum over keys is outside every other reduction: a contraction inside one (the score's `sum[d]` inside
  // `sum[j](softmax[j](...) * vc[table[b, j / P], ...])`) is not it.
  const outer = (e: Expr): Expr[] => (e.kind === "reduce" || e.kind === "softmax" ? [e] : children(e).flatMap(outer));
  const contractions = outer(value).filter(
    (x) => x.kind === "reduce" && x.op === "sum" && x.vars.length === 1 &&
      factors(x.body).some((f) => f.kind === "load" && inputs.has(f.tensor) && directIndex(f, x.vars[0].name) >= 0),
  );
  if (contractions.length === 0) {
    const gathered = outer(value).find((x) => x.kind === "reduce" && x.op === "sum" && x.vars.length === 1 && some(x.body, (y) => y.kind === "softmax"));
    if (gathered !== undefined && gathered.kind === "reduce") {
      const j = gathered.vars[0].name;
      return miss(name, `the sum over \`${j}\` reads no value tensor indexed by \`${j}\` itself (\`v[.., ${j}, e]\`): keys and values gathered through a table (a paged cache) run naive`, gathered.span);
    }
    return miss(name, `\`${name}\` is not a sum over keys of probabilities times values (\`sum[j](p[.., i, j] * v[.., j, e])\`)`, statement.span);
  }
  if (contractions.length > 1) return miss(name, `\`${name}\` holds ${contractions.length} contractions over keys; one fused chain takes one`, contractions[1].span);
  const contraction = contractions[0] as Extract<Expr, { kind: "reduce" }>;
  const keyVar = contraction.vars[0];
  const j = keyVar.name;

  // The value tensor: an input factor indexed directly by j and by one of the output's variables.
  const parts = factors(contraction.body);
  const vIndex = parts.findIndex((f) => f.kind === "load" && inputs.has(f.tensor) && directIndex(f, j) >= 0 && f.indices.some((x) => x.kind === "var" && outNames.has(x.name)));
  if (vIndex < 0) return miss(name, `no value tensor \`v[.., ${j}, e]\` in the sum over \`${j}\``, contraction.span);
  const v = parts[vIndex] as Load;
  const valueName = v.indices.map((x) => (x.kind === "var" && outNames.has(x.name) ? x.name : undefined)).filter((x) => x !== undefined && x !== j).pop();
  if (valueName === undefined) return miss(name, `the value tensor \`${v.tensor}\` has no output index`, v.span);
  const probability = product(parts.filter((_, k) => k !== vIndex), contraction.span);

  // The score: sum[d](q[.., i, d] * k[.., j, d]).
  const scores = find(probability, (x) => x.kind === "reduce" && x.op === "sum" && x.vars.length === 1 && isDotProduct(x, j, inputs));
  if (scores.length === 0) return miss(name, `no score \`sum[d](q[.., i, d] * k[.., ${j}, d])\` feeds the probabilities`, probability.span);
  const score = scores[0] as Extract<Expr, { kind: "reduce" }>;
  if (!scores.every((s) => exprEqual(s, score))) return miss(name, "the probabilities read two different scores", scores[1].span);
  const [a, b] = factors(score.body) as Load[];
  const [q, k] = freeVars(a).has(j) ? [b, a] : [a, b];
  const headVar = score.vars[0];
  const d = headVar.name;
  if (directIndex(q, d) < 0 || directIndex(k, d) < 0) return miss(name, `the score must contract \`${d}\` as a direct index of both \`${q.tensor}\` and \`${k.tensor}\``, score.span);
  const queryCandidates = q.indices
    .filter((x): x is Extract<Expr, { kind: "var" }> => x.kind === "var" && outNames.has(x.name) && x.name !== valueName)
    .filter((x) => !freeVars(k).has(x.name) && !freeVars(v).has(x.name));
  if (queryCandidates.length === 0) {
    return miss(name, `no query axis: an output index of \`${q.tensor}\` that the keys and values do not use`, q.span);
  }
  // Several candidates (multi-query attention: q[b, h, i, d] against k[b, j, d]): the one the score function
  // or mask relates to the keys is the query axis; otherwise the innermost. Any choice computes the same values.
  const related = queryCandidates.filter((x) => some(probability, (y) => y.kind === "binary" && freeVars(y).has(x.name) && freeVars(y).has(j)));
  const i = (related.length > 0 ? related : queryCandidates)[(related.length > 0 ? related : queryCandidates).length - 1].name;
  const varOf = (n: string) => statement.vars.find((x) => x.name === n)!;
  const queryVar = varOf(i);
  const valueVar = varOf(valueName);
  const rowVars = statement.vars.filter((x) => x.name !== i && x.name !== valueName);
  const rows = new Set(rowVars.map((x) => x.name));
  const onlyRows = (e: Expr, allowed: ReadonlySet<string>) => [...freeVars(e)].every((x) => rows.has(x) || allowed.has(x));
  const checkOthers = (load: Load, own: string[]) => load.indices.every((x) => (x.kind === "var" && own.includes(x.name)) || onlyRows(x, new Set()));
  if (!checkOthers(q, [i, d])) return miss(name, `the query \`${q.tensor}\` must be indexed by rows, \`${i}\` and \`${d}\` only`, q.span);
  if (!checkOthers(k, [j, d])) return miss(name, `the key \`${k.tensor}\` must be indexed by rows (or a function of them), \`${j}\` and \`${d}\` only`, k.span);
  if (!checkOthers(v, [j, valueName])) return miss(name, `the value \`${v.tensor}\` must be indexed by rows (or a function of them), \`${j}\` and \`${valueName}\` only`, v.span);

  // The normaliser: softmax over j, or an element-wise function.
  const scored = replace(probability, score, ref("score", score.span));
  const softmaxes = find(scored, (x) => x.kind === "softmax");
  let normalizer: AttentionChain["normalizer"];
  let masked: Expr;
  if (softmaxes.length > 0) {
    const sm = softmaxes[0] as Extract<Expr, { kind: "softmax" }>;
    if (sm.vars.length !== 1 || sm.vars[0].name !== j) {
      return miss(name, `the softmax normalises over \`${sm.vars.map((x) => x.name).join(", ")}\`, but the values are summed over \`${j}\``, sm.span);
    }
    if (scored !== sm && !exprEqual(scored, sm)) return miss(name, "the probabilities are changed after the softmax; move the change before it or after the sum", scored.span);
    if (sm.sink !== undefined && !onlyRows(sm.sink, new Set([i]))) return miss(name, "the sink may depend on rows and the query only", sm.sink.span);
    normalizer = sm.sink === undefined ? { kind: "softmax" } : { kind: "softmax", sink: sm.sink };
    masked = sm.body;
  } else {
    const fnCall = scored.kind === "call" && scored.args.length === 1 && some(scored.args[0], (x) => x.kind === "ref");
    normalizer = { kind: "elementwise", fn: fnCall ? { ...scored, args: [ref("x", scored.span)] } : ref("x", scored.span) };
    masked = fnCall ? (scored as Extract<Expr, { kind: "call" }>).args[0] : scored;
  }
  if (!onlyRows(masked, new Set([i, j]))) return miss(name, `the score function may read rows, \`${i}\` and \`${j}\` only`, masked.span);
  // The kernel computes the score function element by element from the one score: a reduction or softmax in it
  // (another attention over the keys, whose own score would be taken for this one's) is no score function.
  const nested = [masked, ...(normalizer.kind === "softmax" && normalizer.sink ? [normalizer.sink] : []), ...[q, k, v].flatMap((x) => x.indices)]
    .flatMap((x) => find(x, (y) => y.kind === "reduce" || y.kind === "softmax"));
  if (nested.length > 0) return miss(name, `the score function holds a ${nested[0].kind === "softmax" ? "softmax" : "reduction"} of its own; an attention feeding another runs as a stage of its own`, nested[0].span);
  const { scoreMod, mask } = peelMask(masked);
  const maskedIsZero = normalizer.kind === "softmax" || evaluatesToZeroAtNegInf(normalizer.fn);

  const epilogue = replace(value, contraction, ref("acc", contraction.span));
  if (some(epilogue, (x) => x.kind === "softmax" || (x.kind === "reduce" && x.vars.some((y) => y.name === j)))) {
    return miss(name, "the output reads the keys outside the contraction", epilogue.span);
  }
  const base = {
    output, outputVars: statement.vars, rowVars, queryVar, keyVar, headVar, valueVar, q, k, v, score, maskedScores: masked, scoreMod, normalizer, maskedIsZero, epilogue, span: statement.span,
  };
  return { ok: true, value: mask === undefined ? base : { ...base, mask } };
}

function isDotProduct(e: Expr, j: string, inputs: ReadonlySet<string>): boolean {
  if (e.kind !== "reduce") return false;
  const parts = factors(e.body);
  if (parts.length !== 2 || !parts.every((p) => p.kind === "load" && inputs.has(p.tensor))) return false;
  const withJ = parts.filter((p) => freeVars(p).has(j));
  return withJ.length === 1;
}

/** where(c, x, -inf) around the score function becomes a mask c; nested masks are joined with &&. */
export function peelMask(e: Expr): { scoreMod: Expr; mask?: Expr } {
  if (e.kind === "select" && isNegInf(e.otherwise)) {
    const inner = peelMask(e.then);
    return { scoreMod: inner.scoreMod, mask: inner.mask === undefined ? e.cond : and(e.cond, inner.mask) };
  }
  if (e.kind === "select" && isNegInf(e.then)) {
    const inner = peelMask(e.otherwise);
    const cond: Expr = { kind: "unary", op: "not", operand: e.cond, type: "bool", span: e.cond.span };
    return { scoreMod: inner.scoreMod, mask: inner.mask === undefined ? cond : and(cond, inner.mask) };
  }
  return { scoreMod: e };
}

const and = (a: Expr, b: Expr): Expr => ({ kind: "binary", op: "&&", left: a, right: b, type: "bool", span: a.span });

function evaluatesToZeroAtNegInf(fn: Expr): boolean {
  if (freeVars(fn).size > 0 || some(fn, (x) => x.kind === "load" || x.kind === "scalar" || x.kind === "size")) return false;
  const env = new Float64Array(4);
  const f = compileExpr(fn, { slotOf: () => 0, sizes: {}, scalars: new Map(), buffers: new Map(), infos: new Map() });
  env[0] = NEG_INF;
  return f(env) === 0;
}

/** Outputs that reduce the chain's masked scores along j (logsumexp, max) come out of the same kernel. */
export function matchStatistic(
  chain: Omit<AttentionChain, "extras">, output: TensorInfo, statement: Statement, value: Expr, maskedScores: Expr, supply: NameSupply,
): RowStatistic | undefined {
  if (chain.normalizer.kind !== "softmax") return undefined;
  const allowed = new Set([...chain.rowVars.map((v) => v.name), chain.queryVar.name]);
  if (!statement.vars.every((v) => allowed.has(v.name))) return undefined;
  const reductions = find(value, (x) => x.kind === "reduce" && (x.op === "logsumexp" || x.op === "max") && x.vars.length === 1);
  if (reductions.length !== 1) return undefined;
  const r = reductions[0] as Extract<Expr, { kind: "reduce" }>;
  if (!exprEqual(renameVar(r.body, r.vars[0].name, chain.keyVar.name, supply), maskedScores)) return undefined;
  const epilogue = replace(value, r, ref("stat", r.span));
  return { output, outputVars: statement.vars, kind: r.op as "logsumexp" | "max", epilogue };
}
