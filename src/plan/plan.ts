// Plan stage: the schedule of a kernel as stages: fused attention chains, and naive statements for the rest.
import type { CheckedKernel, Expr, IndexVar, Statement, TensorInfo } from "../check/typed.js";
import { freeVars } from "../check/free-vars.js";
import { tensorsOf } from "../check/typed.js";
import { error, type SpanDiagnostic } from "../diagnostics/diagnostic.js";
import { inlineAll } from "../graph/inline.js";
import { canonicalize } from "../graph/canonical.js";
import type { NameSupply } from "../graph/substitute.js";
import { children, loadsOf, mapChildren, rewrite } from "../graph/walk.js";
import type { AttentionChain, ChainMiss, RowStatistic } from "../fuse/chain.js";
import { matchChain, matchStatistic } from "../fuse/match.js";
import { classifyTiles, keyRange, tableGranule, type TableRequest } from "../fuse/tiles.js";
import { extentExpr } from "../graph/inline.js";

export type FusedStage = {
  readonly kind: "fused";
  readonly chain: AttentionChain;
  /** Conditions over the tile bounds (refs i0, i1, j0, j1) and the row variables. */
  readonly tiles: { readonly full: Expr; readonly empty: Expr };
  /** The keys a query tile can see (inclusive); undefined sides are 0 and M - 1. */
  readonly keyRange: { readonly lo?: Expr; readonly hi?: Expr };
};

export type NaiveStage = { readonly kind: "naive"; readonly statement: Statement };

export type Stage = FusedStage | NaiveStage;

export type KernelPlan = {
  readonly kernel: CheckedKernel;
  readonly schedule: Schedule;
  readonly stages: readonly Stage[];
  /** Intermediates that stages write to device memory: naive ones, and attentions that feed other attentions. */
  readonly buffers: readonly TensorInfo[];
  readonly misses: readonly ChainMiss[];
};

/** Whether a plan fuses attention chains or runs every statement naive. */
export type Schedule = "fused" | "naive";

export type ScheduleRequest = "auto" | "fused" | "naive";

export function planKernel(kernel: CheckedKernel, request: ScheduleRequest = "auto"): { plan: KernelPlan; diagnostics: SpanDiagnostic[] } {
  const diagnostics: SpanDiagnostic[] = [];
  const statements = new Map(kernel.statements.map((s) => [s.target, s]));
  const naive = (misses: ChainMiss[]): KernelPlan => ({
    kernel, schedule: "naive", stages: kernel.statements.map((statement) => ({ kind: "naive", statement })),
    buffers: kernel.intermediates, misses,
  });
  if (request === "naive") return { plan: naive([]), diagnostics };

  const supply: NameSupply = { next: 0 };
  const found = findChains(kernel, supply);
  const { chains, misses, canonical, materialized, keep } = found;
  // Outputs that are row statistics of a chain's scores join that chain instead of running alone.
  const extras = new Map<string, RowStatistic[]>();
  const statisticOf = new Set<string>();
  for (const m of misses) {
    for (const chain of chains) {
      const masked = maskedScores(chain);
      const stat = masked && matchStatistic(chain, kernel.outputs.find((o) => o.name === m.output)!, statements.get(m.output)!, canonical.get(m.output)!, masked, supply);
      if (stat !== undefined) {
        extras.set(chain.output.name, [...(extras.get(chain.output.name) ?? []), stat]);
        statisticOf.add(m.output);
        break;
      }
    }
  }
  const remaining = misses.filter((m) => !statisticOf.has(m.output));
  if (chains.length === 0) {
    if (request === "fused") {
      for (const m of remaining) diagnostics.push(error(m.span, `no attention chain to fuse: ${m.reason}`, "run `attnc explain` for the chain attnc looks for, or use --schedule naive"));
    }
    return { plan: naive(remaining), diagnostics };
  }

  const tables: TableRequest[] = [];
  const fused: FusedStage[] = chains.map((c) => {
    const chain: AttentionChain = { ...c, extras: extras.get(c.output.name) ?? [] };
    const tileVars = { query: chain.queryVar.name, key: chain.keyVar.name, tables };
    return { kind: "fused", chain, tiles: classifyTiles(chain.mask, tileVars, chain.span), keyRange: keyRange(chain.mask, tileVars) };
  });
  const tableStages = tables.map((r) => tileTable(r, kernel, supply));
  const fusedOutputs = new Set(fused.flatMap((f) => [f.chain.output.name, ...f.chain.extras.map((x) => x.output.name)]));
  // Statements still needed: unfused outputs and whatever the fused expressions read that is not an input
  // or a tensor a fused stage writes (an attention that feeds another).
  const written = new Set([...keep, ...materialized.map((t) => t.name)]);
  const needed = new Set<string>();
  const need = (name: string): void => {
    const s = statements.get(name);
    if (s === undefined || needed.has(name) || written.has(name)) return;
    needed.add(name);
    for (const l of loadsOf(s.value)) need(l.tensor);
  };
  for (const o of kernel.outputs) if (!fusedOutputs.has(o.name)) need(o.name);
  for (const f of fused) for (const e of chainExprs(f.chain)) for (const l of loadsOf(e)) need(l.tensor);
  const naiveStages: NaiveStage[] = kernel.statements.filter((s) => needed.has(s.target)).map((statement) => ({ kind: "naive", statement }));
  const buffers = [
    ...tensorsOf(kernel).filter((t) => t.role === "intermediate" && needed.has(t.name)),
    ...materialized, ...tableStages.map((t) => t.tensor),
  ];
  const stages = dependencyOrder([...naiveStages, ...tableStages.map((t) => t.stage), ...fused]);
  return { plan: { kernel, schedule: "fused", stages, buffers, misses: remaining }, diagnostics };
}

