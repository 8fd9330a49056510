// i32(x) and a float stored to an i32 output on WebGPU: the WGSL helper decides NaN and out-of-range floats on their
// bits, so the kernel gives the interpreter's answer (truncation toward zero, saturation, NaN to 0) whatever the
// implementation's conversion does; CUDA's stores use its own helper for i32(x) as well.
import { describe, expect, it } from "vitest";
import { createRunner } from "../../src/runtime/index.js";
import { interpret } from "../../src/interp/interpret.js";
import { compile } from "../../src/compile.js";
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

describe("a float stored to an i32 output on WebGPU", () => {
  // docs/language.md: the same rule as i32(x); WGSL's own i32() of NaN or of a float past the i32 range is the
  // implementation's (lavapipe gives -2^31 for NaN and 2147483520 for +inf).
  const x = Float32Array.from([1.75, -1.75, 0.2, -0.2, 3e9, -3e9, Infinity, -Infinity, NaN, 1073741760, -1073741824, 2147483520, 1e-40]);
  const want = [3, -3, 0, 0, 2147483647, -2147483648, 2147483647, -2147483648, 0, 2147483520, -2147483648, 2147483647, 0];

  it("truncates toward zero, saturates and gives 0 for NaN in a naive stage", async () => {
    const kernel = compileOne("kernel f(x: f32[N]) -> (y: i32[N]) {\n  y[i] = x[i] * 2.0\n}", { schedule: "naive" });
    expect(kernel.wgsl).toMatch(/st_y\([^\n]*attnc_to_i32\(/);
    const reference = interpret(kernel.checked, { x }, { N: x.length }).y;
    expect([...reference]).toEqual(want);
    const got = await (await createRunner(kernel))({ x }, { N: x.length });
    expect([...got.y]).toEqual(want);
  });

  it("truncates toward zero, saturates and gives 0 for NaN in a fused attention's store", async () => {
    // Equal scores over 4 keys and values of 1: the attention is exactly 1, so the output is the row's scale s[i].
    const source = `const D = 16
kernel g(q: f32[N, D], k: f32[M, D], v: f32[M, D], s: f32[N]) -> (o: i32[N, D]) {
  o[i, e] = sum[j](softmax[j](sum[d](q[i, d] * k[j, d])) * v[j, e]) * s[i]
}`;
    const kernel = compileOne(source, { schedule: "fused" });
    expect(kernel.manifest.webgpu?.schedule).toMatch(/fused/);
    const N = x.length;
    const M = 4;
    const args = { q: new Float32Array(N * 16), k: new Float32Array(M * 16).fill(0.5), v: new Float32Array(M * 16).fill(1), s: x.map((t) => t * 2) };
    const expected = want.flatMap((w) => Array.from({ length: 16 }, () => w));
    expect([...interpret(kernel.checked, args, { N, M }).o]).toEqual(expected);
    const got = await (await createRunner(kernel))(args, { N, M });
    expect([...got.o]).toEqual(expected);
  });

  it("goes through the helper i32(x) uses in CUDA too (attnc_store of a float into an int*)", () => {
    const cuda = compile("kernel f(x: f32[N]) -> (y: i32[N]) {\n  y[i] = x[i] * 2.0\n}", { target: "cuda" }).kernels[0].cuda!;
    expect(cuda).toContain("void attnc_store(int* p, float x) { *p = attnc_to_int(x); }");
    expect(cuda).toMatch(/attnc_store\(static_cast<int\*>\([^\n]*ld_0\(p, ix_i\) \* 2\.0f\)\);/);
  });
});
