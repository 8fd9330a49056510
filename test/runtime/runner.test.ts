// attnc/webgpu's createRunner: inputs checked before anything is dispatched, with errors that name the tensor;
// large logits and N != M with padded keys on the device.
import { afterAll, describe, expect, it } from "vitest";
import { createRunner, releaseDevice } from "../../src/runtime/index.js";
import { interpret } from "../../src/interp/interpret.js";
import { compileOne, exampleSource, reference, runCase, withDtype, type Case } from "../exec/support.js";

afterAll(() => releaseDevice());

const sizes = { B: 1, H: 2, N: 19 };
const count = 1 * 2 * 19 * 16;
const filled = (n: number) => Float32Array.from({ length: n }, (_, x) => Math.sin(x));

describe("createRunner", () => {
  it("names the tensor, size or scalar that is wrong, and still runs correct inputs afterwards", async () => {
    const kernel = compileOne(exampleSource("sliding-window.attn"), { defines: { D: 16 }, schedule: "fused" });
    const run = await createRunner(kernel);
    const good = { q: filled(count), k: filled(count), v: filled(count), W: 4 };
    await expect(run({ ...good, k: undefined as unknown as Float32Array }, sizes)).rejects.toThrow(/tensor `k` is missing/);
    await expect(run({ ...good, q: filled(count - 1) }, sizes)).rejects.toThrow(/tensor `q` has 607 elements, but bf16\[.*\] needs 608/);
    await expect(run(good, { B: 1, H: 2 })).rejects.toThrow(/size `N` is missing/);
    await expect(run(good, { ...sizes, N: -1 })).rejects.toThrow(/size `N` must be a non-negative integer/);
    await expect(run(good, { ...sizes, H: 3 })).rejects.toThrow(/tensor `q` has 608 elements, but .* needs 912: check the sizes/);
    await expect(run({ ...good, W: undefined as unknown as number }, sizes)).rejects.toThrow(/scalar `W` \(i32\) must be a number, and is missing/);
    await expect(run({ ...good, extra: filled(3) }, sizes)).rejects.toThrow(/unknown input `extra`/);
    const out = await run(good, sizes);
    expect(out.o.length).toBe(count);
    expect(out.o.some((x) => x !== 0)).toBe(true);
  });

  it("keeps large logits finite and exact (scores around 1e3, f32 storage)", async () => {
    const c: Case = { source: withDtype(exampleSource("full.attn"), "f32"), defines: { D: 16 }, sizes: { B: 1, H: 2, N: 41, M: 41 }, scale: 12, seed: 9, tolerance: 1e-4 };
    const ref = reference(c);
    await runCase(c, "fused", ref);
    await runCase(c, "naive", ref);
  });

  it("gives exactly 0 for rows with no key (padding to klen = 0) at N != M", async () => {
    const c: Case = { source: withDtype(exampleSource("cross-attention.attn"), "f32"), defines: { D: 16 }, sizes: { B: 3, H: 2, N: 23, M: 57 }, seed: 4 };
    const ref = reference(c);
    ref.args.klen = Float64Array.from([0, 57, 13]);
    const fixed = { ...ref, want: interpret(compileOne(c.source, { defines: c.defines, schedule: "naive" }).checked, ref.args, ref.sizes) };
    const rowsOfBatch0 = 2 * 23 * 16;
    expect(Array.from(fixed.want.o.subarray(0, rowsOfBatch0)).every((x) => x === 0)).toBe(true);
    for (const schedule of ["fused", "naive"] as const) {
      const { got } = await runCase(c, schedule, fixed);
      expect(Array.from(got.o.subarray(0, rowsOfBatch0)).every((x) => Object.is(x, 0))).toBe(true);
    }
  });
});
