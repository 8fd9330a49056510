// attnc/webgpu: every argument of createRunner and of a run is checked before the GPU is touched, and a bad one is a
// TypeError or RangeError whose message names it (and shows the value's type where that is what is wrong).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createRunner, releaseDevice, requestDevice, type Runner } from "../../src/runtime/index.js";
import { compileOne, exampleSource } from "../exec/support.js";

afterAll(() => releaseDevice());

const sizes = { B: 1, H: 2, N: 19 };
const count = 1 * 2 * 19 * 16;
const filled = (n: number) => Float32Array.from({ length: n }, (_, x) => Math.sin(x));
const good = { q: filled(count), k: filled(count), v: filled(count), W: 4 };

/** The real device, with createBuffer, writeBuffer and submit counted: a rejected call must not reach any of them. */
let gpuCalls = 0;
let device: GPUDevice;
const counted = (target: object, names: string[]) =>
  new Proxy(target, {
    get(t, p) {
      const v = Reflect.get(t, p);
      if (p === "queue") return counted(v as object, ["writeBuffer", "submit"]);
      if (typeof v !== "function") return v;
      return names.includes(p as string) ? (...args: unknown[]) => (gpuCalls++, v.apply(t, args)) : v.bind(t);
    },
  });

let sliding: Runner;
let documents: Runner;
beforeAll(async () => {
  device = counted((await requestDevice()).device, ["createBuffer"]) as GPUDevice;
  sliding = await createRunner(compileOne(exampleSource("sliding-window.attn"), { defines: { D: 16 }, schedule: "fused" }), { device });
  documents = await createRunner(compileOne(exampleSource("cross-attention.attn"), { defines: { D: 16 }, schedule: "fused" }), { device });
});

type Bad = { readonly name: string; readonly inputs: unknown; readonly sizes?: unknown; readonly error: typeof TypeError | typeof RangeError; readonly message: RegExp };

