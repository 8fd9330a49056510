// Interp stage: the CPU executor of a tile program (tile/types.ts) in float32: the loops, tile classes and
// operations every GPU kernel of the program runs, one thread a row, so that it is the executable definition the
// backends are tested against.
import type { Expr } from "../check/typed.js";
import { registers, type Register, type Scalar, type TileProgram } from "../tile/types.js";
import { compileExpr, extentValue, slotAllocator, softmaxBase, type Compiled, type Context } from "./interpret.js";
import { roundTo } from "./dtype.js";

export type TileShape = { readonly blockQ: number; readonly blockK: number };

export type TileCounts = { full: number; partial: number; empty: number; skipped: number };

const f = Math.fround;
const largestF32 = 3.4028234663852886e38;

type Registers = Float64Array;
type Evaluated = (r: Registers) => number;

const registerIndex = new Map<Register, number>(registers.map((r, k) => [r, k]));
const at = (r: Register) => registerIndex.get(r)!;

/** A scalar of the program as a function of a row's registers, every operation rounded to f32. */
function evaluator(s: Scalar, expr: (e: Expr) => () => number, noKeys: boolean): Evaluated {
  const ev = (x: Scalar) => evaluator(x, expr, noKeys);
  switch (s.kind) {
    case "reg": { const k = at(s.reg); return (r) => r[k]; }
    case "const": { const v = f(s.value); return () => v; }
    case "expr": { const e = expr(s.expr); return () => f(e()); }
    case "noKeys": return () => Number(noKeys);
    case "unary": {
      const a = ev(s.arg);
      switch (s.op) {
        case "neg": return (r) => -a(r);
        case "exp2": return (r) => f(2 ** a(r));
        case "log2": return (r) => f(Math.log2(a(r)));
        case "belowInf": return (r) => Math.min(a(r), largestF32);
        case "finite": return (r) => softmaxBase(a(r), largestF32);
      }
      break;
    }
    case "binary": {
      const [a, b] = [ev(s.left), ev(s.right)];
      switch (s.op) {
        case "+": return (r) => f(a(r) + b(r));
        case "-": return (r) => f(a(r) - b(r));
        case "*": return (r) => f(a(r) * b(r));
        case "/": return (r) => f(a(r) / b(r));
        case "max": return (r) => Math.max(a(r), b(r));
        case "==": return (r) => Number(a(r) === b(r));
        case "||": return (r) => Number(a(r) !== 0 || b(r) !== 0);
      }
      break;
    }
    case "fma": { const [a, b, c] = [ev(s.a), ev(s.b), ev(s.c)]; return (r) => f(a(r) * b(r) + c(r)); }
    case "select": { const [c, t, o] = [ev(s.cond), ev(s.then), ev(s.otherwise)]; return (r) => (c(r) !== 0 ? t(r) : o(r)); }
  }
  throw new Error("internal: unknown scalar");
}

