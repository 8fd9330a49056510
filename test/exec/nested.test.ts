// Execution tests: an attention feeding another's q, k or v runs as two fused WGSL stages (the inner one writes an
// intermediate buffer the outer one loads), on the WebGPU adapter against the float64 interpreter.
import { afterAll, describe, expect, it } from "vitest";
import { releaseDevice } from "../../src/runtime/index.js";
import { nestedProgram, type Nesting } from "../support/programs.js";
import { reference, runCase, type Case } from "./support.js";

afterAll(() => releaseDevice());

const nestings: Nesting[] = [
  { role: "q", inline: false, innerKey: "j", innerMask: false, outerMask: true },
  { role: "q", inline: true, innerKey: "t", innerMask: true, outerMask: false },
  { role: "k", inline: true, innerKey: "t", innerMask: false, outerMask: true },
  { role: "v", inline: false, innerKey: "t", innerMask: true, outerMask: true },
];

describe.each(nestings)("%o", (nesting) => {
  it("runs fused as two fused stages and naive, both equal to the interpreter", async () => {
    const c: Case = { source: nestedProgram(nesting), sizes: { B: 2, H: 1, N: 23, M: 19, P: 29 }, scale: 2 };
    const ref = reference(c);
    const fused = await runCase(c, "fused", ref);
    expect(fused.schedule).toBe("fused");
    expect(fused.kernel.manifest.webgpu!.stages.length).toBe(2);
    expect(fused.kernel.wgsl!).toMatch(/stage0 fused `(a|o_inner)`, stage1 fused `o`/);
    await runCase(c, "naive", ref);
  });
});
