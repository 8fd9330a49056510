// Plan stage: `attnc explain` — the chain found in the user's terms, the plan and its tile statistics, or what is missing.
import type { Expr, Extent } from "../check/typed.js";
import { showExtent } from "../check/typed.js";
import { printExpr as print, readableNames } from "../graph/print.js";
import { children, some } from "../graph/walk.js";
import { compileExpr, extentValue, slotAllocator } from "../interp/interpret.js";
import { formatDiagnostic, resolve, type SourceFile } from "../diagnostics/source.js";
import type { FusedStage, KernelPlan } from "./plan.js";

const source = (file: SourceFile, e: { span: { start: number; end: number } }) => file.text.slice(e.span.start, e.span.end).replace(/\s+/g, " ");

/** Where tile statistics are counted: the tile, run-time sizes (4096 for any not given) and scalar values. */
export type ExplainAt = {
  readonly blockQ: number;
  readonly blockK: number;
  readonly sizes: Readonly<Record<string, number>>;
  readonly scalars: Readonly<Record<string, number>>;
};

const defaultAt: ExplainAt = { blockQ: 64, blockK: 64, sizes: {}, scalars: {} };

export function explainPlan(plan: KernelPlan, file: SourceFile, shape: ExplainAt = defaultAt): string {
  const k = plan.kernel;
  const lines: string[] = [`kernel ${k.name}: ${plan.schedule} schedule`];
  for (const stage of plan.stages) {
    if (stage.kind === "naive") {
      lines.push(`  naive stage: ${stage.statement.target}[${stage.statement.vars.map((v) => v.name).join(", ")}] (one thread an element${some(stage.statement.value, (x) => x.kind === "reduce" || x.kind === "softmax") ? ", reductions as loops" : ""})`);
      continue;
    }
    lines.push(...explainChain(stage, file, shape));
  }
  for (const m of plan.misses) {
    lines.push(`  no attention chain for \`${m.output}\`: ${m.reason}`);
    const d = resolve(file, { severity: "warning", message: m.reason, span: m.span });
    lines.push(...formatDiagnostic(file, d).split("\n").slice(1).map((l) => `    ${l}`));
  }
  if (plan.schedule === "naive" && plan.misses.length > 0) {
    lines.push("  the chain attnc fuses: o[.., i, e] = sum[j](P(F(sum[d](q[.., i, d] * k[.., j, d]), i, j)) * v[.., j, e])");
    lines.push("  with P softmax[j] or an element-wise function, and F any element-wise score function and mask.");
  }
  return `${lines.join("\n")}\n`;
}