/** Runs the program over every row and query tile; writes its outputs into `cx.buffers`; counts the tiles by class. */
export function runTileProgram(p: TileProgram, cx: Omit<Context, "slotOf">, tile: TileShape, counts: TileCounts): void {
  const stage = p.stage;
  const c = stage.chain;
  const slotOf = slotAllocator([...c.rowVars, c.queryVar, c.keyVar, c.headVar, c.valueVar].map((v) => v.name));
  const compile = (e: Expr): Compiled => compileExpr(e, { ...cx, slotOf });
  const [iS, jS, dS, eS] = [c.queryVar, c.keyVar, c.headVar, c.valueVar].map((v) => slotOf(v.name));
  const refs = { score: slotOf("$score"), acc: slotOf("$acc"), stat: slotOf("$stat"), x: slotOf("$x"), i0: slotOf("$i0"), i1: slotOf("$i1"), j0: slotOf("$j0"), j1: slotOf("$j1") };
  const env = new Float64Array(64);
  const N = extentValue(c.queryVar.extent, cx.sizes);
  const M = extentValue(c.keyVar.extent, cx.sizes);
  const D = extentValue(c.headVar.extent, cx.sizes);
  const Dv = extentValue(c.valueVar.extent, cx.sizes);
  const q = compile(c.q), k = compile(c.k), v = compile(c.v);
  const mask = p.mask && compile(p.mask);
  const full = compile(stage.tiles.full);
  const empty = compile(stage.tiles.empty);
  const keyLo = stage.keyRange.lo && compile(stage.keyRange.lo);
  const keyHi = stage.keyRange.hi && compile(stage.keyRange.hi);
  const exprValue = (e: Expr) => { const value = compile(e); return () => value(env); };
  const scalar = (s: Scalar) => evaluator(s, exprValue, M === 0);
  const count = (vars: readonly { extent: Parameters<typeof extentValue>[0] }[]) => vars.reduce((n, w) => n * extentValue(w.extent, cx.sizes), 1);
  const flatIndex = (vars: readonly { name: string; extent: Parameters<typeof extentValue>[0] }[]) =>
    vars.reduce((acc, w) => acc * extentValue(w.extent, cx.sizes) + env[slotOf(w.name)], 0);
  const outputs = new Map<string, { out: Float64Array; dtype: Parameters<typeof roundTo>[0] }>();
  const outputOf = (o: { name: string; dtype: Parameters<typeof roundTo>[0] }, vars: readonly { extent: Parameters<typeof extentValue>[0] }[]) => {
    if (!outputs.has(o.name)) outputs.set(o.name, { out: new Float64Array(count(vars)), dtype: o.dtype });
    return outputs.get(o.name)!;
  };

  // Each op as a function of the tile's rows: s[a * cols + b] the scores, regs[a] a row's registers, acc[a * Dv + e].
  type Tile = { i0: number; rows: number; j0: number; cols: number; isFull: boolean; raw: Float64Array; s: Float64Array; qTile: Float64Array; regs: Registers[]; acc: Float64Array };
  const eachScore = (t: Tile, body: (a: number, b: number) => void) => {
    for (let a = 0; a < t.rows; a++) {
      env[iS] = t.i0 + a;
      for (let b = 0; b < t.cols; b++) {
        env[jS] = t.j0 + b;
        body(a, b);
      }
    }
  };
  const tileOps = p.tile.map((op): ((t: Tile) => void) => {
    switch (op.op) {
      case "scores":
        return (t) => eachScore(t, (a, b) => {
          let dot = 0;
          for (let d = 0; d < D; d++) {
            env[dS] = d;
            dot = f(dot + f(t.qTile[a * D + d] * k(env)));
          }
          t.raw[a * t.cols + b] = dot;
          t.s[a * t.cols + b] = dot;
        });
      case "scoreMod": {
        const value = compile(op.value);
        return (t) => eachScore(t, (a, b) => { env[refs.score] = t.raw[a * t.cols + b]; t.s[a * t.cols + b] = f(value(env)); });
      }
      case "mask":
        // The mask may read the product itself (`ref score`), whatever the score function made of it.
        return (t) => {
          if (!t.isFull && mask !== undefined) eachScore(t, (a, b) => { env[refs.score] = t.raw[a * t.cols + b]; if (mask(env) === 0) t.s[a * t.cols + b] = -Infinity; });
        };
      case "normalise": {
        const fn = compile(op.fn);
        return (t) => eachScore(t, (a, b) => { env[refs.x] = t.s[a * t.cols + b]; t.s[a * t.cols + b] = f(fn(env)); });
      }
      case "tileMax": {
        const [into, init] = [at(op.into), op.init && at(op.init)];
        return (t) => t.regs.forEach((r, a) => { r[into] = t.s.subarray(a * t.cols, (a + 1) * t.cols).reduce((x, y) => Math.max(x, y), init === undefined ? -Infinity : r[init]); });
      }
      case "assign": {
        const steps = op.steps.map((s) => ({ k: at(s.reg), value: scalar(s.value) }));
        return (t) => t.regs.forEach((r, a) => { env[iS] = t.i0 + a; for (const s of steps) r[s.k] = s.value(r); });
      }
      case "exponentiate": {
        const value = scalar(op.value);
        const [score, sum] = [at("score"), at(op.sum)];
        return (t) => t.regs.forEach((r, a) => {
          for (let b = 0; b < t.cols; b++) {
            r[score] = t.s[a * t.cols + b];
            t.s[a * t.cols + b] = value(r);
            r[sum] = f(r[sum] + t.s[a * t.cols + b]);
          }
        });
      }
      case "rescale": {
        const by = at(op.by);
        return (t) => t.regs.forEach((r, a) => { for (let e = 0; e < Dv; e++) t.acc[a * Dv + e] = f(t.acc[a * Dv + e] * r[by]); });
      }
      case "accumulate":
        return (t) => eachScore(t, (a, b) => {
          const pv = t.s[a * t.cols + b];
          if (pv === 0) return;
          for (let e = 0; e < Dv; e++) {
            env[eS] = e;
            t.acc[a * Dv + e] = f(t.acc[a * Dv + e] + f(pv * v(env)));
          }
        });
    }
  });
  const finishOps = p.finish.map((op): ((r: Registers, acc: Float64Array) => void) => {
    switch (op.op) {
      case "rowSum": return () => {};
      case "assign": {
        const steps = op.steps.map((s) => ({ k: at(s.reg), value: scalar(s.value) }));
        return (r) => { for (const s of steps) r[s.k] = s.value(r); };
      }
      case "storeStatistic": {
        const { output, outputVars, epilogue } = op.store;
        const into = outputOf(output, outputVars);
        const value = compile(epilogue);
        return (r) => { env[refs.stat] = r[at("stat")]; into.out[flatIndex(outputVars)] = roundTo(into.dtype, value(env)); };
      }
      case "storeOutput": {
        const into = outputOf(c.output, c.outputVars);
        const epilogue = compile(c.epilogue);
        const scale = op.scale === undefined ? undefined : at(op.scale);
        return (r, acc) => {
          for (let e = 0; e < Dv; e++) {
            env[eS] = e;
            env[refs.acc] = scale === undefined ? acc[e] : f(acc[e] * r[scale]);
            into.out[flatIndex(c.outputVars)] = roundTo(into.dtype, epilogue(env));
          }
        };
      }
    }
  });
  for (const op of p.finish) {
    if (op.op === "storeStatistic") outputOf(op.store.output, op.store.outputVars);
    if (op.op === "storeOutput") outputOf(c.output, c.outputVars);
  }

  const rowExtents = c.rowVars.map((r) => extentValue(r.extent, cx.sizes));
  const rowCount = rowExtents.reduce((a, b) => a * b, 1);
  const { blockQ, blockK } = tile;
  for (let row = 0; row < rowCount; row++) {
    let rest = row;
    for (let r = c.rowVars.length - 1; r >= 0; r--) {
      env[slotOf(c.rowVars[r].name)] = rest % rowExtents[r];
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
      const regs = Array.from({ length: rows }, () => {
        const r = new Float64Array(registerIndex.size);
        for (const s of p.state) r[at(s.reg)] = s.init;
        return r;
      });
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
        if (isEmpty && p.skipEmpty) {
          counts.skipped++;
          continue;
        }
        const cols = j1 - j0 + 1;
        const t: Tile = { i0, rows, j0, cols, isFull, raw: new Float64Array(rows * cols), s: new Float64Array(rows * cols), qTile, regs, acc };
        for (const op of tileOps) op(t);
      }
      for (let a = 0; a < rows; a++) {
        env[iS] = i0 + a;
        for (const op of finishOps) op(regs[a], acc.subarray(a * Dv, (a + 1) * Dv));
      }
    }
  }
  const buffers = cx.buffers as Map<string, Float64Array>;
  for (const [name, o] of outputs) buffers.set(name, o.out);
}

