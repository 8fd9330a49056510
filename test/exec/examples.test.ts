// Execution tests: every example, fused and naive, on the WebGPU adapter (lavapipe in CI) against the float64 interpreter.
import { afterAll, describe, expect, it } from "vitest";
import { releaseDevice } from "../../src/runtime/index.js";
import type { DType } from "../../src/syntax/ast.js";
import { exampleSource, examples, naiveOnly, reference, runCase, withDtype, type Case } from "./support.js";

afterAll(() => releaseDevice());

// Sizes that are multiples of no tile; H = 4 query heads over HKV = 2 key/value heads (G = 2); a paged cache of T
// pages a sequence (of P = 16 tokens) from a pool of NP.
const sizes = { B: 2, H: 4, HKV: 2, G: 2, N: 37, M: 53, T: 4, NP: 9 };
const square = { B: 1, H: 2, HKV: 1, G: 2, N: 70, M: 70, T: 5, NP: 6 };

describe.each(examples)("%s", (file) => {
  for (const dtype of ["f32", "f16", "bf16"] as DType[]) {
    it(`fused and naive agree with the interpreter, ${dtype} storage, N=37 M=53`, async () => {
      const c: Case = { source: withDtype(exampleSource(file), dtype), defines: { D: 16 }, sizes };
      const ref = reference(c);
      if (!(file in naiveOnly)) expect((await runCase(c, "fused", ref)).schedule).toBe("fused");
      const naive = await runCase(c, "naive", ref);
      expect(naive.schedule).toBe("naive");
    });
  }
  it("fused and naive agree with the interpreter at D=32, N=M=70", async () => {
    const c: Case = { source: exampleSource(file), defines: { D: 32 }, sizes: square, seed: 2 };
    const ref = reference(c);
    if (!(file in naiveOnly)) await runCase(c, "fused", ref);
    await runCase(c, "naive", ref);
  });
});
