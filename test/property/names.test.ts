// Names, property-tested: programs whose kernel, tensor, index, size, scalar and const names are replaced by names
// the targets treat specially (C++, CUDA, WGSL and TypeScript keywords, reserved words, builtins, macros and globals,
// the generated code's own identifiers, numbered and very long names) compile without throwing, in under 2 s, with no
// error; their WGSL is accepted by Dawn, their TypeScript wrappers by tsc, a sample of their CUDA by nvcc, and a sample
// runs on WebGPU, fused and naive, equal to the interpreter. A failing case is reduced to one renamed name where one
// alone fails, and the message shows the program.
import fc from "fast-check";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import type { CompiledKernel } from "../../src/compile.js";
import { frontEnd } from "../../src/frontend.js";
import { interpret } from "../../src/interp/interpret.js";
import { createRunner, releaseDevice } from "../../src/runtime/index.js";
import { randomArgs, rng } from "../support/programs.js";
import { cppNames, cudaNames, hazardousNames, languageReserved, renameProgram, showName, userNames } from "../support/names.js";
import { disagreement, errorsOf, nvccErrors, repoRoot, runs, seed, showDiagnostics, tryCompile, typeCheckWrappers, wgslErrors } from "../support/property.js";

afterAll(() => releaseDevice());
console.log(`property names: seed ${seed} (PROPERTY_SEED), scale ${runs(1)} (PROPERTY_RUNS)`);

const example = (file: string) => readFileSync(join(repoRoot, "examples", file), "utf8");

/** The base programs, each with sizes and scalars (by their original names) to run it at. */
const basePrograms: { name: string; source: string; sizes: Record<string, number>; scalars: Record<string, number> }[] = [
  { name: "causal", source: example("causal.attn"), sizes: { B: 1, H: 2, N: 13 }, scalars: {} },
  { name: "alibi", source: example("alibi.attn"), sizes: { B: 1, H: 2, N: 11, M: 17 }, scalars: {} },
  { name: "document-mask", source: example("document-mask.attn"), sizes: { B: 2, H: 1, N: 19 }, scalars: {} },
  { name: "softcap", source: example("softcap.attn"), sizes: { B: 1, H: 2, N: 9 }, scalars: { cap: 3 } },
  { name: "sliding-window", source: example("sliding-window.attn"), sizes: { B: 1, H: 1, N: 21 }, scalars: { W: 5 } },
  { name: "sinks-lse", source: example("sinks-lse.attn"), sizes: { B: 1, H: 2, N: 10 }, scalars: {} },
  {
    name: "naive-only",
    source: `const D = 16
kernel norm_gate(x: f32[B, N, D], w: f32[D], doc: i32[B, N], eps: f32, t: i32) -> (y: f32[B, N, D], r: f32[B, N]) {
  mu[b, n] = sum[d](x[b, n, d]) / D
  va[b, n] = sum[d]((x[b, n, d] - mu[b, n]) * (x[b, n, d] - mu[b, n])) / D
  r[b, n] = rsqrt(va[b, n] + eps)
  y[b, n, d] = where(doc[b, n] == doc[b, clamp(n - t, 0, N - 1)], (x[b, n, d] - mu[b, n]) * r[b, n] * w[d], 0.0)
}
`,
    sizes: { B: 2, N: 7 },
    scalars: { eps: 0.5, t: 1 },
  },
];
const slots = basePrograms.map((p) => userNames(p.source));

type Case = { program: number; renames: Map<string, string> };
const caseSource = (c: Case) => renameProgram(basePrograms[c.program].source, c.renames);
const showCase = (c: Case) =>
  `${basePrograms[c.program].name} with ${[...c.renames].map(([from, to]) => `${from} -> ${showName(to)}`).join(", ")}:\n${caseSource(c).replace(/[A-Za-z_0-9]{41,}/g, showName)}`;
const single = (c: Case, from: string): Case => ({ program: c.program, renames: new Map([[from, c.renames.get(from)!]]) });

// A name every base program uses itself (`B`, `D`, `N`, `b`, `d`) can be no program's fresh name.
const pool = hazardousNames().filter((n) => slots.some((s) => !s.includes(n)));
// Names the examples themselves use may not be the new name of another slot (that would be the user's collision).
const caseOf = (program: number, names: readonly string[]): Case => {
  const taken = new Set(slots[program]);
  const fresh = names.filter((n) => !taken.has(n));
  return { program, renames: new Map(slots[program].flatMap((from, x) => (fresh[x] === undefined ? [] : [[from, fresh[x]] as const]))) };
};

