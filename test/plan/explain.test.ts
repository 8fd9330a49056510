// `attnc explain`: the chain in the user's own terms, tile counts that agree with the mask evaluated element by
// element, and the missing link (with a caret under the source) where no chain matches.
import { describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import { countTiles, explainPlan, tileClassifier, type RangeClass } from "../../src/explain.js";
import type { FusedStage } from "../../src/plan/plan.js";
import { rng } from "../../src/interp/inputs.js";
import { sourceFile } from "../../src/diagnostics/source.js";
import { planned } from "../support/programs.js";

const explain = (text: string, at?: Parameters<typeof explainPlan>[2]) => explainPlan(planned(text), sourceFile("test.attn", text), at);
const example = (name: string) => readFileSync(`examples/${name}`, "utf8");

/** Tile classes by evaluating the mask at every element of every tile. */
function bruteForce(n: number, m: number, bq: number, bk: number, mask: (i: number, j: number) => boolean) {
  const counts = { full: 0, partial: 0, empty: 0 };
  for (let i0 = 0; i0 < n; i0 += bq) {
    for (let j0 = 0; j0 < m; j0 += bk) {
      let live = 0;
      let all = 0;
      for (let i = i0; i < Math.min(i0 + bq, n); i++) for (let j = j0; j < Math.min(j0 + bk, m); j++, all++) live += mask(i, j) ? 1 : 0;
      counts[live === 0 ? "empty" : live === all ? "full" : "partial"]++;
    }
  }
  return counts;
}

const statistics = (text: string) => {
  const match = /(\d+) full, (\d+) partial, (\d+) empty of (\d+)/.exec(text);
  expect(match, text).not.toBeNull();
  return { full: Number(match![1]), partial: Number(match![2]), empty: Number(match![3]) };
};

describe("attnc explain", () => {
  it("names variables that inlining renamed apart readably and distinctly, alike on every line", () => {
    // The consumer calls its key axis `d`, the score's contraction is `d` too: inlining renames the latter.
    const text = explain(`const D = 16
kernel f(q: f16[B, H, N, D], k: f16[B, H, M, D], v: f16[B, H, M, D]) -> (o: f16[B, H, N, D]) {
  s[b, h, i, j] = sum[d](q[b, h, i, d] * k[b, h, j, d]) * rsqrt(D)
  o[b, h, i, e] = sum[d](softmax[d](s[b, h, i, d]) * v[b, h, d, e])
}`);
    const key = /key: +k\[b, h, (\w+), (\w+)\]/.exec(text);
    const query = /query: +q\[b, h, i, (\w+)\]/.exec(text);
    const axes = /axes: +rows b, h; query i \(N\); key (\w+) \(M\); head dim (\w+) \(D\)/.exec(text);
    expect(key, text).not.toBeNull();
    expect(text).not.toContain("'");
    const [, keyVar, headVar] = key!;
    expect(keyVar).toBe("d");
    expect(headVar).not.toBe(keyVar);
    expect(query![1]).toBe(headVar);
    expect(axes!.slice(1)).toEqual([keyVar, headVar]);
    expect(text).toMatch(/softmax over d,/);
  });

  it("shows the chain of the causal example in the user's terms, and its tile counts", () => {
    const text = explain(example("causal.attn"), { blockQ: 64, blockK: 64, sizes: { N: 1000 }, scalars: {} });
    expect(text).toContain("kernel causal: fused schedule");
    expect(text).toMatch(/mask: +j <= i/);
    expect(text).toMatch(/normaliser: +softmax over j, rewritten online/);
    expect(statistics(text)).toEqual(bruteForce(1000, 1000, 64, 64, (i, j) => j <= i));
  });

  it("counts sliding-window tiles at given sizes, scalars and tile shape as the mask does element by element", () => {
    const text = explain(example("sliding-window.attn"), { blockQ: 48, blockK: 80, sizes: { N: 1111 }, scalars: { W: 200 } });
    expect(statistics(text)).toEqual(bruteForce(1111, 1111, 48, 80, (i, j) => j <= i && j > i - 200));
    expect(text).toContain("W = 200");
  });

  it("counts tiles over N queries and M keys when they differ", () => {
    const source = `kernel c(q: f32[N, D], k: f32[M, D], v: f32[M, D]) -> (o: f32[N, D]) {
  o[i, e] = sum[j](softmax[j](where(j <= i + 100, sum[d](q[i, d] * k[j, d]), -inf)) * v[j, e])
}`;
    const text = explain(source.replace(/D\]/g, "16]"), { blockQ: 64, blockK: 64, sizes: { N: 300, M: 700 }, scalars: {} });
    expect(text).toContain("N = 300, M = 700");
    expect(statistics(text)).toEqual(bruteForce(300, 700, 64, 64, (i, j) => j <= i + 100));
  });

  it("asks for the scalars a mask reads, and says tensor-reading masks are classified from run-time tables", () => {
    expect(explain(example("sliding-window.attn"))).toContain("give --scalars W=... for counts");
    expect(explain(example("document-mask.attn"))).toContain("classified at run time from tables");
  });

  it("finds the chain in a softmax written out by hand", () => {
    const text = explain(example("softmax-by-hand.attn"));
    expect(text).toContain("fused schedule");
    expect(text).toMatch(/normaliser: +softmax over j/);
  });

  it("points at the link that breaks the chain: a softmax over the wrong axis", () => {
    const source = `const D = 16
kernel wrong(q: f32[B, N, D], k: f32[B, N, D], v: f32[B, N, D]) -> (o: f32[B, N, D]) {
  s[b, i, j] = sum[d](q[b, i, d] * k[b, j, d])
  o[b, i, e] = sum[j](softmax[i](s[b, i, j]) * v[b, j, e])
}
`;
    const text = explain(source);
    expect(text).toContain("kernel wrong: naive schedule");
    expect(text).toContain("no attention chain for `o`: the softmax normalises over `i`, but the values are summed over `j`");
    const lines = text.split("\n");
    const at = lines.findIndex((l) => l.includes("o[b, i, e] = sum[j](softmax[i]"));
    expect(lines[at + 1].indexOf("^")).toBe(lines[at].indexOf("softmax[i]"));
    expect(lines[at + 1].trim()).toBe("^".repeat("softmax[i](s[b, i, j])".length));
  });
});

