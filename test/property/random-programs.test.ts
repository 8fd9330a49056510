// Random programs, property-tested: random well-typed attention variants and random naive programs, at random ragged
// sizes (N != M, empty sequences, no batch, fully masked rows), with random inputs (large logits too) and non-finite
// scores and sinks. The float64 interpreter, the float32 fused CPU executor, and the WGSL kernels (fused and naive)
// on lavapipe must agree (NaN equal to NaN, infinities by sign), with every guard region around the GPU buffers intact.
// A failure shows the shrunk program, its sizes, and which check failed.
import fc from "fast-check";
import { afterAll, describe, it } from "vitest";
import type { CompiledKernel } from "../../src/compile.js";
import { executePlan } from "../../src/interp/execute-plan.js";
import { interpret } from "../../src/interp/interpret.js";
import { createRunner, releaseDevice } from "../../src/runtime/index.js";
import { randomArgs, rng } from "../support/programs.js";
import { disagreement, errorsOf, runs, seed, showDiagnostics, tryCompile } from "../support/property.js";

afterAll(() => releaseDevice());
console.log(`property random programs: seed ${seed} (PROPERTY_SEED), scale ${runs(1)} (PROPERTY_RUNS)`);

/** The largest error, relative to the largest finite |reference| of an output, by its storage type. */
const tolerance = { f32: 2e-4, f16: 4e-3 } as const;

type Sizes = Record<string, number>;
/** One set of sizes and inputs for a program. */
type Inputs = { sizes: Sizes; scalars: Record<string, number>; seed: number; scale: number; tile: { blockQ: number; blockK: number }; sinks?: number; lengths?: number[] };
/** A program and the inputs it runs on (one compile and one GPU pipeline for all of them: lavapipe compiles slowly). */
type Case = { source: string; inputs: Inputs[] };

/** The first check that fails for a case, in words; undefined when every executor agrees with the interpreter. */
async function firstFailure(c: Case): Promise<string | undefined> {
  const kernels: Record<"auto" | "naive", CompiledKernel | undefined> = { auto: undefined, naive: undefined };
  for (const schedule of ["auto", "naive"] as const) {
    const a = tryCompile(c.source, { target: "wgsl", schedule, fileName: "random.attn" });
    if (a.thrown !== undefined) return `compile (${schedule}) threw ${a.thrown}`;
    if (errorsOf(a.result!).length > 0) return `compile (${schedule}) reported errors on a valid program: ${showDiagnostics(a.result!)}`;
    kernels[schedule] = a.result!.kernels[0];
    if (kernels[schedule]?.wgsl === undefined) return `compile (${schedule}) gave no WGSL`;
  }
  const kernel = kernels.auto!.checked;
  const runners: Partial<Record<"auto" | "naive", Awaited<ReturnType<typeof createRunner>>>> = {};
  for (const [x, input] of c.inputs.entries()) {
    const where = `inputs ${x}: ${showInputs(input)}`;
    const sizes = Object.fromEntries(kernel.sizes.map((s) => [s, input.sizes[s]]));
    const args = randomArgs(kernel, sizes, rng(input.seed), { scale: input.scale, scalars: input.scalars });
    if (input.sinks !== undefined && args.sinks instanceof Float64Array) args.sinks.fill(input.sinks, 0, 1);
    const klen = args.klen;
    if (input.lengths !== undefined && klen instanceof Float64Array) input.lengths.forEach((n, y) => y < klen.length && (klen[y] = n));
    let want: Record<string, Float64Array>;
    try {
      want = interpret(kernel, args, sizes);
    } catch (e) {
      return `the interpreter threw ${e instanceof Error ? e.message.slice(0, 300) : String(e)} (${where})`;
    }
    const compareAll = (label: string, got: Record<string, ArrayLike<number>>) => {
      for (const t of kernel.outputs) {
        const why = disagreement(got[t.name] ?? [], want[t.name], tolerance[t.dtype as "f32" | "f16"] ?? 0);
        if (why !== undefined) return `${label} disagrees with the float64 interpreter on \`${t.name}\` (${t.dtype}) ${why} (${where})`;
      }
      return undefined;
    };
    // Every executor's verdict on the first failing inputs, so that the message says which of them disagree.
    const problems: string[] = [];
    try {
      const cpu = compareAll(`the float32 executor (${kernels.auto!.plan.schedule} plan)`, executePlan(kernels.auto!.plan, args, sizes, input.tile).outputs);
      if (cpu !== undefined) problems.push(cpu);
    } catch (e) {
      problems.push(`the float32 executor threw ${e instanceof Error ? e.message.slice(0, 300) : String(e)} (${where})`);
    }
    for (const schedule of ["auto", "naive"] as const) {
      const k = kernels[schedule]!;
      const label = `WGSL ${schedule === "auto" ? `(${k.wgslPlan?.schedule ?? k.plan.schedule} schedule)` : "naive"} on lavapipe`;
      try {
        runners[schedule] ??= await createRunner(k, { guardWords: 64 });
        const bad = compareAll(label, await runners[schedule]!(args, sizes));
        if (bad !== undefined) problems.push(bad);
      } catch (e) {
        problems.push(`${label} failed: ${e instanceof Error ? e.message.slice(0, 400) : String(e)} (${where})`);
      }
    }
    if (problems.length > 0) return problems.join("\n");
  }
  return undefined;
}

