import { describe, expect, it } from "vitest";
import { planned, randomArgs, rng } from "../support/programs.js";
import { compileExpr, prepare, runStatement, slotAllocator } from "../../src/interp/interpret.js";
import type { FusedStage } from "../../src/plan/plan.js";

const head = "kernel m(q: f32[B, N, D], k: f32[B, M, D], v: f32[B, M, D]";
const program = (params: string, mask: string) => `${head}${params}) -> (o: f32[B, N, D]) {
  o[b, i, e] = sum[j](softmax[j](where(${mask}, sum[d](q[b, i, d] * k[b, j, d]), -inf)) * v[b, j, e])
}`;

const masks: Record<string, { params: string; mask: string; sameLength?: boolean }> = {
  causal: { params: "", mask: "j <= i" },
  "causal, bottom-right aligned": { params: "", mask: "j <= i + M - N" },
  "sliding window": { params: ", W: i32", mask: "j <= i && j > i - W" },
  chunked: { params: "", mask: "i / 16 == j / 16 && j <= i" },
  "prefix LM": { params: ", prefix: i32[B]", mask: "j < prefix[b] || j <= i" },
  "key padding": { params: ", klen: i32[B]", mask: "j < klen[b]" },
  documents: { params: ", doc: i32[B, N]", mask: "doc[b, i] == doc[b, j] && j <= i", sameLength: true },
};

/** Every tile of every row: brute force over its elements against the plan's classes and key range. */
function checkTiles(name: string, seed: number, fixed?: { N: number; M: number; blockQ: number; blockK: number }) {
  const spec = masks[name];
  const source = program(spec.params, spec.mask).replace(spec.sameLength ? "k: f32[B, M, D], v: f32[B, M, D]" : "", spec.sameLength ? "k: f32[B, N, D], v: f32[B, N, D]" : "");
  const plan = planned(source, { D: 4 });
  const stage = plan.stages.find((s): s is FusedStage => s.kind === "fused")!;
  const random = rng(seed);
  const N = fixed?.N ?? 1 + Math.floor(random() * 150);
  const M = spec.sameLength ? N : fixed?.M ?? 1 + Math.floor(random() * 150);
  const sizes = { B: 2, N, M };
  const blockQ = fixed?.blockQ ?? 1 + Math.floor(random() * 64);
  const blockK = fixed?.blockK ?? 1 + Math.floor(random() * 64);
  const args = randomArgs(plan.kernel, sizes, random, { scalars: { W: 1 + Math.floor(random() * 40) } });
  const { buffers, infos, scalars } = prepare(plan.kernel, args, sizes);
  for (const t of plan.buffers) infos.set(t.name, t);
  for (const s of plan.stages) if (s.kind === "naive") runStatement(s.statement, { sizes, scalars, buffers, infos });
  const slotOf = slotAllocator(["b", "i", "j"]);
  const cx = { slotOf, sizes, scalars, buffers, infos };
  const mask = compileExpr(stage.chain.mask!, cx);
  const [full, empty] = [compileExpr(stage.tiles.full, cx), compileExpr(stage.tiles.empty, cx)];
  const lo = stage.keyRange.lo && compileExpr(stage.keyRange.lo, cx);
  const hi = stage.keyRange.hi && compileExpr(stage.keyRange.hi, cx);
  const env = new Float64Array(16);
  const counts = { full: 0, partial: 0, empty: 0, exact: 0 };
  for (let b = 0; b < 2; b++) {
    env[slotOf("b")] = b;
    for (let i0 = 0; i0 < N; i0 += blockQ) {
      env[slotOf("$i0")] = i0;
      env[slotOf("$i1")] = Math.min(i0 + blockQ, N) - 1;
      const keyLo = lo ? lo(env) : 0;
      const keyHi = hi ? hi(env) : M - 1;
      for (let j0 = 0; j0 < M; j0 += blockK) {
        env[slotOf("$j0")] = j0;
        env[slotOf("$j1")] = Math.min(j0 + blockK, M) - 1;
        const isFull = full(env) !== 0;
        const isEmpty = empty(env) !== 0;
        let any = false;
        let all = true;
        for (let i = i0; i < Math.min(i0 + blockQ, N); i++) {
          for (let j = j0; j < Math.min(j0 + blockK, M); j++) {
            env[slotOf("i")] = i;
            env[slotOf("j")] = j;
            const kept = mask(env) !== 0;
            any ||= kept;
            all &&= kept;
            if (kept) expect(j >= keyLo && j <= keyHi, `key ${j} of query ${i} outside the key range [${keyLo}, ${keyHi}]`).toBe(true);
          }
        }
        expect(!(isFull && isEmpty)).toBe(true);
        if (isFull) expect(all, `tile (${i0}, ${j0}) classified full has a masked element`).toBe(true);
        if (isEmpty) expect(any, `tile (${i0}, ${j0}) classified empty has a kept element`).toBe(false);
        counts[isFull ? "full" : isEmpty ? "empty" : "partial"]++;
        if (isFull === all && isEmpty === !any) counts.exact++;
      }
    }
  }
  return counts;
}

describe("tile classification against a brute-force evaluation of the mask", () => {
  for (const name of Object.keys(masks)) {
    it(`is sound for ${name} at random sizes and tile shapes`, () => {
      for (let seed = 1; seed <= 12; seed++) checkTiles(name, seed * 7919 + name.length);
    });
  }

  it("is exact for causal, sliding window and chunked masks (every full or empty tile is recognised)", () => {
    for (const name of ["causal", "sliding window", "chunked", "key padding"]) {
      for (let seed = 1; seed <= 6; seed++) {
        const counts = checkTiles(name, seed);
        expect(counts.exact, `${name}: ${JSON.stringify(counts)}`).toBe(counts.full + counts.partial + counts.empty);
      }
    }
  });

  it("skips nearly half the tiles of a causal mask", () => {
    const counts = checkTiles("causal", 3, { N: 130, M: 130, blockQ: 16, blockK: 16 });
    // 9 x 9 tiles a row tuple: 36 above the diagonal are empty, 9 on it partial, 36 below full; two batches.
    expect(counts).toEqual({ full: 72, partial: 18, empty: 72, exact: 162 });
  });

  it("classifies whole-document tiles full and cross-document tiles empty with run-time tables", () => {
    const plan = planned(program(masks.documents.params, masks.documents.mask).replace("k: f32[B, M, D], v: f32[B, M, D]", "k: f32[B, N, D], v: f32[B, N, D]"), { D: 4 });
    expect(plan.buffers.map((t) => t.name).sort()).toEqual(["doc'tilemax1", "doc'tilemin1"]);
    let sawFull = false;
    let sawEmpty = false;
    for (let seed = 1; seed <= 30 && !(sawFull && sawEmpty); seed++) {
      const counts = checkTiles("documents", seed);
      sawFull ||= counts.full > 0;
      sawEmpty ||= counts.empty > 0;
    }
    expect(sawEmpty).toBe(true);
  });
});