/** Coverage: the pool, shuffled with the seed, dealt out to the programs in turn so that every name is used at least once. */
function coverageCases(): Case[] {
  const random = rng(seed);
  const shuffled = pool.map((n) => [random(), n] as const).sort((a, b) => a[0] - b[0]).map(([, n]) => n);
  const cases: Case[] = [];
  // A name a program uses itself waits for the next program.
  let waiting: string[] = [];
  for (let at = 0, program = 0; at < shuffled.length || waiting.length > 0; program = (program + 1) % basePrograms.length) {
    const taken = new Set(slots[program]);
    const names = waiting.filter((n) => !taken.has(n));
    waiting = waiting.filter((n) => taken.has(n));
    while (names.length < slots[program].length && at < shuffled.length) {
      const n = shuffled[at++];
      if (taken.has(n)) waiting.push(n);
      else names.push(n);
    }
    cases.push(caseOf(program, names.slice(0, slots[program].length)));
    waiting.push(...names.slice(slots[program].length));
  }
  return cases;
}

/** Random cases: any program, its names drawn from the pool (distinct), some names kept. */
const randomCase: fc.Arbitrary<Case> = fc
  .integer({ min: 0, max: basePrograms.length - 1 })
  .chain((program) =>
    fc
      .uniqueArray(fc.option(fc.constantFrom(...pool.filter((n) => !slots[program].includes(n))), { freq: 6 }), {
        minLength: slots[program].length, maxLength: slots[program].length, selector: (n) => n ?? Symbol(),
      })
      .map((names) => ({ program, renames: new Map(slots[program].flatMap((from, x) => (names[x] == null ? [] : [[from, names[x]!] as const]))) })),
  );

const cases = [...coverageCases(), ...fc.sample(randomCase, { seed, numRuns: runs(16) })];

type Built = { c: Case; auto?: CompiledKernel; naive?: CompiledKernel; problem?: string };

/** Compiles a case for every target (its own schedule, and naive WGSL): the first problem, if any. */
function build(c: Case): Built {
  const source = caseSource(c);
  const auto = tryCompile(source, { target: "all", fileName: "names.attn" });
  const naive = tryCompile(source, { target: "wgsl", schedule: "naive", fileName: "names.attn" });
  for (const [label, a] of [["auto", auto], ["naive", naive]] as const) {
    if (a.thrown !== undefined) return { c, problem: `compile (${label}) threw ${a.thrown}` };
    if (a.ms > 2000) return { c, problem: `compile (${label}) took ${a.ms.toFixed(0)} ms` };
    if (errorsOf(a.result!).length > 0) return { c, problem: `compile (${label}) reported errors: ${showDiagnostics(a.result!)}` };
    const k = a.result!.kernels[0];
    if (k === undefined || k.wgsl === undefined || k.ts === undefined || (label === "auto" && k.cuda === undefined)) return { c, problem: `compile (${label}) gave no kernel or no code` };
  }
  return { c, auto: auto.result!.kernels[0], naive: naive.result!.kernels[0] };
}

/**
 * The case, or the first single rename of it that fails alone: the minimal counterexample. Renames whose new name the
 * failure mentions are tried first, and at most `tries` of them.
 */
async function minimise(c: Case, why: string, fails: (c: Case) => Promise<string | undefined>, tries = 6): Promise<{ c: Case; why: string }> {
  if (c.renames.size > 1) {
    // Earliest mention first (compilers name the culprit in their first error), then the longest name.
    const mention = (to: string) => {
      const at = why.search(new RegExp(`(?<![A-Za-z0-9_])${to.slice(0, 200)}`));
      return at < 0 ? Infinity : at;
    };
    const order = [...c.renames].sort(([, a], [, b]) => mention(a) - mention(b) || b.length - a.length).map(([from]) => from);
    for (const from of order.slice(0, tries)) {
      const one = single(c, from);
      const again = await fails(one);
      if (again !== undefined) return { c: one, why: again };
    }
  }
  return { c, why };
}