const bad: Bad[] = [
  // inputs and sizes themselves
  { name: "null inputs", inputs: null, error: TypeError, message: /inputs must be an object of tensors and scalars by name \(q, k, v, W\), got null/ },
  { name: "array inputs", inputs: [good.q], error: TypeError, message: /inputs must be an object .*, got an array of 1 elements/ },
  { name: "string inputs", inputs: "q", error: TypeError, message: /inputs must be an object .*, got the string "q"/ },
  { name: "null sizes", inputs: good, sizes: null, error: TypeError, message: /sizes must be an object of sizes by name, e\.g\. \{ B: 64, H: 64, N: 64 \}, got null/ },
  { name: "a number for sizes", inputs: good, sizes: 19, error: TypeError, message: /sizes must be an object .*, got the number 19/ },
  // sizes
  { name: "a size as a string", inputs: good, sizes: { ...sizes, N: "19" }, error: TypeError, message: /size `N` must be a number, got the string "19"/ },
  { name: "a size as a bigint", inputs: good, sizes: { ...sizes, N: 19n }, error: TypeError, message: /size `N` must be a number, got the bigint 19n/ },
  { name: "a NaN size", inputs: good, sizes: { ...sizes, N: NaN }, error: RangeError, message: /size `N` must be a non-negative integer below 2\^31, got NaN/ },
  { name: "a fractional size", inputs: good, sizes: { ...sizes, N: 18.5 }, error: RangeError, message: /size `N` must be a non-negative integer below 2\^31, got 18\.5/ },
  { name: "a negative size", inputs: good, sizes: { ...sizes, H: -2 }, error: RangeError, message: /size `H` must be a non-negative integer/ },
  { name: "a size of 2^31", inputs: good, sizes: { ...sizes, B: 2 ** 31 }, error: RangeError, message: /size `B` must be a non-negative integer below 2\^31, got 2147483648/ },
  { name: "a missing size", inputs: good, sizes: { B: 1, N: 19 }, error: TypeError, message: /size `H` is missing \(the kernel's sizes: B, H, N\)/ },
  { name: "an unknown size", inputs: good, sizes: { ...sizes, NN: 19 }, error: TypeError, message: /unknown size `NN`: did you mean `N`\? \(the kernel's sizes: B, H, N\)/ },
  { name: "a const given as a size", inputs: good, sizes: { ...sizes, D: 16 }, error: TypeError, message: /`D` is a compile-time const \(16\), not a run-time size/ },
  // sizes past the device's limits
  { name: "buffers past maxStorageBufferBindingSize", inputs: {}, sizes: { B: 1, H: 2 ** 20, N: 2 ** 20 }, error: RangeError, message: /tensor `q` \(bf16\[B=1, H=1048576, N=1048576, D=16\], 17592186044416 elements\) needs \d+ bytes, more than this device's maxStorageBufferBindingSize \(\d+ bytes\)/ },
  // input names
  { name: "an unknown input", inputs: { ...good, qq: filled(3) }, error: TypeError, message: /unknown input `qq`: did you mean `q`\? \(the kernel takes q, k, v, W\)/ },
  { name: "an output given as an input", inputs: { ...good, o: filled(count) }, error: TypeError, message: /`o` is an output, not an input/ },
  { name: "a missing tensor", inputs: { ...good, k: undefined }, error: TypeError, message: /tensor `k` is missing \(bf16\[B=1, H=2, N=19, D=16\]: a Float32Array .* of 608 elements\)/ },
  // tensor kinds and lengths
  { name: "a string tensor", inputs: { ...good, q: "abc" }, error: TypeError, message: /tensor `q` must be a Float32Array \(or a Float64Array or array of numbers\), got the string "abc"/ },
  { name: "an array-like object", inputs: { ...good, q: { length: count } }, error: TypeError, message: /tensor `q` must be a Float32Array .*, got an object/ },
  { name: "a number for a tensor", inputs: { ...good, v: 1 }, error: TypeError, message: /tensor `v` must be a Float32Array .*, got the number 1/ },
  { name: "an Int32Array for a float tensor", inputs: { ...good, q: new Int32Array(count) }, error: TypeError, message: /tensor `q` must be a Float32Array .*, got an Int32Array of 608 elements/ },
  { name: "a Uint8Array", inputs: { ...good, q: new Uint8Array(count) }, error: TypeError, message: /tensor `q` must be a Float32Array .*, got a Uint8Array/ },
  { name: "an array of strings", inputs: { ...good, q: Array.from({ length: count }, () => "1") }, error: TypeError, message: /tensor `q`: element 0 must be a number \(or pass a Float32Array\), got the string "1"/ },
  { name: "a short tensor", inputs: { ...good, q: filled(count - 1) }, error: RangeError, message: /tensor `q` has 607 elements, but bf16\[B=1, H=2, N=19, D=16\] needs 608: check the sizes \(B=1, H=2, N=19\)/ },
  { name: "a long tensor", inputs: { ...good, v: new Array(count + 1).fill(0) }, error: RangeError, message: /tensor `v` has 609 elements, but bf16\[B=1, H=2, N=19, D=16\] needs 608/ },
  // scalars
  { name: "a missing scalar", inputs: { ...good, W: undefined }, error: TypeError, message: /scalar `W` \(i32\) must be a number, and is missing/ },
  { name: "a string scalar", inputs: { ...good, W: "4" }, error: TypeError, message: /scalar `W` \(i32\) must be a number, got the string "4"/ },
  { name: "a fractional i32 scalar", inputs: { ...good, W: 4.5 }, error: RangeError, message: /scalar `W` \(i32\) must be an integer from -2\^31 to 2\^31 - 1, got 4\.5/ },
  { name: "an i32 scalar out of range", inputs: { ...good, W: 2 ** 31 }, error: RangeError, message: /scalar `W` \(i32\) must be an integer .*, got 2147483648/ },
  { name: "a NaN i32 scalar", inputs: { ...good, W: NaN }, error: RangeError, message: /scalar `W` \(i32\) must be an integer/ },
];

describe("a run's arguments", () => {
  it.each(bad)("rejects $name with an error naming it, before any GPU work", async (b) => {
    const { inputs, error, message } = b;
    const given = "sizes" in b ? b.sizes : sizes;
    const before = gpuCalls;
    const call = () => sliding.bind(inputs as never, given as never);
    expect(call).toThrow(error);
    expect(call).toThrow(message);
    await expect(sliding(inputs as never, given as never)).rejects.toThrow(message);
    expect(gpuCalls).toBe(before);
  });

  it("checks i32 tensors: an Int32Array as it is, other arrays only with integers in range", async () => {
    const s = { B: 2, H: 1, N: 5, M: 7 };
    const n = 2 * 5 * 16;
    const m = 2 * 7 * 16;
    const inputs = { q: filled(n), k: filled(m), v: filled(m), klen: Int32Array.from([3, 7]) };
    const before = gpuCalls;
    for (const [klen, pattern] of [
      [Float64Array.from([3, 7.5]), /tensor `klen`: element 1 must be an integer in the i32 range \(or pass an Int32Array\), got the number 7\.5/],
      [[3, 2 ** 31], /tensor `klen`: element 1 must be an integer in the i32 range/],
      [new Uint32Array(2), /tensor `klen` must be an Int32Array \(or a Float64Array or array of integers\), got a Uint32Array/],
      [Int32Array.from([3]), /tensor `klen` has 1 elements, but i32\[B=2\] needs 2/],
    ] as const) {
      expect(() => documents.bind({ ...inputs, klen } as never, s)).toThrow(pattern);
    }
    expect(gpuCalls).toBe(before);
    const out = await documents({ ...inputs, klen: [3, 7] }, s);
    const again = await documents(inputs, s);
    expect(Array.from(out.o)).toEqual(Array.from(again.o));
  });

  it("rejects a query size that needs more workgroups than one dispatch has, naming it", async () => {
    // Head dim 4, so that the buffers of 4M queries stay within lavapipe's 128 MiB.
    const narrow = await createRunner(compileOne(exampleSource("causal.attn"), { defines: { D: 4 }, schedule: "fused" }), { device });
    const stage = narrow.layout.stages.find((x) => x.dispatch.kind === "tiles")!;
    const blockQ = (stage.dispatch as { blockQ: number }).blockQ;
    const n = 65535 * blockQ + 1;
    const before = gpuCalls;
    expect(() => narrow.bind({}, { B: 1, H: 1, N: n })).toThrow(RangeError);
    expect(() => narrow.bind({}, { B: 1, H: 1, N: n })).toThrow(new RegExp(`size \`N\` = ${n} needs 65536 query tiles of ${blockQ}, more than a dispatch's 65535 workgroups along x`));
    expect(gpuCalls).toBe(before);
  });

  it("still runs good inputs, as Float32Array, Float64Array or arrays of numbers alike", async () => {
    const a = await sliding(good, sizes);
    const b = await sliding({ q: Float64Array.from(good.q), k: Array.from(good.k), v: good.v, W: 4 }, sizes);
    expect(a.o.some((x) => x !== 0)).toBe(true);
    expect(Array.from(b.o)).toEqual(Array.from(a.o));
  });

  it("takes NaN and infinities in a Float64Array or an array of numbers as a Float32Array holds them (language §7 says what they give)", async () => {
    const k = Float32Array.from(good.k, (x, n) => (n === 3 ? -Infinity : n === 40 ? Infinity : n === 77 ? NaN : x));
    const a = await sliding({ ...good, k }, sizes);
    const b = await sliding({ ...good, k: Float64Array.from(k) }, sizes);
    const c = await sliding({ ...good, k: Array.from(k) }, sizes);
    expect(a.o.some(Number.isNaN)).toBe(true);
    expect(Array.from(b.o)).toEqual(Array.from(a.o));
    expect(Array.from(c.o)).toEqual(Array.from(a.o));
  });
});

describe("createRunner's arguments", () => {
  const kernel = () => compileOne(exampleSource("causal.attn"), { defines: { D: 16 }, schedule: "fused" });
  it.each([
    { name: "null kernel", args: [null], message: /createRunner: the kernel must be an object \{ manifest, wgsl \}.*, got null/ },
    { name: "a kernel without a manifest", args: [{ wgsl: "" }], message: /kernel\.manifest must be a kernel's manifest \(NAME\.json\), got undefined/ },
    { name: "a manifest as a string", args: [{ manifest: "{}" }], message: /kernel\.manifest must be a kernel's manifest .*, got the string "\{\}"/ },
    { name: "null options", args: ["kernel", null], message: /createRunner: options must be an object \(\{ device\?: GPUDevice \}\), got null/ },
    { name: "a string device", args: ["kernel", { device: "gpu" }], message: /options\.device must be a GPUDevice .*, got the string "gpu"/ },
    { name: "an adapter-like object for a device", args: ["kernel", { device: { requestDevice() {} } }], message: /options\.device must be a GPUDevice .*, got an object/ },
    { name: "an unknown option", args: ["kernel", { devices: 1 }], message: /unknown option `devices`: did you mean `device`\?/ },
    { name: "a fractional guardWords", args: ["kernel", { guardWords: 1.5 }], message: /options\.guardWords must be an integer from 0 to 2\^20, got the number 1\.5/ },
  ])("rejects $name with an error naming it", async ({ args, message }) => {
    const real = args.map((a) => (a === "kernel" ? kernel() : a));
    const error = await (createRunner as (...a: unknown[]) => Promise<unknown>)(...real).then(() => undefined, (e: unknown) => e);
    expect(error).toBeInstanceOf(/guardWords/.test(message.source) ? RangeError : TypeError);
    expect((error as Error).message).toMatch(message);
  });
});
