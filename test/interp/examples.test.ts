// Every example, run by the interpreter at small sizes, against a direct loop-by-loop computation of the variant
// written here independently (and, for one, numbers worked out by hand).
import { describe, expect, it } from "vitest";
import { readFileSync, readdirSync } from "node:fs";
import { checked, rng } from "../support/programs.js";
import { interpret } from "../../src/interp/interpret.js";
import { roundTo } from "../../src/interp/dtype.js";
import type { DType } from "../../src/syntax/ast.js";
import { extentValueOf } from "../../src/check/typed.js";

type Sizes = Record<string, number>;
type Args = Record<string, Float64Array | number>;
const D = 4;

/** o[b,h,i,e] = sum_j P(score(b,h,i,j)) v[.., j, e] with P a softmax over j (optionally with a sink) or sigmoid. */
function attention(
  sizes: { B: number; H: number; N: number; M: number },
  q: (b: number, h: number, i: number, d: number) => number,
  k: (b: number, h: number, j: number, d: number) => number,
  v: (b: number, h: number, j: number, e: number) => number,
  score: (s: number, b: number, h: number, i: number, j: number) => number,
  normaliser: "softmax" | "sigmoid" = "softmax",
  sink?: (h: number) => number,
) {
  const { B, H, N, M } = sizes;
  const o = new Float64Array(B * H * N * D);
  const lse = new Float64Array(B * H * N);
  for (let b = 0; b < B; b++) for (let h = 0; h < H; h++) for (let i = 0; i < N; i++) {
    const s: number[] = [];
    for (let j = 0; j < M; j++) {
      let dot = 0;
      for (let d = 0; d < D; d++) dot += q(b, h, i, d) * k(b, h, j, d);
      s.push(score(dot / Math.sqrt(D), b, h, i, j));
    }
    let p: number[];
    const max = Math.max(-Infinity, ...s);
    lse[(b * H + h) * N + i] = max === -Infinity ? -Infinity : max + Math.log(s.reduce((a, x) => a + Math.exp(x - max), 0));
    if (normaliser === "sigmoid") p = s.map((x) => 1 / (1 + Math.exp(-x)));
    else {
      const top = Math.max(max, sink ? sink(h) : -Infinity);
      const denominator = s.reduce((a, x) => a + Math.exp(x - top), 0) + (sink ? Math.exp(sink(h) - top) : 0);
      p = s.map((x) => (top === -Infinity ? 0 : Math.exp(x - top) / denominator));
    }
    for (let e = 0; e < D; e++) o[((b * H + h) * N + i) * D + e] = p.reduce((a, pj, j) => a + pj * v(b, h, j, e), 0);
  }
  return { o, lse };
}

const at = (a: Float64Array, dims: number[]) => (...ix: number[]) => a[ix.reduce((f, x, k) => f * dims[k] + x, 0)];

function setup(file: string, sizes: Sizes, scalars: Record<string, number> = {}, ints: Record<string, number[]> = {}) {
  const kernel = checked(readFileSync(`examples/${file}`, "utf8"), { D });
  const random = rng(file.length * 7 + 1);
  const args: Args = {};
  const dims = (name: string) => kernel.inputs.find((t) => t.name === name)!.dims.map((x) => extentValueOf(x, (name) => sizes[name]));
  for (const t of kernel.inputs) {
    const count = dims(t.name).reduce((a, b) => a * b, 1);
    args[t.name] = t.dtype === "i32" ? Float64Array.from(ints[t.name]) : Float64Array.from({ length: count }, () => roundTo(t.dtype as DType, random() * 4 - 2));
  }
  Object.assign(args, scalars);
  const out = interpret(kernel, args, sizes);
  const get = (name: string) => at(args[name] as Float64Array, dims(name));
  return { out, get, args };
}

function close(got: Float64Array, want: Float64Array) {
  expect(got.length).toBe(want.length);
  for (let x = 0; x < want.length; x++) {
    if (!Number.isFinite(want[x]) || want[x] === 0) expect(got[x]).toBe(want[x]);
    else expect(Math.abs(got[x] - want[x])).toBeLessThan(1e-9 * Math.max(1, Math.abs(want[x])));
  }
}

const causal = (s: number, _b: number, _h: number, i: number, j: number) => (j <= i ? s : -Infinity);

