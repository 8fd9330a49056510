// Tensors the compiler makes (the tile tables of a mask that reads document ids) are named apart from every user
// tensor: a kernel with a tensor `doc` and user tensors `doc_tilemin1` and `doc_tilemax1` runs fused, on WebGPU and
// in the CPU executor, equal to the interpreter.
import { afterAll, describe, expect, it } from "vitest";
import { createRunner, releaseDevice } from "../../src/runtime/index.js";
import { interpret } from "../../src/interp/interpret.js";
import { executePlan } from "../../src/interp/execute-plan.js";
import { compare, randomArgs, rng } from "../support/programs.js";
import { compileOne } from "./support.js";

afterAll(() => releaseDevice());

// examples/document-mask.attn in f32 at D = 16, with two more inputs named as the tables of `doc` once were: one
// read by the mask (so it has tables of its own), one by the score.
const source = `const D = 16
kernel document_mask(q: f32[B, H, N, D], k: f32[B, H, N, D], v: f32[B, H, N, D], doc: i32[B, N], doc_tilemin1: i32[B, N], doc_tilemax1: f32[B, N]) -> (o: f32[B, H, N, D]) {
  s[b, h, i, j] = sum[d](q[b, h, i, d] * k[b, h, j, d]) * rsqrt(D) + doc_tilemax1[b, j]
  a[b, h, i, j] = where(doc[b, i] == doc[b, j] && j <= i && doc_tilemin1[b, j] >= 0, s[b, h, i, j], -inf)
  o[b, h, i, e] = sum[j](softmax[j](a[b, h, i, j]) * v[b, h, j, e])
}
`;

describe("tile tables beside user tensors named like them", () => {
  const kernel = compileOne(source, { schedule: "fused" });
  const sizes = { B: 2, H: 1, N: 150 };
  const args = randomArgs(kernel.checked, sizes, rng(5));
  const want = interpret(kernel.checked, args, sizes).o;

  it("are named with a character no source name has, never a user's tensor", () => {
    const users = new Set([...kernel.checked.inputs, ...kernel.checked.outputs, ...kernel.checked.intermediates].map((t) => t.name));
    const tables = kernel.plan.buffers.map((t) => t.name).filter((n) => n.includes("tile"));
    expect(tables.sort()).toEqual(["doc'tilemax1", "doc'tilemin1", "doc_tilemin1'tilemax1", "doc_tilemin1'tilemin1"]);
    expect(kernel.plan.buffers.filter((t) => users.has(t.name)).map((t) => t.name)).toEqual([]);
  });

  it("run fused in the CPU executor, equal to the interpreter", () => {
    const got = executePlan(kernel.plan, args, sizes, { blockQ: 64, blockK: 64 }).outputs.o;
    const c = compare(got, want);
    expect(c.nan + c.zeroMismatches).toBe(0);
    expect(c.maxRel).toBeLessThan(1e-5);
  });

  it("run fused in WGSL on WebGPU, equal to the interpreter, guards intact", async () => {
    expect(kernel.manifest.webgpu?.schedule).toMatch(/fused/);
    const got = (await (await createRunner(kernel, { guardWords: 64 }))(args, sizes)).o;
    const c = compare(got, want);
    expect(c.nan + c.zeroMismatches).toBe(0);
    expect(c.maxRel).toBeLessThan(2e-5);
  });
});
