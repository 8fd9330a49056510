// Non-finite values (language.md section 7): over small random programs whose scores hold +inf, -inf and NaN (from
// a bias, a division by 0 or a constant), with infinite and NaN sinks, fully masked rows and empty sequences, the
// interpreter, the fused CPU executor and WGSL fused and naive on the WebGPU adapter agree, NaN meeting NaN.
import { afterAll, describe, expect, it } from "vitest";
import fc from "fast-check";
import { releaseDevice, createRunner } from "../../src/runtime/index.js";
import { interpret } from "../../src/interp/interpret.js";
import { executePlan } from "../../src/interp/execute-plan.js";
import { planKernel } from "../../src/plan/plan.js";
import { compileOne } from "./support.js";
import { nonFiniteArgs, nonFiniteMismatches, nonFiniteProgram, type NonFiniteVariant } from "../support/nonfinite.js";

afterAll(() => releaseDevice());

const variant = fc.record({
  mod: fc.constantFrom("bias" as const, "divide" as const, "plus-inf" as const, "nan" as const, "plain" as const),
  mask: fc.constantFrom(undefined, "j <= i" as const, "j < klen[b]" as const),
  normaliser: fc.constantFrom("softmax" as const, "sink" as const, "sigmoid" as const),
});
// The last spans several key tiles, so that a +inf in the first one meets the invocations whose partial sums are 0.
const sizes = [{ B: 3, N: 6, M: 9 }, { B: 3, N: 5, M: 0 }, { B: 2, N: 0, M: 4 }, { B: 4, N: 7, M: 17 }, { B: 2, N: 9, M: 150 }];

describe("non-finite scores, sinks and divisors", () => {
  it("give the same NaN, infinities and values in the interpreter, the fused executor and WGSL fused and naive", async () => {
    await fc.assert(
      fc.asyncProperty(variant, fc.integer({ min: 1, max: 2 ** 30 }), async (v: NonFiniteVariant, seed) => {
        const source = nonFiniteProgram(v);
        const fused = compileOne(source, { schedule: "fused" });
        const naive = compileOne(source, { schedule: "naive" });
        expect(fused.manifest.webgpu!.schedule).toBe("fused");
        const runners = { fused: await createRunner(fused), naive: await createRunner(naive) };
        const plan = planKernel(fused.checked).plan;
        for (const [n, s] of sizes.entries()) {
          const args = nonFiniteArgs(fused.checked, s, seed + n);
          const want = interpret(fused.checked, args, s);
          const got: Record<string, Record<string, ArrayLike<number>>> = {
            executor: executePlan(plan, args, s, { blockQ: 1 + (seed % 4), blockK: 1 + (seed % 5) }).outputs,
            fused: await runners.fused(args, s),
            naive: await runners.naive(args, s),
          };
          for (const [who, out] of Object.entries(got)) {
            for (const name of ["o", "lse"]) expect(nonFiniteMismatches(out[name], want[name], 1e-4), `${who} ${name} at ${JSON.stringify(s)}`).toEqual([]);
          }
        }
      }),
      { numRuns: 24, seed: 20261203 },
    );
  }, 600_000);
});
