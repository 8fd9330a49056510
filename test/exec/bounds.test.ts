// Bounds: every tensor sits between guard regions filled with a sentinel (NaN around inputs); every kernel, fused
// and naive, must leave the guards of its outputs and scratch buffers intact, and its results unchanged.
import { afterAll, describe, expect, it } from "vitest";
import { releaseDevice } from "../../src/runtime/index.js";
import { exampleSource, examples, naiveOnly, reference, runCase, withDtype, type Case } from "./support.js";

afterAll(() => releaseDevice());

describe.each(examples)("%s", (file) => {
  it("keeps the guard regions around every buffer, fused and naive (f16 storage, odd sizes)", async () => {
    // Odd element counts, so the last packed word of every f16 tensor holds one element and one padding half.
    const c: Case = { source: withDtype(exampleSource(file), "f16"), defines: { D: 16 }, sizes: { B: 1, H: 2, HKV: 1, G: 3, N: 29, M: 45, T: 3, NP: 4 }, seed: 5 };
    const ref = reference(c);
    for (const schedule of file in naiveOnly ? (["naive"] as const) : (["fused", "naive"] as const)) {
      const { got } = await runCase(c, schedule, ref, { guardWords: 100 });
      expect(Object.keys(got).length).toBeGreaterThan(0);
    }
  });
});

describe("degenerate sizes", () => {
  const cases = [{ N: 0, M: 7, B: 1 }, { N: 7, M: 0, B: 1 }, { N: 5, M: 5, B: 0 }, { N: 1, M: 1, B: 1 }];
  it.each(["cross-attention.attn", "sinks-lse.attn", "gqa.attn", "document-mask.attn", "paged-kv.attn"])("%s runs with no queries, no keys, no batch and one token, guards intact", async (file) => {
    for (const s of cases) {
      // The paged cache has T pages of 16 keys a sequence: none where there are no keys.
      const c: Case = { source: exampleSource(file), defines: { D: 16 }, sizes: { H: 2, HKV: 1, G: 2, T: s.M > 0 ? 2 : 0, NP: 3, ...s }, seed: 3 };
      const ref = reference(c);
      for (const schedule of file in naiveOnly ? (["naive"] as const) : (["fused", "naive"] as const)) await runCase(c, schedule, ref, { guardWords: 64 });
    }
  });
});
