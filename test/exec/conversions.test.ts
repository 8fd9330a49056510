// i32(x) on WebGPU: the WGSL helper decides NaN and out-of-range floats on their bits, so the kernel gives the
// interpreter's answer (truncation toward zero, saturation, NaN to 0) whatever the implementation's conversion does.
import { describe, expect, it } from "vitest";
import { createRunner } from "../../src/runtime/index.js";
import { interpret } from "../../src/interp/interpret.js";
import { compileOne } from "./support.js";

describe("i32(x) on WebGPU", () => {
  it("truncates toward zero, saturates and gives 0 for NaN, as the interpreter does", async () => {
    const source = "kernel f(x: f32[N]) -> (y: i32[N]) {\n  y[i] = i32(x[i] * 2.0) + 1\n}";
    const x = Float64Array.from([1.75, -1.75, 0.2, -0.2, 3e9, -3e9, Infinity, -Infinity, NaN, 1073741760, -1073741824, 1e-40]);
    const kernel = compileOne(source, { schedule: "naive" });
    const got = await (await createRunner(kernel))({ x }, { N: x.length });
    const want = interpret(kernel.checked, { x }, { N: x.length }).y;
    expect([...want]).toEqual([4, -2, 1, 1, -2147483648, -2147483647, -2147483648, -2147483647, 1, 2147483521, -2147483647, 1]);
    expect([...got.y]).toEqual([...want]);
  });
});
