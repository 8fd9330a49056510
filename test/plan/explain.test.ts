// `attnc explain`: the chain in the user's own terms, tile counts that agree with the mask evaluated element by
// element, and the missing link (with a caret under the source) where no chain matches.
import { describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import { explainPlan } from "../../src/plan/explain.js";
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
