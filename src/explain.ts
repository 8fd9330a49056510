// Explain (after the schedule): `attnc explain`: the chain found in the user's terms, the plan, its tile
// statistics and tile program, the schedules, or what is missing.
import type { Expr, Extent } from "./check/typed.js";
import { showExtent } from "./check/typed.js";
import { printExpr as print, readableNames } from "./graph/print.js";
import { children, some } from "./graph/walk.js";
import { compileExpr, extentValue, slotAllocator } from "./graph/evaluate.js";
import { rng } from "./random.js";
import { formatDiagnostic, resolve, type SourceFile } from "./diagnostics/source.js";
import { own, recordOf } from "./records.js";
import type { FusedStage, KernelPlan } from "./plan/plan.js";
import type { CudaSchedule, WgslSchedule } from "./schedule/types.js";
import { lowerFused } from "./tile/lower.js";
import { printProgram } from "./tile/print.js";

const source = (file: SourceFile, e: { span: { start: number; end: number } }) => file.text.slice(e.span.start, e.span.end).replace(/\s+/g, " ");

/**
 * Where tile statistics are counted: the tile (the CUDA schedule's where not given, 64 x 64 where there is none),
 * run-time sizes (4096 for any not given) and scalar values.
 */
export type ExplainAt = {
  readonly blockQ?: number;
  readonly blockK?: number;
  readonly sizes: Readonly<Record<string, number>>;
  readonly scalars: Readonly<Record<string, number>>;
};

const defaultAt: ExplainAt = { sizes: {}, scalars: {} };

/** Each target's schedule, as compile() chose it (the manifest's tileSchedule). */
export type ExplainSchedules = { readonly cuda?: CudaSchedule; readonly wgsl?: WgslSchedule };

/** A schedule record's fields past its target, kind and output: `path: mma, blockQ 64, ...`. */
function recordText(r: object): string {
  const value = (v: unknown): string => (v !== null && typeof v === "object" ? `{ ${Object.entries(v).map(([k, x]) => `${k} ${value(x)}`).join(", ")} }` : String(v));
  const skip = new Set(["target", "kind", "output", "arch"]);
  return Object.entries(r).filter(([k]) => !skip.has(k)).map(([k, v]) => `${k} ${value(v)}`).join(", ");
}

function explainSchedules(s: ExplainSchedules): string[] {
  const lines: string[] = [];
  const stages = (records: readonly { kind: string; output: string }[]) =>
    records.map((r, i) => `    stage ${i} \`${r.output}\` ${r.kind}: ${recordText(r)}`);
  if (s.cuda) {
    lines.push(`  CUDA schedule (${s.cuda.arch}): ${s.cuda.plan}${s.cuda.fallback ? ` (${s.cuda.fallback})` : ""}`, ...stages(s.cuda.stages));
  }
  if (s.wgsl) {
    lines.push(`  WGSL schedule (${s.wgsl.workgroupStorageLimit} bytes of workgroup memory): ${s.wgsl.plan}${s.wgsl.fallback ? ` (${s.wgsl.fallback})` : ""}`, ...stages(s.wgsl.stages));
  }
  return lines;
}

