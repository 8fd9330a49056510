// Deep and wide expressions, property-tested: long `+` chains, nested unary minuses, calls, `?:`, parentheses and long
// inlining chains never make the compiler throw or overflow its stack; each gives kernels or a clean diagnostic with a
// span, in under 2 s (each compile runs in a child process, so that running out of memory or time fails only that
// input), and where it compiles, Dawn accepts its WGSL and the interpreter evaluates it.
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import type { CompileResult } from "../../src/compile.js";
import { interpret } from "../../src/interp/interpret.js";
import { releaseDevice } from "../../src/runtime/index.js";
import { randomArgs, rng } from "../support/programs.js";
import { isolatedCompile, stopIsolated } from "../support/isolated.js";
import { errorsOf, runs, seed, showDiagnostics, wgslErrors } from "../support/property.js";

afterAll(async () => {
  await stopIsolated();
  await releaseDevice();
});
console.log(`property deep: seed ${seed} (PROPERTY_SEED), scale ${runs(1)} (PROPERTY_RUNS)`);

/** An element-wise kernel whose one statement is `o[i] = body`. */
const elementwise = (body: string) => `kernel deep(x: f32[N], y: f32[N]) -> (o: f32[N]) {\n  o[i] = ${body}\n}\n`;
/** An attention kernel whose score modification is `mod(s)`, with `s` the score. */
const attention = (mod: (s: string) => string) => `const D = 16
kernel deep_attention(q: f32[B, H, N, D], k: f32[B, H, M, D], v: f32[B, H, M, D]) -> (o: f32[B, H, N, D]) {
  s[b, h, i, j] = sum[d](q[b, h, i, d] * k[b, h, j, d]) * rsqrt(D)
  a[b, h, i, j] = where(j <= i, ${mod("s[b, h, i, j]")}, -inf)
  o[b, h, i, e] = sum[j](softmax[j](a[b, h, i, j]) * v[b, h, j, e])
}
`;

const repeat = (n: number, f: (k: number) => string, sep: string) => Array.from({ length: n }, (_, k) => f(k)).join(sep);
const nest = (n: number, open: string, inner: string, close: string) => open.repeat(n) + inner + close.repeat(n);

/** The shapes of the issue, each at the sizes it names. */
const shapes: Record<string, { sizes: number[]; program: (n: number) => string }> = {
  "a chain of n `+` terms": { sizes: [200, 1000, 2000], program: (n) => elementwise(repeat(n, (k) => (k % 2 === 0 ? "x[i]" : "y[i]"), " + ")) },
  "a chain of n `*` and `-` terms": { sizes: [200, 2000], program: (n) => elementwise(repeat(n, (k) => `${k === 0 ? "" : k % 2 === 0 ? " * " : " - "}${k % 3 === 0 ? "x[i]" : "0.5"}`, "")) },
  "n nested unary minuses": { sizes: [100, 500, 1000], program: (n) => elementwise(`${"-".repeat(n)}x[i]`) },
  "n nested unary minuses, spaced": { sizes: [100, 1000], program: (n) => elementwise(`${"- ".repeat(n)}x[i]`) },
  "n nested `exp(` calls": { sizes: [100, 500, 1000], program: (n) => elementwise(nest(n, "exp(", "x[i]", ")")) },
  "n nested `tanh(min(`": { sizes: [100, 500], program: (n) => elementwise(nest(n, "tanh(min(y[i], ", "x[i]", "))")) },
  "n right-nested `?:`": { sizes: [100, 1000], program: (n) => elementwise(`${repeat(n, (k) => `x[i] < ${k} ? y[i] + ${k} : `, "")}0`) },
  "n nested `where(`": { sizes: [100, 1000], program: (n) => elementwise(nest(n, "where(x[i] < y[i], x[i], ", "y[i]", ")")) },
  "n nested parentheses": { sizes: [100, 1000, 5000], program: (n) => elementwise(nest(n, "(", "x[i]", ")")) },
  "n nested parenthesised sums": { sizes: [100, 1000], program: (n) => elementwise(nest(n, "(x[i] + ", "y[i]", ")")) },
  "an inlining chain of n squarings": {
    sizes: [20, 100, 1000],
    program: (n) =>
      `kernel chain(x: f32[N]) -> (o: f32[N]) {\n  t0[i] = x[i]\n${repeat(n, (k) => `  t${k + 1}[i] = t${k}[i] * t${k}[i]`, "\n")}\n  o[i] = t${n}[i]\n}\n`,
  },
  "an inlining chain of n sums of both parents": {
    sizes: [25, 100, 1000],
    program: (n) =>
      `kernel fib(x: f32[N]) -> (o: f32[N]) {\n  t0[i] = x[i]\n  t1[i] = x[i] * 0.5\n${repeat(n, (k) => `  t${k + 2}[i] = t${k + 1}[i] * 0.5 + t${k}[i] * 0.25`, "\n")}\n  o[i] = t${n + 1}[i]\n}\n`,
  },
  "an attention score with a chain of n `+` terms": { sizes: [200, 1000], program: (n) => attention((s) => repeat(n, () => s, " + ")) },
  "an attention score under n nested `tanh(`": { sizes: [100, 500], program: (n) => attention((s) => nest(n, "tanh(", s, ")")) },
  "an attention score through an inlining chain of n squarings": {
    sizes: [20, 100],
    program: (n) =>
      attention((s) => s).replace(
        "  a[b, h, i, j] = where(j <= i, s[b, h, i, j], -inf)",
        `  t0[b, h, i, j] = s[b, h, i, j]\n${repeat(n, (k) => `  t${k + 1}[b, h, i, j] = t${k}[b, h, i, j] * t${k}[b, h, i, j] * 0.5`, "\n")}\n  a[b, h, i, j] = where(j <= i, t${n}[b, h, i, j], -inf)`,
      ),
  },
};