type Chain = Omit<AttentionChain, "extras">;

/**
 * The chains of a kernel's outputs, each found whole. An attention that feeds another one's q, k or v (or is read
 * inside any other reduction) is not inlined there: an intermediate holding one stays a tensor, and one written
 * inline is lifted into a tensor of its own; each becomes a fused stage of its own, ahead of its reader.
 */
function findChains(kernel: CheckedKernel, supply: NameSupply): {
  chains: Chain[]; misses: ChainMiss[]; canonical: Map<string, Expr>; materialized: TensorInfo[]; keep: ReadonlySet<string>;
} {
  const statements = new Map(kernel.statements.map((s) => [s.target, s]));
  const infos = new Map(tensorsOf(kernel).map((t) => [t.name, t]));
  const readInside = readInReductions(kernel.statements);
  const sources = new Set(kernel.inputs.map((t) => t.name));
  const taken = new Set(infos.keys());
  const keep = new Set<string>();
  const chains: Chain[] = [];
  const misses: ChainMiss[] = [];
  const materialized: TensorInfo[] = [];
  const match = (st: Statement, value: Expr) => {
    const lifted: { tensor: TensorInfo; chain: Chain }[] = [];
    const known = new Set(sources);
    const lift = (e: Expr, scope: readonly IndexVar[], inside: boolean): Expr => {
      const binds = e.kind === "reduce" || e.kind === "softmax";
      const inner = e.kind === "reduce" ? [...scope, ...e.vars] : scope;
      const x = mapChildren(e, (c) => lift(c, inner, inside || binds));
      if (!inside || x.kind !== "reduce" || x.op !== "sum" || x.vars.length !== 1 || x.type !== "float") return x;
      const free = freeVars(x);
      const vars = [...new Map(scope.filter((v) => free.has(v.name)).map((v) => [v.name, v])).values()];
      const target = freshTensor(`${st.target}_inner`, taken);
      const tensor: TensorInfo = { name: target, dtype: "f32", dims: vars.map((v) => v.extent), role: "intermediate", span: x.span };
      const statement: Statement = { target, vars, value: x, span: x.span };
      const found = matchChain(tensor, statement, canonicalize(x, supply), known);
      if (!found.ok) {
        taken.delete(target);
        return x;
      }
      lifted.push({ tensor, chain: found.value });
      known.add(target);
      return { kind: "load", tensor: target, indices: vars.map((v) => ({ kind: "var", name: v.name, type: "int", span: x.span })), clamped: vars.map(() => false), type: "float", span: x.span };
    };
    const outer = canonicalize(lift(value, st.vars, false), supply);
    const found = matchChain(infos.get(st.target)!, st, outer, known);
    if (!found.ok) lifted.forEach((l) => taken.delete(l.tensor.name));
    return { found, lifted, value: outer };
  };
  const accept = (m: ReturnType<typeof match>, chain: Chain) => {
    for (const l of m.lifted) {
      chains.push(l.chain);
      materialized.push(l.tensor);
      sources.add(l.tensor.name);
    }
    chains.push(chain);
    sources.add(chain.output.name);
  };
  // Tensors holding an attention that another statement reads inside a reduction, in program order.
  for (const st of kernel.statements) {
    if (!readInside.has(st.target)) continue;
    const m = match(st, canonicalize(inlineAll(kernel, supply, keep).get(st.target)!, supply));
    if (!m.found.ok) continue;
    keep.add(st.target);
    if (infos.get(st.target)!.role === "intermediate") materialized.push(infos.get(st.target)!);
    accept(m, m.found.value);
  }
  const inlined = inlineAll(kernel, supply, keep);
  const canonical = new Map([...inlined].map(([name, e]) => [name, canonicalize(e, supply)]));
  for (const output of kernel.outputs) {
    if (keep.has(output.name)) continue;
    const m = match(statements.get(output.name)!, canonical.get(output.name)!);
    if (m.found.ok) accept(m, m.found.value);
    else misses.push(m.found.miss);
  }
  return { chains, misses, canonical, materialized, keep };
}