export function explainPlan(plan: KernelPlan, file: SourceFile, shape: ExplainAt = defaultAt, schedules: ExplainSchedules = {}): string {
  const k = plan.kernel;
  const lines: string[] = [`kernel ${k.name}: ${plan.schedule} schedule`];
  for (const stage of plan.stages) {
    if (stage.kind === "naive") {
      lines.push(`  naive stage: ${stage.statement.target}[${stage.statement.vars.map((v) => v.name).join(", ")}] (one thread an element${some(stage.statement.value, (x) => x.kind === "reduce" || x.kind === "softmax") ? ", reductions as loops" : ""})`);
      continue;
    }
    // The tile counts at the tile the CUDA kernel runs, where not given.
    const cuda = schedules.cuda?.stages.find((r) => r.kind === "fused" && r.output === stage.chain.output.name);
    const tile = cuda?.kind === "fused" ? { blockQ: cuda.blockQ, blockK: cuda.blockK } : { blockQ: 64, blockK: 64 };
    lines.push(...explainChain(stage, file, { ...shape, blockQ: shape.blockQ ?? tile.blockQ, blockK: shape.blockK ?? tile.blockK }));
  }
  lines.push(...explainSchedules(schedules));
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

function explainChain(stage: FusedStage, file: SourceFile, shape: Required<ExplainAt>): string[] {
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
  // The program as the CUDA kernels run it (WGSL's scales every score before the softmax instead).
  lines.push("    tile program:", ...printProgram(lowerFused(stage, { deferScale: true }), printExpr).map((l) => `      ${l}`));
  return lines;
}

/** Counts tile classes at sample sizes, where the classification depends on positions, sizes and scalars only. */
function tileStatistics(stage: FusedStage, at: Required<ExplainAt>): string {
  const exprs: Expr[] = [stage.tiles.full, stage.tiles.empty, ...[stage.keyRange.lo, stage.keyRange.hi].filter((x): x is Expr => x !== undefined)];
  const reads = exprs.some((e) => some(e, (x) => x.kind === "load" || x.kind === "var"));
  const scalarsRead = [...new Set(exprs.flatMap((e) => scalarNames(e)))];
  const missing = scalarsRead.filter((x) => own(at.scalars, x) === undefined);
  if (reads) return `tiles:       classified at run time from tables (the mask reads tensors)`;
  if (missing.length > 0) return `tiles:       classified at run time (give ${missing.map((x) => `--scalars ${x}=...`).join(" ")} for counts)`;
  const { blockQ, blockK } = at;
  const { classify, n, m } = tileClassifier(stage, at);
  const c = countTiles(classify, { n, m, blockQ, blockK });
  const where = [`${showExtent(stage.chain.queryVar.extent)} = ${n}`, `${showExtent(stage.chain.keyVar.extent)} = ${m}`, ...scalarsRead.map((x) => `${x} = ${own(at.scalars, x)}`)];
  const skipped = c.total === 0n ? 0 : (100 * Number(c.empty)) / Number(c.total);
  const estimate = c.sampled === undefined ? "" : `; estimated: ${c.sampled} tiles of the ${c.unresolved} not classified within ${c.evaluations} range classifications were sampled, the rest extrapolated from them`;
  return `tiles:       at ${[...new Set(where)].join(", ")} with ${blockQ} x ${blockK} tiles: ${c.sampled === undefined ? "" : "about "}${c.full} full, ${c.partial} partial, ${c.empty} empty of ${c.total} (${skipped.toFixed(1)}% skipped${estimate})`;
}

/** What the kernel's tile tests say of the element range [i0, i1] x [j0, j1]: no element kept, all kept, or neither known. */
export type RangeClass = "empty" | "full" | "mixed";

/** The stage's tile classification (stage.tiles) over any range of queries and keys, at the sizes and scalars given. */
export function tileClassifier(stage: FusedStage, at: Pick<ExplainAt, "sizes" | "scalars">) {
  // Every size the classification reads, 4096 where none is given (own properties: a size may be `__proto__`).
  const named = [stage.tiles.full, stage.tiles.empty].flatMap(sizeNames).concat([stage.chain.queryVar.extent, stage.chain.keyVar.extent].flatMap(extentSizes));
  const sizes = recordOf(named.map((name) => [name, own(at.sizes, name) ?? 4096]));
  const slotOf = slotAllocator([]);
  const cx = { slotOf, sizes, scalars: new Map(Object.entries(at.scalars)), buffers: new Map(), infos: new Map() };
  const [full, empty] = [compileExpr(stage.tiles.full, cx), compileExpr(stage.tiles.empty, cx)];
  const [n, m] = [extentValue(stage.chain.queryVar.extent, sizes), extentValue(stage.chain.keyVar.extent, sizes)];
  const env = new Float64Array(16);
  const [i0, i1, j0, j1] = ["$i0", "$i1", "$j0", "$j1"].map(slotOf);
  const classify = (a: number, b: number, c: number, d: number): RangeClass => {
    env[i0] = a;
    env[i1] = b;
    env[j0] = c;
    env[j1] = d;
    return empty(env) ? "empty" : full(env) ? "full" : "mixed";
  };
  return { classify, n, m };
}

export type TileCounts = {
  readonly full: bigint;
  readonly partial: bigint;
  readonly empty: bigint;
  readonly total: bigint;
  /** Range classifications made. */
  readonly evaluations: number;
  /** Where the budget ran out: tiles sampled, of how many left unclassified (the counts are then estimates). */
  readonly sampled?: number;
  readonly unresolved?: bigint;
};

/**
 * Tile counts over the grid of blockQ x blockK tiles of an n x m score matrix, without visiting every tile: a
 * rectangle of tiles that the tile tests find empty (or full) as one range is empty (full) in every tile, because
 * the tests are interval bounds of the mask, which only tighten on a sub-range; other rectangles are quartered,
 * breadth first, down to single tiles (partial). The work grows with the tiles on the mask's edges, not with the
 * grid. Where that would take more than `budget` classifications, tiles of the rectangles left are sampled, and
 * the counts are estimates (`sampled` says so). Partial tiles are the total less the full and empty ones.
 */
export function countTiles(classify: (i0: number, i1: number, j0: number, j1: number) => RangeClass, shape: { n: number; m: number; blockQ: number; blockK: number }, budget = 2_000_000): TileCounts {
  const { n, m, blockQ, blockK } = shape;
  const [tq, tk] = [Math.ceil(n / blockQ), Math.ceil(m / blockK)];
  // Areas add up exactly: in a float below 2^53 while they can, then in a bigint.
  const exact = { full: 0n, partial: 0n, empty: 0n };
  const small = { full: 0, partial: 0, empty: 0 };
  const add = (kind: "full" | "partial" | "empty", rows: number, cols: number) => {
    const a = rows * cols;
    if (a >= 2 ** 52) exact[kind] += BigInt(rows) * BigInt(cols);
    else {
      if (small[kind] >= 2 ** 52) [exact[kind], small[kind]] = [exact[kind] + BigInt(small[kind]), 0];
      small[kind] += a;
    }
  };
  const range = (qa: number, qb: number, ka: number, kb: number) => classify(qa * blockQ, Math.min((qb + 1) * blockQ, n) - 1, ka * blockK, Math.min((kb + 1) * blockK, m) - 1);
  // Rectangles of tiles, 4 tile indices each (inclusive), in Int32Arrays: a level can hold millions.
  let level = tq > 0 && tk > 0 ? Int32Array.from([0, tq - 1, 0, tk - 1]) : new Int32Array(0);
  let count = level.length;
  let evaluations = 0;
  // A level is split only while it and the next (at most 4 times as many rectangles) stay within the budget.
  while (count > 0 && evaluations + count / 4 <= budget && count <= 2 * budget) {
    let next = new Int32Array(Math.min(4 * count, 1 << 16));
    let length = 0;
    const push = (a: number, b: number, c: number, d: number) => {
      if (length + 4 > next.length) {
        const grown = new Int32Array(next.length * 2);
        grown.set(next);
        next = grown;
      }
      next[length] = a;
      next[length + 1] = b;
      next[length + 2] = c;
      next[length + 3] = d;
      length += 4;
    };
    for (let x = 0; x < count; x += 4) {
      const qa = level[x], qb = level[x + 1], ka = level[x + 2], kb = level[x + 3];
      evaluations++;
      const kind = range(qa, qb, ka, kb);
      if (kind !== "mixed") add(kind, qb - qa + 1, kb - ka + 1);
      else if (qa === qb && ka === kb) small.partial++;
      else {
        // Quarters (halves where one side is a single tile).
        const qm = qa + Math.floor((qb - qa) / 2);
        const km = ka + Math.floor((kb - ka) / 2);
        if (qa === qb) push(qa, qb, ka, km), push(qa, qb, km + 1, kb);
        else if (ka === kb) push(qa, qm, ka, kb), push(qm + 1, qb, ka, kb);
        else push(qa, qm, ka, km), push(qa, qm, km + 1, kb), push(qm + 1, qb, ka, km), push(qm + 1, qb, km + 1, kb);
      }
    }
    [level, count] = [next, length];
  }
  // Out of budget. The tiles left are classified one by one where they are at most `budget`. Else the rectangles
  // left (a random share of them past budget / 2) are classified as ranges, and tiles sampled (seeded) from the
  // mixed ones, each counted for its share of the rectangle's area: an estimate.
  let unresolved = 0n;
  for (let x = 0; x < count; x += 4) unresolved += BigInt(level[x + 1] - level[x] + 1) * BigInt(level[x + 3] - level[x + 2] + 1);
  const share = { full: 0, partial: 0, empty: 0 };
  let shareArea = 0n; // the tiles that `share` estimates
  let sampled = 0;
  let estimated = false;
  if (unresolved <= BigInt(budget)) {
    for (let x = 0; x < count; x += 4) {
      for (let q = level[x]; q <= level[x + 1]; q++) for (let k = level[x + 2]; k <= level[x + 3]; k++) add(kindOf(range(q, q, k, k)), 1, 1);
    }
    sampled = Number(unresolved);
  } else {
    // Past budget / 2 rectangles, each is classified with probability 1 / stride, standing for stride of them (a
    // random choice: siblings lie side by side, and every stride-th would alias with the mask's pattern).
    const stride = Math.max(1, Math.ceil(count / 4 / (budget / 2)));
    const random = rng(0x9e3779b9);
    const mixed: number[] = [];
    for (let x = 0; x < count; x += 4) {
      if (stride > 1 && random() * stride >= 1) continue;
      const qa = level[x], qb = level[x + 1], ka = level[x + 2], kb = level[x + 3];
      evaluations++;
      const kind = range(qa, qb, ka, kb);
      if (kind === "mixed") mixed.push(x);
      else if (stride === 1) add(kind, qb - qa + 1, kb - ka + 1);
      else share[kind] += stride * (qb - qa + 1) * (kb - ka + 1);
    }
    estimated = stride > 1;
    if (stride > 1) shareArea = unresolved;
    const each = Math.max(1, Math.floor(budget / 2 / Math.max(1, mixed.length)));
    for (const x of mixed) {
      const qa = level[x], rows = level[x + 1] - qa + 1, ka = level[x + 2], cols = level[x + 3] - ka + 1;
      if (stride === 1 && rows * cols <= each) {
        for (let q = qa; q < qa + rows; q++) for (let k = ka; k < ka + cols; k++) add(kindOf(range(q, q, k, k)), 1, 1);
        sampled += rows * cols;
        continue;
      }
      estimated = true;
      if (stride === 1) shareArea += BigInt(rows) * BigInt(cols);
      for (let t = 0; t < each; t++) {
        const q = qa + Math.floor(random() * rows);
        const k = ka + Math.floor(random() * cols);
        share[kindOf(range(q, q, k, k))] += (stride * rows * cols) / each;
      }
      sampled += each;
    }
  }
  // The estimates, scaled to the tiles they stand for (so that none is negative and they add up), then the counts.
  const shares = share.full + share.partial + share.empty;
  const scaled = (x: number) => (shares === 0 ? 0n : BigInt(Math.round((x / shares) * Number(shareArea))));
  let [sharedFull, sharedEmpty] = [scaled(share.full), scaled(share.empty)];
  const over = sharedFull + sharedEmpty - shareArea;
  if (over > 0n) [sharedFull, sharedEmpty] = sharedFull >= sharedEmpty ? [sharedFull - over, sharedEmpty] : [sharedFull, sharedEmpty - over];
  const total = BigInt(tq) * BigInt(tk);
  const full = exact.full + BigInt(small.full) + sharedFull;
  const empty = exact.empty + BigInt(small.empty) + sharedEmpty;
  const counts = { full, empty, partial: total - full - empty, total, evaluations };
  return estimated ? { ...counts, sampled, unresolved } : counts;
}

const kindOf = (c: RangeClass) => (c === "mixed" ? "partial" : c);

/** The scalar parameters an expression reads. */
const scalarNames = (e: Expr): string[] => (e.kind === "scalar" ? [e.name] : children(e).flatMap(scalarNames));
const extentSizes = (x: Extent): string[] => (x.kind === "size" ? [x.name] : []);
const sizeNames = (e: Expr): string[] => [
  ...(e.kind === "size" ? [e.name] : e.kind === "reduce" || e.kind === "softmax" ? e.vars.flatMap((v) => extentSizes(v.extent)) : []),
  ...children(e).flatMap(sizeNames),
];