/** Kernels for `source`, or a clean error: the first broken promise, undefined when all hold. */
async function problem(source: string): Promise<string | undefined> {
  const lines = source.split("\n");
  for (const [schedule, target] of [["auto", "all"], ["naive", "wgsl"]] as const) {
    // In a child process: exponential time or memory fails this input, not the test run.
    const a = await isolatedCompile(source, { target, schedule, fileName: "deep.attn" }, { deadlineMs: 6000, memoryMb: 1536 });
    if (a.crashed !== undefined) return `compile (${schedule}): ${a.crashed}`;
    if (a.thrown !== undefined) return `compile (${schedule}) threw ${a.thrown}`;
    if (a.ms > 2000) return `compile (${schedule}) took ${a.ms.toFixed(0)} ms (limit 2000)`;
    const result: CompileResult = a.result!;
    const errors = errorsOf(result);
    for (const d of result.diagnostics) {
      if (d.line < 1 || d.line > lines.length || d.column < 1 || d.column > lines[d.line - 1].length + 1 || d.endLine < d.line) {
        return `diagnostic without a span in the text: ${d.line}:${d.column}-${d.endLine}:${d.endColumn} ${d.message}`;
      }
      if (/internal compiler error/i.test(d.message)) return `internal compiler error: ${d.message}`;
    }
    if (errors.length > 0) {
      if (result.kernels.length > 0) return `kernels beside errors: ${showDiagnostics(result)}`;
      continue;
    }
    const k = result.kernels[0];
    if (k === undefined || k.wgsl === undefined) return `compile (${schedule}) gave no kernel and no error`;
    if (target === "all" && k.cuda === undefined) return `compile (${schedule}) gave no CUDA and no error`;
    const dawn = await wgslErrors(k.wgsl);
    if (dawn.length > 0) return `Dawn rejects the ${k.plan.schedule} WGSL (${k.wgsl.length} chars): ${dawn.slice(0, 2).join("; ")}`;
    if (schedule === "auto") {
      try {
        const sizes = Object.fromEntries(k.checked.sizes.map((s) => [s, 3]));
        interpret(k.checked, randomArgs(k.checked, sizes, rng(1)), sizes);
      } catch (e) {
        return `the interpreter threw ${e instanceof Error ? `${e.name}: ${e.message.slice(0, 200)}` : String(e)}`;
      }
    }
  }
  return undefined;
}

const shorten = (text: string) => (text.length <= 600 ? text : `${text.slice(0, 300)}\n…(${text.length} chars)…\n${text.slice(-200)}`);

describe("deep and wide expressions", () => {
  for (const [shape, { sizes, program }] of Object.entries(shapes)) {
    it.each(sizes)(`${shape}, n = %i: kernels or a clean diagnostic, in under 2 s, WGSL accepted`, async (n) => {
      const source = program(n);
      const why = await problem(source);
      expect(why, `${shape}, n = ${n}:\n${shorten(source)}`).toBeUndefined();
    });
  }

  /** A tower of random layers around `x[i]`: the shrunk counterexample is the shortest failing tower. */
  const layer = fc.constantFrom("-", "exp", "paren", "cond", "plus", "where", "abs", "mul");
  const tower = (layers: readonly string[]) =>
    elementwise(
      layers.reduce((inner, l, k) => {
        switch (l) {
          case "-": return `-${inner}`;
          case "paren": return `(${inner})`;
          case "cond": return `x[i] < ${k} ? ${inner} : y[i]`;
          case "plus": return `${inner} + y[i]`;
          case "mul": return `(${inner}) * 0.5`;
          case "where": return `where(x[i] > y[i], ${inner}, x[i])`;
          default: return `${l}(${inner})`;
        }
      }, "x[i]"),
    );

  it("random towers of 1 to 600 nested layers (the shrunk counterexample is the shortest failing tower)", async () => {
    // n layers cycling through a few kinds: shrinking halves n and drops kinds, so it ends at a short, plain tower.
    const towers = fc.record({ n: fc.integer({ min: 1, max: 600 }), kinds: fc.array(layer, { minLength: 1, maxLength: 6 }) }).map(({ n, kinds }) => Array.from({ length: n }, (_, k) => kinds[k % kinds.length]));
    await fc.assert(
      fc.asyncProperty(towers, async (layers) => {
        const source = tower(layers);
        const why = await problem(source);
        if (why !== undefined) throw new Error(`${why}\nlayers (${layers.length}, innermost first): ${shorten(layers.join(" "))}\nprogram:\n${shorten(source)}`);
      }),
      { seed, numRuns: runs(12), interruptAfterTimeLimit: 60_000, markInterruptAsFailure: false },
    );
  }, 300_000);
});