const showInputs = (i: Inputs) =>
  `sizes ${JSON.stringify(i.sizes)}, scalars ${JSON.stringify(i.scalars)}, input seed ${i.seed}, scale ${i.scale}, tile ${i.tile.blockQ}x${i.tile.blockK}` +
  `${i.sinks !== undefined ? `, sinks[0] = ${i.sinks}` : ""}${i.lengths !== undefined ? `, klen = ${JSON.stringify(i.lengths)}` : ""}`;

/** Runs a property over cases; the shrunk counterexample's program, sizes and failing check become the message. */
async function check(arbitrary: fc.Arbitrary<Case>, numRuns: number, offset: number): Promise<void> {
  await fc.assert(
    fc.asyncProperty(arbitrary, async (c) => {
      const why = await firstFailure(c);
      if (why !== undefined) throw new Error(`${why}\n${c.source}`);
    }),
    { seed: seed + offset, numRuns, interruptAfterTimeLimit: 45_000, markInterruptAsFailure: false },
  );
}

// Attention variants.

const masks = [
  "j <= i", "j <= i && j > i - W", "i / 8 == j / 8", "j < klen[b]", "j >= i", "(i + j) % 3 != 0", "abs(i - j) <= W",
  "j <= i + M - N", "j < klen[b] && j <= i", "j > i - W || j < 2", "j > M", "i < N - 1 && j < M - 1", "j - i < 4",
  // Masks on the score itself: no tile can be classified full or empty by them.
  "s0[b, h, i, j] > -1.0", "s0[b, h, i, j] < 2.0 || j == 0",
];
const finiteMods = [
  "s", "s * 0.5", "s + slopes[h] * (j - i)", "cap * tanh(s / cap)", "s + rel[h, clamp(j - i + 4, 0, 8)]", "s - 0.01 * abs(i - j)",
  "s * scale + bias[b, i]", "(i > j ? s * 2 : s)", "where(j % 2 == 0, s, s - 1)", "min(s, 3.0) + max(s, -3.0)",
  "where(s > 0, s, -inf)",
];
/** Scores that are +inf, -inf or NaN somewhere. */
const nonFiniteMods = ["where(j % 3 != 0, s, inf)", "s / 0", "where(j == 0, (s - s) / 0, s)", "where(i == j, -inf, s)", "where(j == 1, inf, s) - where(j == 2, inf, 0)"];

type Variant = { mask?: string; cond: boolean; mod: string; normaliser: "softmax" | "sink" | "sigmoid"; lse: boolean; gqa: boolean; dtype: "f32" | "f16" };

