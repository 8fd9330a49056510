// Interp stage: a CPU executor of a kernel plan in float32, running the same loops and tile classes a GPU kernel runs.
import type { Expr } from "../check/typed.js";
import type { FusedStage, KernelPlan } from "../plan/plan.js";
import { compileExpr, extentValue, prepare, runStatement, slotAllocator, softmaxBase, type Arguments, type Context, type Sizes } from "./interpret.js";
import { roundTo } from "./dtype.js";
import { recordOf } from "../records.js";

export type TileShape = { readonly blockQ: number; readonly blockK: number };

export type TileCounts = { full: number; partial: number; empty: number; skipped: number };

export function executePlan(plan: KernelPlan, args: Arguments, sizes: Sizes, tile: TileShape): { outputs: Record<string, Float64Array>; tiles: TileCounts } {
  const { buffers, infos, scalars } = prepare(plan.kernel, args, sizes);
  for (const t of plan.buffers) infos.set(t.name, t);
  const counts: TileCounts = { full: 0, partial: 0, empty: 0, skipped: 0 };
  for (const stage of plan.stages) {
    if (stage.kind === "naive") runStatement(stage.statement, { sizes, scalars, buffers, infos });
    else runFused(stage, { sizes, scalars, buffers, infos }, tile, counts);
  }
  const outputs = recordOf(plan.kernel.outputs.map((o) => [o.name, buffers.get(o.name)!]));
  return { outputs, tiles: counts };
}

const f = Math.fround;
const largestF32 = 3.4028234663852886e38;