/** At most this many failing cases are reduced and shown in full; the rest are listed by their names. */
const shownInFull = 6;
const report = (title: string, found: { c: Case; why: string }[]) =>
  found
    .map(({ c, why }, x) =>
      x < shownInFull ? `${title}: ${why}\n  in ${showCase(c)}` : `${title}: ${why.slice(0, 160)} (${basePrograms[c.program].name}: ${[...c.renames.values()].map(showName).join(" ")})`)
    .join("\n\n");
/** Reduces the first failing cases (shownInFull of them); the others keep their first reason. */
async function reduceFirst(failing: { c: Case; why: string }[], fails: (c: Case) => Promise<string | undefined>, tries?: number) {
  const out: { c: Case; why: string }[] = [];
  for (const [x, f] of failing.entries()) out.push(x < shownInFull ? await minimise(f.c, f.why, fails, tries) : f);
  return out;
}

const built = cases.map(build);
const good = built.filter((b) => b.problem === undefined);

describe(`programs renamed with hazardous names (${pool.length} names, ${cases.length} programs)`, () => {
  it("uses every name of the pool, C++/CUDA/WGSL/TS words and the generated identifiers", () => {
    const used = new Set(cases.flatMap((c) => [...c.renames.values()]));
    expect(pool.filter((n) => !used.has(n)).map(showName)).toEqual([]);
    for (const n of ["NULL", "int64_t", "float", "class", "template", "signed", "INFINITY", "assert", "threadIdx", "dim3", "half", "warpSize", "vec4", "f32", "select", "array", "constructor", "__proto__", "prototype", "toString", "hasOwnProperty", "__lookupSetter__", "then", "default", "_0", "a_1"]) {
      expect(pool, n).toContain(n);
    }
  });

  it("compiles every program without throwing, in under 2 s, with no error and with WGSL, CUDA and TypeScript", async () => {
    const failing = await reduceFirst(built.filter((b) => b.problem !== undefined).map((b) => ({ c: b.c, why: b.problem! })), async (c) => build(c).problem, 4);
    expect(report("compile", failing), `${failing.length} of ${cases.length} programs`).toBe("");
  });

  it("declaring a name the language reserves gives an error with a span, never a throw", () => {
    for (const name of languageReserved) {
      if (name === "kernel" || name === "const") continue;
      // A tensor, a scalar and an output (a kernel's name is in a namespace of its own).
      for (const [program, from] of [[0, "q"], [1, "slopes"], [6, "eps"], [5, "lse"]] as const) {
        const source = renameProgram(basePrograms[program].source, new Map([[from, name]]));
        const a = tryCompile(source, { target: "wgsl" });
        expect(a.thrown, `${name} for ${from}`).toBeUndefined();
        const errors = errorsOf(a.result!);
        expect(errors.length, `${name} for ${from}: ${source}`).toBeGreaterThan(0);
        for (const e of errors) expect(e.line).toBeGreaterThanOrEqual(1);
      }
      const text = frontEnd(`kernel k(${name}: f32[N]) -> (o: f32[N]) {\n  o[i] = 1\n}\n`).diagnostics;
      expect(text.filter((d) => d.severity === "error").length, name).toBeGreaterThan(0);
    }
  });

  it("emits WGSL that Dawn accepts (fused and naive)", async () => {
    const dawn = async (c: Case): Promise<string | undefined> => {
      const b = build(c);
      if (b.problem !== undefined) return undefined;
      for (const [label, k] of [["auto", b.auto!], ["naive", b.naive!]] as const) {
        const errors = await wgslErrors(k.wgsl!);
        if (errors.length > 0) return `Dawn rejects the ${label} (${k.plan.schedule}) WGSL: ${errors.slice(0, 3).join("; ")}`;
      }
      return undefined;
    };
    const rejected: { c: Case; why: string }[] = [];
    for (const b of good) {
      let why: string | undefined;
      for (const [label, k] of [["auto", b.auto!], ["naive", b.naive!]] as const) {
        const errors = await wgslErrors(k.wgsl!);
        if (errors.length > 0) why ??= `Dawn rejects the ${label} (${k.plan.schedule}) WGSL: ${errors.slice(0, 3).join("; ")}`;
      }
      if (why !== undefined) rejected.push({ c: b.c, why });
    }
    const failing = await reduceFirst(rejected, dawn, 4);
    expect(report("WGSL", failing), `${failing.length} of ${good.length} programs`).toBe("");
  });

  it("emits TypeScript wrappers that type-check strictly with a well-typed consumer (one tsc program)", async () => {
    const wrappers = new Map(good.map((b, x) => [String(x), { ts: b.auto!.ts!, manifest: b.auto!.manifest }]));
    const errors = typeCheckWrappers(wrappers);
    const bad = good.flatMap((b, x) => (errors.get(String(x))!.length > 0 ? [{ c: b.c, why: `tsc: ${errors.get(String(x))!.slice(0, 3).join("; ")}` }] : []));
    const tsc = async (c: Case) => {
      const b = build(c);
      if (b.problem !== undefined) return undefined;
      const e = typeCheckWrappers(new Map([["one", { ts: b.auto!.ts!, manifest: b.auto!.manifest }]])).get("one")!;
      return e.length > 0 ? `tsc: ${e.slice(0, 3).join("; ")}` : undefined;
    };
    const found = await reduceFirst(bad, tsc, 1);
    expect(report("TypeScript", found), `${found.length} of ${good.length} wrappers`).toBe("");
  });

  it("emits CUDA that nvcc compiles for sm_80, header and source in one unit (a sample, C++ and CUDA words first)", async () => {
    const risky = new Set([...cppNames, ...cudaNames]);
    const score = (b: Built) => [...b.c.renames.values()].filter((n) => risky.has(n) || n.length > 1000).length;
    const sample = [...good].sort((a, b) => score(b) - score(a)).slice(0, runs(20));
    const failures = await nvccErrors(new Map(sample.map((b, x) => [String(x), { cuda: b.auto!.cuda!, header: b.auto!.header! }])));
    const bad = sample.flatMap((b, x) => (failures.has(String(x)) ? [{ c: b.c, why: `nvcc: ${failures.get(String(x))}` }] : []));
    const nvcc = async (c: Case) => {
      const b = build(c);
      if (b.problem !== undefined) return undefined;
      const e = (await nvccErrors(new Map([["one", { cuda: b.auto!.cuda!, header: b.auto!.header! }]]))).get("one");
      return e === undefined ? undefined : `nvcc: ${e}`;
    };
    // One nvcc run per try: only the first two failures, and the names their errors mention.
    const found = [...(await reduceFirst(bad.slice(0, 2), nvcc, 2)), ...bad.slice(2)];
    expect(report("CUDA", found), `${found.length} of ${sample.length} sources`).toBe("");
  }, 600_000);

  it("runs a sample on WebGPU, fused and naive, equal to the interpreter, guards intact", async () => {
    const sample = fc.sample(fc.integer({ min: 0, max: Math.max(0, good.length - 1) }), { seed: seed + 7, numRuns: runs(8) }).map((x) => good[x]).filter((b) => b !== undefined);
    const runOne = async (c: Case): Promise<string | undefined> => {
      const b = build(c);
      if (b.problem !== undefined) return undefined;
      const base = basePrograms[c.program];
      const renamed = (n: string) => c.renames.get(n) ?? n;
      const sizes = Object.fromEntries(Object.entries(base.sizes).map(([n, v]) => [renamed(n), v]));
      const scalars = Object.fromEntries(Object.entries(base.scalars).map(([n, v]) => [renamed(n), v]));
      try {
        const kernel = b.auto!.checked;
        const args = randomArgs(kernel, sizes, rng(seed), { scalars });
        const want = interpret(kernel, args, sizes);
        for (const k of [b.auto!, b.naive!]) {
          const got = await (await createRunner(k, { guardWords: 64 }))(args, sizes);
          for (const t of kernel.outputs) {
            const why = disagreement(got[t.name] ?? [], want[t.name] ?? [], t.dtype === "f32" ? 1e-4 : t.dtype === "f16" ? 4e-3 : 2e-2);
            if (why !== undefined) return `${k.plan.schedule} WGSL output \`${showName(t.name)}\` ${why}`;
          }
        }
      } catch (e) {
        return `running threw ${e instanceof Error ? e.message.slice(0, 400) : String(e)}`;
      }
      return undefined;
    };
    const wrong: { c: Case; why: string }[] = [];
    for (const b of sample) {
      const why = await runOne(b.c);
      if (why !== undefined) wrong.push({ c: b.c, why });
    }
    const failing = await reduceFirst(wrong, runOne, 3);
    expect(report("run", failing), `${failing.length} of ${sample.length} programs`).toBe("");
  });
});