function attentionProgram(v: Variant): string {
  const kv = v.gqa ? "h / G" : "h";
  const heads = v.gqa ? "HK" : "H";
  const modded = v.mod.replaceAll(/\bs\b/g, "s0[b, h, i, j]");
  const masked = v.mask === undefined ? modded : v.cond ? `(${v.mask}) ? ${modded} : -inf` : `where(${v.mask}, ${modded}, -inf)`;
  const p = v.normaliser === "sigmoid" ? `sigmoid(a[b, h, i, j])` : v.normaliser === "sink" ? `softmax[j](a[b, h, i, j], sink: sinks[h])` : `softmax[j](a[b, h, i, j])`;
  const lse = v.lse && v.normaliser !== "sigmoid";
  const t = v.dtype;
  return `const D = 8
kernel variant(q: ${t}[B, H, N, D], k: ${t}[B, ${heads}, M, D], v: ${t}[B, ${heads}, M, D], slopes: f32[H], rel: f32[H, 9], sinks: f32[H],
               bias: f32[B, N], klen: i32[B], W: i32, ${v.gqa ? "G: i32, " : ""}cap: f32, scale: f32)
    -> (o: ${t}[B, H, N, D]${lse ? ", lse: f32[B, H, N]" : ""}) {
  s0[b, h, i, j] = sum[d](q[b, h, i, d] * k[b, ${kv}, j, d])
  a[b, h, i, j] = ${masked}
  o[b, h, i, e] = sum[j](${p} * v[b, ${kv}, j, e])
${lse ? "  lse[b, h, i] = logsumexp[j](a[b, h, i, j])\n" : ""}}
`;
}

/** A length, mostly small and often at an edge (0, 1, a tile boundary). */
const length = (max: number) => fc.oneof({ arbitrary: fc.constantFrom(0, 1, 2, 15, 16, 17), weight: 1 }, { arbitrary: fc.integer({ min: 0, max }), weight: 3 });

const variant = (mods: readonly string[]): fc.Arbitrary<Variant> =>
  fc.record({
    mask: fc.option(fc.constantFrom(...masks), { nil: undefined, freq: 3 }),
    cond: fc.boolean(),
    mod: fc.constantFrom(...mods),
    normaliser: fc.constantFrom("softmax" as const, "sink" as const, "sigmoid" as const),
    lse: fc.boolean(),
    gqa: fc.boolean(),
    dtype: fc.constantFrom("f32" as const, "f32" as const, "f16" as const),
  });

const attentionInputs = (v: Variant, options: { degenerate?: boolean; sinks?: readonly number[] }): fc.Arbitrary<Inputs> =>
  fc
    .record({
      B: options.degenerate ? fc.constantFrom(0, 1, 2) : fc.integer({ min: 1, max: 2 }),
      HK: fc.integer({ min: 1, max: 2 }),
      G: fc.integer({ min: 1, max: 2 }),
      N: options.degenerate ? length(40) : fc.integer({ min: 1, max: 40 }),
      M: options.degenerate ? length(40) : fc.integer({ min: 1, max: 40 }),
      W: fc.integer({ min: 1, max: 10 }),
      cap: fc.double({ min: 1, max: 20, noNaN: true }),
      scale: fc.constantFrom(1, 1, 30),
      seed: fc.integer({ min: 1, max: 2 ** 30 }),
      blockQ: fc.integer({ min: 1, max: 20 }),
      blockK: fc.integer({ min: 1, max: 20 }),
      sinks: options.sinks !== undefined ? fc.constantFrom(...options.sinks) : fc.constant(undefined),
      lengths: fc.option(fc.array(fc.integer({ min: 0, max: 41 }), { minLength: 2, maxLength: 2 }), { nil: undefined }),
    })
    .map((r): Inputs => ({
      sizes: { B: r.B, H: v.gqa ? r.HK * r.G : r.HK, HK: r.HK, N: r.N, M: r.M },
      scalars: { G: r.G, W: r.W, cap: r.cap, scale: 0.5 },
      seed: r.seed,
      scale: r.scale,
      tile: { blockQ: r.blockQ, blockK: r.blockK },
      ...(r.sinks !== undefined && v.normaliser === "sink" ? { sinks: r.sinks } : {}),
      ...(r.lengths !== undefined && v.mask?.includes("klen") ? { lengths: r.lengths } : {}),
    }));

/** An attention variant and three sets of sizes and inputs for it. */
const attentionCase = (mods: readonly string[], options: { degenerate?: boolean; sinks?: readonly number[]; sink?: boolean } = {}) =>
  variant(mods)
    .map((v) => (options.sink ? { ...v, normaliser: "sink" as const } : v))
    .chain((v) => fc.array(attentionInputs(v, options), { minLength: 1, maxLength: 3 }).map((inputs): Case => ({ source: attentionProgram(v), inputs })));

// Naive programs: random element-wise expressions and reductions over a row.