function runFused(stage: FusedStage, cx: Omit<Context, "slotOf">, tile: TileShape, counts: TileCounts): void {
  const c = stage.chain;
  const slotOf = slotAllocator([...c.rowVars, c.queryVar, c.keyVar, c.headVar, c.valueVar].map((v) => v.name));
  const compile = (e: Expr) => compileExpr(e, { ...cx, slotOf });
  const slot = (name: string) => slotOf(name);
  const [iS, jS, dS, eS] = [c.queryVar, c.keyVar, c.headVar, c.valueVar].map((v) => slot(v.name));
  const refs = { score: slot("$score"), acc: slot("$acc"), stat: slot("$stat"), x: slot("$x"), i0: slot("$i0"), i1: slot("$i1"), j0: slot("$j0"), j1: slot("$j1") };
  const q = compile(c.q), k = compile(c.k), v = compile(c.v);
  const scoreMod = compile(c.scoreMod);
  const mask = c.mask && compile(c.mask);
  const full = compile(stage.tiles.full);
  const empty = compile(stage.tiles.empty);
  const keyLo = stage.keyRange.lo && compile(stage.keyRange.lo);
  const keyHi = stage.keyRange.hi && compile(stage.keyRange.hi);
  const sink = c.normalizer.kind === "softmax" && c.normalizer.sink ? compile(c.normalizer.sink) : undefined;
  const elementwise = c.normalizer.kind === "elementwise" ? compile(c.normalizer.fn) : undefined;
  const epilogue = compile(c.epilogue);
  const extras = c.extras.map((x) => ({ x, epilogue: compile(x.epilogue), out: new Float64Array(x.outputVars.reduce((n, w) => n * extentValue(w.extent, cx.sizes), 1)) }));
  const N = extentValue(c.queryVar.extent, cx.sizes);
  const M = extentValue(c.keyVar.extent, cx.sizes);
  const D = extentValue(c.headVar.extent, cx.sizes);
  const Dv = extentValue(c.valueVar.extent, cx.sizes);
  const rowExtents = c.rowVars.map((r) => extentValue(r.extent, cx.sizes));
  const rowCount = rowExtents.reduce((a, b) => a * b, 1);
  const outInfo = cx.infos.get(c.output.name)!;
  const out = new Float64Array(c.outputVars.reduce((n, w) => n * extentValue(w.extent, cx.sizes), 1));
  const env = new Float64Array(64);
  const { blockQ, blockK } = tile;
  const flatIndex = (vars: readonly { name: string; extent: Parameters<typeof extentValue>[0] }[]) =>
    vars.reduce((acc, w) => acc * extentValue(w.extent, cx.sizes) + env[slot(w.name)], 0);

  for (let row = 0; row < rowCount; row++) {
    let rest = row;
    for (let r = c.rowVars.length - 1; r >= 0; r--) {
      env[slot(c.rowVars[r].name)] = rest % rowExtents[r];
      rest = Math.floor(rest / rowExtents[r]);
    }
    for (let i0 = 0; i0 < N; i0 += blockQ) {
      const i1 = Math.min(i0 + blockQ, N) - 1;
      const rows = i1 - i0 + 1;
      env[refs.i0] = i0;
      env[refs.i1] = i1;
      const qTile = new Float64Array(rows * D);
      for (let a = 0; a < rows; a++) {
        env[iS] = i0 + a;
        for (let d = 0; d < D; d++) {
          env[dS] = d;
          qTile[a * D + d] = q(env);
        }
      }
      const m = new Float64Array(rows).fill(-Infinity);
      const l = new Float64Array(rows);
      const acc = new Float64Array(rows * Dv);
      const lo = Math.max(0, keyLo ? keyLo(env) : 0);
      const hi = Math.min(M - 1, keyHi ? keyHi(env) : M - 1);
      for (let j0 = lo <= hi ? Math.floor(lo / blockK) * blockK : M; j0 <= hi; j0 += blockK) {
        const j1 = Math.min(j0 + blockK, M) - 1;
        env[refs.j0] = j0;
        env[refs.j1] = j1;
        const isEmpty = empty(env) !== 0;
        const isFull = !isEmpty && full(env) !== 0;
        counts[isEmpty ? "empty" : isFull ? "full" : "partial"]++;
        if (isEmpty && c.maskedIsZero) {
          counts.skipped++;
          continue;
        }
        const cols = j1 - j0 + 1;
        const s = new Float64Array(rows * cols);
        for (let a = 0; a < rows; a++) {
          env[iS] = i0 + a;
          for (let b = 0; b < cols; b++) {
            env[jS] = j0 + b;
            let dot = 0;
            for (let d = 0; d < D; d++) {
              env[dS] = d;
              dot = f(dot + f(qTile[a * D + d] * k(env)));
            }
            env[refs.score] = dot;
            let value = f(scoreMod(env));
            if (!isFull && mask !== undefined && mask(env) === 0) value = -Infinity;
            s[a * cols + b] = value;
          }
        }
        for (let a = 0; a < rows; a++) {
          let p: Float64Array;
          if (elementwise !== undefined) {
            p = s.subarray(a * cols, (a + 1) * cols).map((x) => { env[refs.x] = x; return f(elementwise(env)); });
          } else {
            let tileMax = -Infinity;
            for (let b = 0; b < cols; b++) tileMax = Math.max(tileMax, s[a * cols + b]);
            const mNew = Math.max(m[a], tileMax);
            const base = softmaxBase(mNew, largestF32);
            const alpha = f(Math.exp(softmaxBase(m[a], largestF32) - base));
            p = s.subarray(a * cols, (a + 1) * cols).map((x) => f(Math.exp(x - base)));
            l[a] = f(l[a] * alpha + p.reduce((x, y) => f(x + y), 0));
            for (let e = 0; e < Dv; e++) acc[a * Dv + e] = f(acc[a * Dv + e] * alpha);
            m[a] = mNew;
          }
          env[iS] = i0 + a;
          for (let b = 0; b < cols; b++) {
            if (p[b] === 0) continue;
            env[jS] = j0 + b;
            for (let e = 0; e < Dv; e++) {
              env[eS] = e;
              acc[a * Dv + e] = f(acc[a * Dv + e] + f(p[b] * v(env)));
            }
          }
        }
      }
      for (let a = 0; a < rows; a++) {
        env[iS] = i0 + a;
        let scale = 1;
        if (elementwise === undefined) {
          const lse = l[a] === 0 ? -Infinity : f(m[a] + Math.log(l[a]));
          for (const extra of extras) {
            env[refs.stat] = extra.x.kind === "logsumexp" ? lse : m[a];
            extra.out[flatIndex(extra.x.outputVars)] = roundTo(extra.x.output.dtype, extra.epilogue(env));
          }
          let denominator = l[a];
          let mFinal = m[a];
          if (sink !== undefined) {
            const s = sink(env);
            mFinal = Math.max(m[a], s);
            const base = softmaxBase(mFinal, largestF32);
            const rescale = f(Math.exp(m[a] - base));
            denominator = f(l[a] * rescale + f(Math.exp(s - base)));
            scale = rescale;
          }
          // No keys at all: the output is an empty sum, 0, whatever the sink.
          scale = denominator === 0 || M === 0 ? 0 : f(scale / denominator);
        }
        for (let e = 0; e < Dv; e++) {
          env[eS] = e;
          env[refs.acc] = f(acc[a * Dv + e] * scale);
          out[flatIndex(c.outputVars)] = roundTo(outInfo.dtype, epilogue(env));
        }
      }
    }
  }
  const buffers = cx.buffers as Map<string, Float64Array>;
  buffers.set(c.output.name, out);
  for (const extra of extras) buffers.set(extra.x.output.name, extra.out);
}