function explainChain(stage: FusedStage, file: SourceFile, shape: ExplainAt): string[] {
  const c = stage.chain;
  // Inlining renames variables apart (`d'1`); every line names them alike, readably, and never two of them the same.
  const exprs = [c.q, c.k, c.v, c.scoreMod, c.epilogue, stage.tiles.full, stage.tiles.empty, ...(c.mask ? [c.mask] : []),
    ...(c.normalizer.kind === "softmax" ? (c.normalizer.sink ? [c.normalizer.sink] : []) : [c.normalizer.fn]),
    ...c.extras.map((x) => x.epilogue), ...[stage.keyRange.lo, stage.keyRange.hi].filter((x): x is Expr => x !== undefined)];
  const axes = [...c.rowVars, c.queryVar, c.keyVar, c.headVar, c.valueVar];
  const names = readableNames(exprs, axes.map((v) => v.name));
  const printExpr = (e: Expr) => print(e, 0, names);
  const ext = (v: { name: string; extent: Extent }) => `${names(v.name)} (${showExtent(v.extent)})`;
  const lines = [
    `  fused attention chain for \`${c.output.name}\` (${source(file, c)})`,
    `    query:       ${printExpr(c.q)}`,
    `    key:         ${printExpr(c.k)}`,
    `    value:       ${printExpr(c.v)}`,
    `    axes:        rows ${c.rowVars.map((v) => names(v.name)).join(", ") || "none"}; query ${ext(c.queryVar)}; key ${ext(c.keyVar)}; head dim ${ext(c.headVar)}; value dim ${ext(c.valueVar)}`,
  ];
  const headMaps = [c.k, c.v].flatMap((l) => l.indices.filter((x) => x.kind !== "var" && x.kind !== "const").map((x) => `${l.tensor}: ${printExpr(x)}`));
  if (headMaps.length > 0) lines.push(`    head map:    ${headMaps.join("; ")}  (grouped-query attention)`);
  lines.push(`    score mod:   ${printExpr(c.scoreMod)}`);
  lines.push(`    mask:        ${c.mask ? `${printExpr(c.mask)}   (from \`${source(file, c.mask)}\`)` : "none"}`);
  if (c.normalizer.kind === "softmax") {
    lines.push(`    normaliser:  softmax over ${names(c.keyVar.name)}, rewritten online (running max, running sum, rescaled accumulator)${c.normalizer.sink ? `; sink ${printExpr(c.normalizer.sink)} folded into the final sum` : ""}`);
  } else {
    lines.push(`    normaliser:  element-wise ${printExpr(c.normalizer.fn)} (no rewrite)${c.maskedIsZero ? "" : "; a masked score does not give 0, so no tile is skipped"}`);
  }
  for (const x of c.extras) lines.push(`    extra output: ${x.output.name} = ${printExpr(x.epilogue)} with stat = ${x.kind} over ${names(c.keyVar.name)}, from the same running statistics`);
  lines.push(`    epilogue:    ${printExpr(c.epilogue)}`);
  lines.push(`    key loop:    ${names(c.keyVar.name)} from ${stage.keyRange.lo ? `max(0, ${printExpr(stage.keyRange.lo)})` : "0"} to ${stage.keyRange.hi ? `min(${showExtent(c.keyVar.extent)} - 1, ${printExpr(stage.keyRange.hi)})` : `${showExtent(c.keyVar.extent)} - 1`} for queries i0..i1`);
  lines.push(`    tile full:   ${printExpr(stage.tiles.full)}   (no mask code)`);
  lines.push(`    tile empty:  ${printExpr(stage.tiles.empty)}   (${c.maskedIsZero ? "skipped" : "computed"})`);
  lines.push(`    ${tileStatistics(stage, shape)}`);
  return lines;
}

/** Counts tile classes at sample sizes, where the classification depends on positions, sizes and scalars only. */
function tileStatistics(stage: FusedStage, at: ExplainAt): string {
  const exprs: Expr[] = [stage.tiles.full, stage.tiles.empty, ...[stage.keyRange.lo, stage.keyRange.hi].filter((x): x is Expr => x !== undefined)];
  const reads = exprs.some((e) => some(e, (x) => x.kind === "load" || x.kind === "var"));
  const scalarsRead = [...new Set(exprs.flatMap((e) => scalarNames(e)))];
  const missing = scalarsRead.filter((x) => at.scalars[x] === undefined);
  if (reads) return `tiles:       classified at run time from tables (the mask reads tensors)`;
  if (missing.length > 0) return `tiles:       classified at run time (give ${missing.map((x) => `--scalars ${x}=...`).join(" ")} for counts)`;
  const { blockQ, blockK } = at;
  const sizes = new Proxy({}, { get: (_, name: string) => at.sizes[name] ?? 4096 }) as Record<string, number>;
  const slotOf = slotAllocator([]);
  const cx = { slotOf, sizes, scalars: new Map(Object.entries(at.scalars)), buffers: new Map(), infos: new Map() };
  const [full, empty] = [compileExpr(stage.tiles.full, cx), compileExpr(stage.tiles.empty, cx)];
  const [n, m] = [extentValue(stage.chain.queryVar.extent, sizes), extentValue(stage.chain.keyVar.extent, sizes)];
  const env = new Float64Array(16);
  let counts = { full: 0, partial: 0, empty: 0 };
  for (let i0 = 0; i0 < n; i0 += blockQ) {
    env[slotOf("$i0")] = i0;
    env[slotOf("$i1")] = Math.min(i0 + blockQ, n) - 1;
    for (let j0 = 0; j0 < m; j0 += blockK) {
      env[slotOf("$j0")] = j0;
      env[slotOf("$j1")] = Math.min(j0 + blockK, m) - 1;
      const kind = empty(env) ? "empty" : full(env) ? "full" : "partial";
      counts = { ...counts, [kind]: counts[kind] + 1 };
    }
  }
  const total = counts.full + counts.partial + counts.empty;
  const where = [`${showExtent(stage.chain.queryVar.extent)} = ${n}`, `${showExtent(stage.chain.keyVar.extent)} = ${m}`, ...scalarsRead.map((x) => `${x} = ${at.scalars[x]}`)];
  return `tiles:       at ${[...new Set(where)].join(", ")} with ${blockQ} x ${blockK} tiles: ${counts.full} full, ${counts.partial} partial, ${counts.empty} empty of ${total} (${((100 * counts.empty) / Math.max(1, total)).toFixed(1)}% skipped)`;
}

/** The scalar parameters an expression reads. */
const scalarNames = (e: Expr): string[] => (e.kind === "scalar" ? [e.name] : children(e).flatMap(scalarNames));