const comparisons = ["x[i, j] < y[j]", "i <= j", "(i + j) % 3 == 0", "idx[i] > j", "z[i] > 0.0 && j < t", "!(x[i, j] >= z[i]) || i == 0"];
const { rowExpr } = fc.letrec<{ rowExpr: string }>((tie) => ({
  rowExpr: fc.oneof(
    { depthSize: "small", maxDepth: 4 },
    fc.constantFrom("x[i, j]", "y[j]", "z[i]", "c", "0.5", "2", "(i - j)", "t", "u[i, j]"),
    fc.tuple(fc.constantFrom("-", "tanh", "abs", "sigmoid", "expneg", "sqrtabs", "log1abs"), tie("rowExpr")).map(([f, e]) =>
      f === "-" ? `-(${e})` : f === "expneg" ? `exp(-abs(${e}))` : f === "sqrtabs" ? `sqrt(abs(${e}))` : f === "log1abs" ? `log(1 + abs(${e}))` : `${f}(${e})`),
    fc.tuple(tie("rowExpr"), fc.constantFrom("+", "-", "*", "/", "min", "max"), tie("rowExpr")).map(([l, op, r]) =>
      op === "/" ? `(${l}) / (1 + abs(${r}))` : op === "min" || op === "max" ? `${op}(${l}, ${r})` : `(${l} ${op} ${r})`),
    fc.tuple(fc.boolean(), fc.constantFrom(...comparisons), tie("rowExpr"), tie("rowExpr")).map(([w, c, a, b]) => (w ? `where(${c}, ${a}, ${b})` : `((${c}) ? ${a} : ${b})`)),
  ),
}));
const naiveProgram = fc
  .record({
    u: rowExpr,
    o2: rowExpr,
    reduce: fc.constantFrom("sum", "max", "min", "logsumexp", "softmax"),
    row: rowExpr,
    tail: fc.constantFrom("z[i]", "c", "0", "idx[i]", "sqrt(abs(z[i]))"),
  })
  .map(({ u, o2, reduce, row, tail }) => {
    // Each body reads x[i, j], which gives j its extent.
    const body = `x[i, j] + ${row}`;
    const reduced = reduce === "softmax" ? `sum[j](softmax[j](${body}) * y[j])` : `${reduce}[j](${body})`;
    return `kernel rows(x: f32[N, M], y: f32[M], z: f32[N], idx: i32[N], c: f32, t: i32) -> (o1: f32[N], o2: f32[N, M]) {
  u[i, j] = x[i, j] - ${u.replaceAll("u[i, j]", "x[i, j]")}
  o2[i, j] = ${o2}
  o1[i] = ${reduced} + ${tail}
}
`;
  });
const naiveInputs: fc.Arbitrary<Inputs> = fc
  .record({ N: length(30), M: length(30), c: fc.double({ min: -2, max: 2, noNaN: true }), t: fc.integer({ min: -3, max: 30 }), seed: fc.integer({ min: 1, max: 2 ** 30 }), scale: fc.constantFrom(1, 4) })
  .map((r): Inputs => ({ sizes: { N: r.N, M: r.M }, scalars: { c: r.c, t: r.t }, seed: r.seed, scale: r.scale, tile: { blockQ: 4, blockK: 4 } }));
const naiveCase = fc.record({ source: naiveProgram, inputs: fc.array(naiveInputs, { minLength: 1, maxLength: 3 }) });

describe("random programs: interpreter, float32 executor, WGSL fused and naive agree", () => {
  it("attention variants with finite scores, ragged sizes and large logits", async () => {
    await check(attentionCase(finiteMods), runs(10), 1);
  }, 600_000);

  it("attention variants at degenerate sizes (N = 0, M = 0, B = 0, fully masked rows)", async () => {
    await check(attentionCase(finiteMods, { degenerate: true }), runs(5), 2);
  }, 600_000);

  // One property per kind of non-finite score and sink, so that each kind's counterexample is found.
  it.each(nonFiniteMods)("attention variants with the non-finite score `%s`", async (mod) => {
    await check(attentionCase([mod], { degenerate: true }), runs(3), 3 + nonFiniteMods.indexOf(mod));
  }, 600_000);

  it.each([Infinity, -Infinity, NaN, 1e30])("attention variants with a sink of %d", async (sink) => {
    await check(attentionCase(finiteMods, { sinks: [sink], sink: true }), runs(2), 10);
  }, 600_000);

  it("naive programs: random element-wise expressions and row reductions", async () => {
    await check(naiveCase, runs(15), 5);
  }, 600_000);
});