/** The tile classes of the kernel's tile tests, one tile at a time (what explain did before it counted ranges). */
function perTile(classify: (i0: number, i1: number, j0: number, j1: number) => RangeClass, n: number, m: number, bq: number, bk: number) {
  const counts = { full: 0, partial: 0, empty: 0 };
  for (let i0 = 0; i0 < n; i0 += bq) {
    for (let j0 = 0; j0 < m; j0 += bk) {
      const kind = classify(i0, Math.min(i0 + bq, n) - 1, j0, Math.min(j0 + bk, m) - 1);
      counts[kind === "mixed" ? "partial" : kind]++;
    }
  }
  return counts;
}

const numbers = (c: { full: bigint; partial: bigint; empty: bigint }) => ({ full: Number(c.full), partial: Number(c.partial), empty: Number(c.empty) });

/** A random mask over i (queries), j (keys), constants and the scalar W, of the forms the tile tests bound. */
function randomMask(random: () => number): string {
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(random() * xs.length)];
  const c = () => 1 + Math.floor(random() * 90);
  const atom = (): string =>
    pick([() => "i", () => "j", () => `i + ${c()}`, () => `j - ${c()}`, () => `i - W`, () => `2 * j`, () => `i / ${c()}`, () => `j / ${c()}`,
      () => `max(i, j - ${c()})`, () => `min(i, ${c()})`, () => `j % ${c()}`, () => `W`, () => `${c()}`])();
  const compare = () => `${atom()} ${pick(["<", "<=", ">", ">=", "==", "!="])} ${atom()}`;
  const cond = (depth: number): string =>
    depth === 0 ? compare() : pick([() => compare(), () => `(${cond(depth - 1)} && ${cond(depth - 1)})`, () => `(${cond(depth - 1)} || ${cond(depth - 1)})`, () => `!(${cond(depth - 1)})`])();
  return cond(2);
}

const maskKernel = (mask: string) => `kernel c(q: f32[N, 16], k: f32[M, 16], v: f32[M, 16], W: i32) -> (o: f32[N, 16]) {
  o[i, e] = sum[j](softmax[j](where(${mask}, sum[d](q[i, d] * k[j, d]), -inf)) * v[j, e])
}`;

const fusedStage = (text: string) => planned(text).stages.find((s): s is FusedStage => s.kind === "fused");