/** Tensors some statement loads inside a reduction or softmax. */
function readInReductions(statements: readonly Statement[]): Set<string> {
  const out = new Set<string>();
  const visit = (e: Expr, inside: boolean): void => {
    if (e.kind === "load" && inside) out.add(e.tensor);
    for (const c of children(e)) visit(c, inside || e.kind === "reduce" || e.kind === "softmax");
  };
  for (const s of statements) visit(s.value, false);
  return out;
}

function freshTensor(base: string, taken: Set<string>): string {
  let name = base;
  for (let n = 1; taken.has(name); n++) name = `${base}${n}`;
  taken.add(name);
  return name;
}

/** Stages in the order given, except that a stage waits for the stages that write what it reads. */
function dependencyOrder(stages: readonly Stage[]): Stage[] {
  const writes = (s: Stage): string[] => (s.kind === "naive" ? [s.statement.target] : [s.chain.output.name, ...s.chain.extras.map((x) => x.output.name)]);
  const reads = (s: Stage): string[] => (s.kind === "naive" ? [s.statement.value] : chainExprs(s.chain)).flatMap((e) => loadsOf(e).map((l) => l.tensor));
  // A tensor that a naive stage computes is read from it (a fused stage may write the same values later).
  const writer = new Map<string, Stage>();
  for (const s of stages) for (const t of writes(s)) if (!writer.has(t) || s.kind === "naive") writer.set(t, s);
  const done = new Set<Stage>();
  const out: Stage[] = [];
  while (out.length < stages.length) {
    const next = stages.find((s) => !done.has(s) && reads(s).every((t) => { const w = writer.get(t); return w === undefined || w === s || done.has(w); }));
    if (next === undefined) return [...out, ...stages.filter((s) => !done.has(s))];
    done.add(next);
    out.push(next);
  }
  return out;
}

function chainExprs(c: AttentionChain): Expr[] {
  const out: Expr[] = [c.q, c.k, c.v, c.scoreMod, c.epilogue, ...c.extras.map((x) => x.epilogue)];
  if (c.mask !== undefined) out.push(c.mask);
  if (c.normalizer.kind === "softmax" && c.normalizer.sink !== undefined) out.push(c.normalizer.sink);
  if (c.normalizer.kind === "elementwise") out.push(c.normalizer.fn);
  return out;
}

/** table[.., g, ..] = min (or max) over x < 64 of t[.., clamp(g * 64 + x, 0, dim - 1), ..]: one entry a granule. */
function tileTable(r: TableRequest, kernel: CheckedKernel, supply: NameSupply): { stage: NaiveStage; tensor: TensorInfo } {
  const source = tensorsOf(kernel).find((t) => t.name === r.tensor)!;
  const span = source.span;
  const vars = source.dims.map((extent, k) => ({ name: `g${k}'${++supply.next}`, extent }));
  const offset: IndexVar = { name: `x'${++supply.next}`, extent: { kind: "const", value: tableGranule } };
  const int = (value: number): Expr => ({ kind: "const", value, type: "int", span });
  const v = (name: string): Expr => ({ kind: "var", name, type: "int", span });
  const bin = (op: "+" | "*" | "-", left: Expr, right: Expr): Expr => ({ kind: "binary", op, left, right, type: "int", span });
  const along = bin("+", bin("*", v(vars[r.position].name), int(tableGranule)), v(offset.name));
  const top = bin("-", extentExpr(source.dims[r.position], span), int(1));
  const index: Expr = { kind: "call", fn: "clamp", args: [along, int(0), top], type: "int", span };
  const element: Expr = {
    kind: "load", tensor: source.name, type: source.dtype === "i32" ? "int" : "float", span,
    indices: vars.map((x, k) => (k === r.position ? index : v(x.name))), clamped: vars.map(() => false),
  };
  const value: Expr = { kind: "reduce", op: r.kind, vars: [offset], body: element, type: element.type as "int" | "float", span };
  const tensor: TensorInfo = { name: r.name, dtype: source.dtype === "i32" ? "i32" : "f32", dims: source.dims, role: "intermediate", span };
  return { stage: { kind: "naive", statement: { target: r.name, vars, value, span } }, tensor };
}

/** The chain's masked scores as an expression of q and k again (for comparing with other outputs' reductions). */
const maskedScores = (c: Omit<AttentionChain, "extras">): Expr =>
  rewrite(c.maskedScores, (x) => (x.kind === "ref" && x.name === "score" ? c.score : x));