describe("the interpreter on every example", () => {
  it("covers every example file", () => {
    const files = readdirSync("examples").filter((f) => f.endsWith(".attn")).sort();
    expect(files.length).toBeGreaterThanOrEqual(12);
    expect(files.filter((f) => !tested.has(f))).toEqual([]);
  });

  const tested = new Set<string>();
  const example = (file: string, body: () => void) => {
    tested.add(file);
    it(file, body);
  };

  example("full.attn", () => {
    const sizes = { B: 2, H: 2, N: 3, M: 5 };
    const { out, get } = setup("full.attn", sizes);
    close(out.o, attention(sizes, get("q"), get("k"), get("v"), (s) => s).o);
  });

  example("causal.attn", () => {
    const sizes = { B: 1, H: 2, N: 5 };
    const { out, get } = setup("causal.attn", sizes);
    close(out.o, attention({ ...sizes, M: 5 }, get("q"), get("k"), get("v"), causal).o);
  });

  example("sliding-window.attn", () => {
    const sizes = { B: 1, H: 2, N: 6 };
    const { out, get } = setup("sliding-window.attn", sizes, { W: 2 });
    close(out.o, attention({ ...sizes, M: 6 }, get("q"), get("k"), get("v"), (s, _b, _h, i, j) => (j <= i && j > i - 2 ? s : -Infinity)).o);
    // W = 0 masks every key: each row is fully masked and gives exactly 0.
    const empty = setup("sliding-window.attn", sizes, { W: 0 });
    expect([...empty.out.o].every((x) => x === 0)).toBe(true);
  });

  example("alibi.attn", () => {
    const sizes = { B: 1, H: 3, N: 4, M: 6 };
    const { out, get } = setup("alibi.attn", sizes);
    const slopes = get("slopes");
    close(out.o, attention(sizes, get("q"), get("k"), get("v"), (s, _b, h, i, j) => (j <= i ? s + slopes(h) * (j - i) : -Infinity)).o);
  });

  example("softcap.attn", () => {
    const sizes = { B: 1, H: 2, N: 5 };
    const { out, get } = setup("softcap.attn", sizes, { cap: 0.5 });
    close(out.o, attention({ ...sizes, M: 5 }, get("q"), get("k"), get("v"), (s, _b, _h, i, j) => (j <= i ? 0.5 * Math.tanh(s / 0.5) : -Infinity)).o);
  });

  example("document-mask.attn", () => {
    const sizes = { B: 2, H: 1, N: 6 };
    const doc = [0, 0, 1, 1, 1, 2, 0, 1, 1, 2, 2, 2];
    const { out, get } = setup("document-mask.attn", sizes, {}, { doc });
    close(out.o, attention({ ...sizes, M: 6 }, get("q"), get("k"), get("v"), (s, b, _h, i, j) => (doc[b * 6 + i] === doc[b * 6 + j] && j <= i ? s : -Infinity)).o);
  });

  example("prefix-lm.attn", () => {
    const sizes = { B: 2, H: 1, N: 5 };
    const prefix = [3, 0];
    const { out, get } = setup("prefix-lm.attn", sizes, {}, { prefix });
    close(out.o, attention({ ...sizes, M: 5 }, get("q"), get("k"), get("v"), (s, b, _h, i, j) => (j < prefix[b] || j <= i ? s : -Infinity)).o);
  });

  example("gqa.attn", () => {
    const sizes = { B: 1, HKV: 2, G: 2, N: 4 };
    const { out, get } = setup("gqa.attn", sizes);
    const k = get("k");
    const v = get("v");
    close(out.o, attention({ B: 1, H: 4, N: 4, M: 4 }, get("q"), (b, h, j, d) => k(b, Math.floor(h / 2), j, d), (b, h, j, e) => v(b, Math.floor(h / 2), j, e), causal).o);
  });

  example("paged-kv.attn", () => {
    // Three sequences of two pages of 16 tokens from a pool of 5: 20 valid keys, none (every row masked), all 32.
    const sizes = { B: 3, HKV: 2, G: 2, N: 2, T: 2, NP: 5 };
    const pages = [3, 1, 0, 4, 2, 2];
    const lens = [20, 0, 32];
    const { out, get } = setup("paged-kv.attn", sizes, {}, { pages, lens });
    const [kc, vc] = [get("kc"), get("vc")];
    const page = (b: number, j: number) => pages[b * 2 + Math.floor(j / 16)];
    const want = attention({ B: 3, H: 4, N: 2, M: 32 }, get("q"), (b, h, j, d) => kc(page(b, j), j % 16, Math.floor(h / 2), d), (b, h, j, e) => vc(page(b, j), j % 16, Math.floor(h / 2), e), (s, b, _h, _i, j) => (j < lens[b] ? s : -Infinity));
    close(out.o, want.o);
    expect(Array.from(out.o.subarray(4 * 2 * 4, 8 * 2 * 4)).every((x) => x === 0)).toBe(true);
  });

  example("mqa.attn", () => {
    const sizes = { B: 2, H: 3, N: 4 };
    const { out, get } = setup("mqa.attn", sizes);
    const k = get("k");
    const v = get("v");
    close(out.o, attention({ ...sizes, M: 4 }, get("q"), (b, _h, j, d) => k(b, j, d), (b, _h, j, e) => v(b, j, e), causal).o);
  });

  example("sinks-lse.attn", () => {
    const sizes = { B: 1, H: 2, N: 4 };
    const { out, get } = setup("sinks-lse.attn", sizes);
    const sinks = get("sinks");
    const want = attention({ ...sizes, M: 4 }, get("q"), get("k"), get("v"), causal, "softmax", (h) => sinks(h));
    close(out.o, want.o);
    close(out.lse, want.lse);
  });

  example("sigmoid.attn", () => {
    const sizes = { B: 1, H: 2, N: 5 };
    const { out, get } = setup("sigmoid.attn", sizes, { bias: -1.5 });
    close(out.o, attention({ ...sizes, M: 5 }, get("q"), get("k"), get("v"), (s, _b, _h, i, j) => (j <= i ? s - 1.5 : -Infinity), "sigmoid").o);
  });

  example("relative-bias.attn", () => {
    const sizes = { B: 1, H: 2, N: 20 };
    const { out, get } = setup("relative-bias.attn", sizes);
    const rel = get("rel");
    close(out.o, attention({ ...sizes, M: 20 }, get("q"), get("k"), get("v"), (s, _b, h, i, j) => s + rel(h, Math.min(32, Math.max(0, j - i + 16)))).o);
  });

  example("t5-bias.attn", () => {
    // Distances up to 149: every kind of bucket (exact below 16, logarithmic, the last one from 128 on).
    const sizes = { B: 1, H: 2, N: 150 };
    const { out, get } = setup("t5-bias.attn", sizes);
    const rel = get("rel");
    const bucket = (n: number) => (n < 16 ? n : Math.min(16 + Math.trunc((Math.log(n / 16) / Math.log(8)) * 16), 31));
    // T5 does not scale its scores: undo the helper's 1 / sqrt(D).
    const score = (s: number, _b: number, h: number, i: number, j: number) => (j <= i ? s * Math.sqrt(D) + rel(h, bucket(i - j)) : -Infinity);
    close(out.o, attention({ ...sizes, M: 150 }, get("q"), get("k"), get("v"), score).o);
  });

  example("cross-attention.attn", () => {
    const sizes = { B: 3, H: 1, N: 2, M: 5 };
    const klen = [0, 3, 5];
    const { out, get } = setup("cross-attention.attn", sizes, {}, { klen });
    close(out.o, attention(sizes, get("q"), get("k"), get("v"), (s, b, _h, _i, j) => (j < klen[b] ? s : -Infinity)).o);
    // Batch 0 has no key: its rows are fully masked and exactly 0.
    expect([...out.o.slice(0, 2 * D)]).toEqual(new Array(2 * D).fill(0));
  });

  example("chunked.attn", () => {
    const sizes = { B: 1, H: 1, N: 70 };
    const { out, get } = setup("chunked.attn", sizes);
    close(out.o, attention({ ...sizes, M: 70 }, get("q"), get("k"), get("v"), (s, _b, _h, i, j) => (Math.floor(i / 32) === Math.floor(j / 32) && j <= i ? s : -Infinity)).o);
  });

  example("softmax-by-hand.attn", () => {
    const sizes = { B: 2, H: 1, N: 4 };
    const { out, get } = setup("softmax-by-hand.attn", sizes);
    close(out.o, attention({ ...sizes, M: 4 }, get("q"), get("k"), get("v"), causal).o);
  });

  example("gated-epilogue.attn", () => {
    const sizes = { B: 1, H: 2, N: 3 };
    const { out, get } = setup("gated-epilogue.attn", sizes);
    const gate = get("gate");
    const base = attention({ ...sizes, M: 3 }, get("q"), get("k"), get("v"), causal).o;
    close(out.o, base.map((x, n) => x / (1 + Math.exp(-gate(0, Math.floor(n / 12), Math.floor(n / 4) % 3, n % 4)))));
  });

  example("attention-of-attention.attn", () => {
    const sizes = { B: 1, H: 2, N: 4, M: 5 };
    const { out, get } = setup("attention-of-attention.attn", sizes);
    const a = attention({ ...sizes, M: 4 }, get("c"), get("kc"), get("vc"), causal).o;
    close(out.o, attention(sizes, at(a, [1, 2, 4, D]), get("km"), get("vm"), (s) => s).o);
  });

  it("matches numbers worked out by hand", () => {
    // N = M = 2, D = 1, q = [1, 2], k = [1, -1], v = [10, 20], causal, no scale:
    // row 0 sees key 0 only: o = 10. Row 1: scores 2 and -2; p = e^2 / (e^2 + e^-2) = 0.98201379..., o = 10 p + 20 (1 - p).
    const kernel = checked(`kernel tiny(q: f32[N, 1], k: f32[N, 1], v: f32[N, 1]) -> (o: f32[N, 1], lse: f32[N]) {
      s[i, j] = where(j <= i, sum[d](q[i, d] * k[j, d]), -inf)
      o[i, e] = sum[j](softmax[j](s[i, j]) * v[j, e])
      lse[i] = logsumexp[j](s[i, j])
    }`);
    const out = interpret(kernel, { q: [1, 2], k: [1, -1], v: [10, 20] }, { N: 2 });
    const p = 0.9820137900379085;
    expect(out.o[0]).toBe(10);
    expect(out.o[1]).toBeCloseTo(10 * p + 20 * (1 - p), 12);
    expect(out.lse[0]).toBe(1);
    expect(out.lse[1]).toBeCloseTo(Math.log(Math.exp(2) + Math.exp(-2)), 12); // 2.0181499279178094
  });
});