describe("tile counts by ranges of tiles", () => {
  it("equal the tile-by-tile counts of the tile tests for random masks, sizes and tile shapes", () => {
    const random = rng(13);
    let compared = 0;
    for (let trial = 0; trial < 150; trial++) {
      const mask = randomMask(random);
      const stage = fusedStage(maskKernel(mask));
      if (stage === undefined) continue;
      const [n, m] = [Math.floor(random() * 700), Math.floor(random() * 700)];
      const [bq, bk] = [1 + Math.floor(random() * 130), 1 + Math.floor(random() * 130)];
      const at = { sizes: { N: n, M: m }, scalars: { W: Math.floor(random() * 300) - 50 } };
      const { classify } = tileClassifier(stage, at);
      const got = countTiles(classify, { n, m, blockQ: bq, blockK: bk });
      expect(got.sampled, mask).toBeUndefined();
      expect(numbers(got), `${mask} at N=${n}, M=${m}, ${bq}x${bk}, W=${at.scalars.W}`).toEqual(perTile(classify, n, m, bq, bk));
      expect(Number(got.total)).toBe(Math.ceil(n / bq) * Math.ceil(m / bk));
      compared++;
    }
    expect(compared).toBeGreaterThan(100);
  });

  it("equal the mask evaluated element by element for the examples, at random sizes and tile shapes", () => {
    const random = rng(5);
    const masks: [string, Record<string, number>, (i: number, j: number, s: Record<string, number>) => boolean][] = [
      ["causal.attn", {}, (i, j) => j <= i],
      ["sliding-window.attn", { W: 0 }, (i, j, s) => j <= i && j > i - s.W],
      ["chunked.attn", {}, (i, j) => Math.floor(i / 32) === Math.floor(j / 32) && j <= i],
    ];
    for (const [file, scalars, mask] of masks) {
      for (let trial = 0; trial < 12; trial++) {
        const n = 1 + Math.floor(random() * 600);
        const [bq, bk] = [1 + Math.floor(random() * 100), 1 + Math.floor(random() * 100)];
        const s: Record<string, number> = "W" in scalars ? { W: Math.floor(random() * 300) } : {};
        const text = explain(example(file), { blockQ: bq, blockK: bk, sizes: { N: n }, scalars: s });
        expect(statistics(text), `${file} N=${n} ${bq}x${bk} ${JSON.stringify(s)}`).toEqual(bruteForce(n, n, bq, bk, (i, j) => mask(i, j, s)));
      }
    }
  });

  it("counts 2^20 and 2^24 queries and keys of the examples in well under 2 s, exactly where they are countable", () => {
    for (const N of [2 ** 20, 2 ** 24]) {
      const t = N / 64;
      for (const [file, scalars, want] of [
        ["causal.attn", {}, { full: (t * (t - 1)) / 2, partial: t, empty: (t * (t - 1)) / 2 }],
        ["chunked.attn", {}, { full: 0, partial: t, empty: t * t - t }],
        // W = 4096: a query tile sees 64 whole key tiles before it, a partial one at either end of the band.
        ["sliding-window.attn", { W: 4096 }, { full: 63 * t - (63 * 64) / 2, partial: 2 * t - 64, empty: t * t - 63 * t + (63 * 64) / 2 - 2 * t + 64 }],
        ["prefix-lm.attn", {}, undefined],
        ["document-mask.attn", {}, undefined],
      ] as const) {
        const started = performance.now();
        const text = explain(example(file), { blockQ: 64, blockK: 64, sizes: { N }, scalars });
        const ms = performance.now() - started;
        expect(ms, `${file} at N = ${N}`).toBeLessThan(2000);
        if (want === undefined) expect(text).toContain("classified at run time from tables");
        else {
          expect(text, file).not.toContain("estimated");
          expect(statistics(text), `${file} at N = ${N}`).toEqual(want);
        }
      }
    }
  });

  it("gives an estimate, and says so, where the edges of the mask have more tiles than the budget; never hangs", () => {
    const stage = fusedStage(example("causal.attn"))!;
    const { classify } = tileClassifier(stage, { sizes: { N: 5000 }, scalars: {} });
    const exact = perTile(classify, 5000, 5000, 8, 8);
    // The tiles left fit the budget: classified one by one, exact.
    expect(numbers(countTiles(classify, { n: 5000, m: 5000, blockQ: 8, blockK: 8 }, 2000))).toEqual(exact);
    // They do not: sampled, and close.
    const rough = countTiles(classify, { n: 5000, m: 5000, blockQ: 8, blockK: 8 }, 600);
    expect(rough.sampled).toBeGreaterThan(0);
    expect(Number(rough.total)).toBe(625 * 625);
    expect(Math.abs(Number(rough.partial) - exact.partial)).toBeLessThan(0.15 * exact.partial);
    expect(Number(rough.full + rough.partial + rough.empty)).toBe(625 * 625);
    // The largest sizes the CLI takes, at the smallest tile: bounded work, an estimate stated as one.
    const started = performance.now();
    const text = explain(example("sliding-window.attn"), { blockQ: 1, blockK: 1, sizes: { N: 2 ** 31 - 1 }, scalars: { W: 1000 } });
    expect(performance.now() - started).toBeLessThan(10_000);
    expect(text).toMatch(/tiles: +at N = 2147483647, W = 1000 with 1 x 1 tiles: about \d+ full, \d+ partial, \d+ empty of 4611686014132420609 \(.*estimated: \d+ tiles of the \d+ not classified/);
  });
});
