// Syntax and check, property-tested: on any text the front end returns diagnostics (never throws, never an internal
// error), every diagnostic points inside the text, no kernel comes back beside an error, and each one formats.
import { existsSync, readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { frontEnd } from "../../src/frontend.js";
import { formatDiagnostic } from "../../src/diagnostics/source.js";
import { alibiCausalSource } from "../support/programs.js";

/** Fixed for reproducible runs; FUZZ_SEED=n picks another. */
const seed = Number(process.env.FUZZ_SEED ?? 20240611);
/** FUZZ_SCALE=n runs n times as many inputs, for a longer hunt by hand. */
const scale = Number(process.env.FUZZ_SCALE ?? 1);
const runs = (n: number) => Math.round(n * scale);
console.log(`fuzz seed ${seed} (set FUZZ_SEED to change it), scale ${scale}`);

const basePrograms: Record<string, string> = {
  alibiCausal: alibiCausalSource(128),
  sinksAndLse: `const D = 64
kernel sinks_lse(q: bf16[B, H, N, D], k: bf16[B, H, N, D], v: bf16[B, H, N, D], sinks: f32[H])
    -> (o: bf16[B, H, N, D], lse: f32[B, H, N]) {
  s[b, h, i, j] = where(j <= i, sum[d](q[b, h, i, d] * k[b, h, j, d]) * rsqrt(D), -inf)
  o[b, h, i, e] = sum[j](softmax[j](s[b, h, i, j], sink: sinks[h]) * v[b, h, j, e])
  lse[b, h, i] = logsumexp[j](s[b, h, i, j])
}
`,
  groupedRelative: `kernel gqa_rel(q: f16[B, H, N, 64], k: f16[B, HKV, N, 64], v: f16[B, HKV, N, 64], rel: f32[H, 33], G: i32, scale: f32)
    -> (o: f32[B, H, N, 64],) {
  s[b, h, i, j] = sum[d](q[b, h, i, d] * k[b, h / G, j, d]) * scale + rel[h, clamp(j - i + 16, 0, 32)]
  m[b, h, i, j] = (j <= i && i - j < 128) ? s[b, h, i, j] : -inf
  o[b, h, i, e] = sum[j](softmax[j](m[b, h, i, j]) * v[b, h / G, j, e])
}
`,
  byHandTwoKernels: `const D = 32
kernel by_hand(q: f32[N, D], k: f32[M, D], v: f32[M, D]) -> (o: f32[N, D]) {
  s[i, j] = sum[d](q[i, d] * k[j, d]) / sqrt(D)
  mx[i] = max[j](s[i, j])
  x[i, j] = exp(s[i, j] - mx[i])
  l[i] = sum[j](x[i, j])
  o[i, e] = sum[j](x[i, j] / l[i] * v[j, e])
}
kernel gate(x: f32[N], doc: i32[N], t: i32) -> (y: f32[N]) {
  y[i] = where(doc[i] == doc[max(i - 1, 0)] || !(i % 2 != 0), sigmoid(x[i]) * tanh(x[i]), min(x[i], 0.5) + abs(t))
}
`,
};

/** The examples beside the compiler, when there are any. */
function examplePrograms(): string[] {
  const dir = fileURLToPath(new URL("../../examples/", import.meta.url));
  if (!existsSync(dir)) return [];
  return readdirSync(dir).filter((f) => f.endsWith(".attn")).sort().map((f) => readFileSync(join(dir, f), "utf8"));
}

const programs = [...Object.values(basePrograms), ...examplePrograms()];

/** The front end's contract on any input text. */
function checkInvariants(text: string): void {
  const result = frontEnd(text, { fileName: "fuzz.attn" });
  const lines = text.split(/\r\n|\r|\n/);
  for (const d of result.diagnostics) {
    expect(d.message).not.toMatch(/internal compiler error/);
    expect(d.line).toBeGreaterThanOrEqual(1);
    expect(d.line).toBeLessThanOrEqual(lines.length);
    expect(d.column).toBeGreaterThanOrEqual(1);
    expect(d.column).toBeLessThanOrEqual(lines[d.line - 1].length + 1);
    expect(d.endLine).toBeGreaterThanOrEqual(d.line);
    expect(d.endLine).toBeLessThanOrEqual(lines.length);
    if (d.endLine === d.line) expect(d.endColumn).toBeGreaterThanOrEqual(d.column);
    const shown = formatDiagnostic(result.file, d);
    expect(shown.startsWith(`fuzz.attn:${d.line}:${d.column}: ${d.severity}: `)).toBe(true);
  }
  if (result.diagnostics.some((d) => d.severity === "error")) expect(result.kernels).toEqual([]);
}

const tokens = [
  "kernel", "const", "->", "(", ")", "[", "]", "{", "}", ",", ":", "?", "==", "!=", "<=", ">=", "<", ">", "&&", "||",
  "=", "!", "+", "-", "*", "/", "%", "f16", "bf16", "f32", "i32", "f64", "sum", "max", "min", "softmax", "logsumexp",
  "where", "exp", "rsqrt", "clamp", "sink", "inf", "q", "k", "v", "o", "s", "i", "j", "b", "h", "d", "e", "N", "M", "D",
  "0", "1", "2.5", "1e-3", ".5", "33", "99999999999999999999", "# comment\n", "\n", "\r\n", "\t",
];

const anyCharacter = fc.oneof(
  fc.string({ unit: "binary", minLength: 1, maxLength: 3 }), // any code points
  fc.integer({ min: 0, max: 0xffff }).map((u) => String.fromCharCode(u)), // lone surrogates and controls too
  fc.constantFrom("@", "$", "`", "\\", "'", '"', "~", "^", "×", "\u00a0", "\ufeff", "\u2028", "\0"),
);
const soupPiece = fc.oneof({ arbitrary: fc.constantFrom(...tokens), weight: 6 }, { arbitrary: anyCharacter, weight: 1 });
const separator = fc.constantFrom(" ", " ", "", "\n");
const soup = (maxLength: number) =>
  fc.array(fc.tuple(soupPiece, separator), { maxLength }).map((pieces) => pieces.map(([p, s]) => p + s).join(""));

/** Tokens and the space between them, so that an edit can remove or repeat whole tokens. */
const pieceOf = /\s+|[A-Za-z_][A-Za-z0-9_]*|\d+(?:\.\d*)?(?:[eE][+-]?\d+)?|->|==|!=|<=|>=|&&|\|\||#[^\n]*|[^]/g;

type Edit =
  | { kind: "delete-chars"; at: number; length: number }
  | { kind: "insert"; at: number; text: string }
  | { kind: "replace-token"; at: number; text: string }
  | { kind: "delete-tokens"; at: number; count: number }
  | { kind: "duplicate-tokens"; at: number; count: number; to: number };

const position = fc.double({ min: 0, max: 1, noNaN: true, maxExcluded: true });
const edit: fc.Arbitrary<Edit> = fc.oneof(
  fc.record({ kind: fc.constant("delete-chars" as const), at: position, length: fc.integer({ min: 1, max: 12 }) }),
  fc.record({ kind: fc.constant("insert" as const), at: position, text: fc.oneof(fc.constantFrom(...tokens), anyCharacter) }),
  fc.record({ kind: fc.constant("replace-token" as const), at: position, text: fc.oneof(fc.constantFrom(...tokens), anyCharacter, fc.constant("")) }),
  fc.record({ kind: fc.constant("delete-tokens" as const), at: position, count: fc.integer({ min: 1, max: 6 }) }),
  fc.record({ kind: fc.constant("duplicate-tokens" as const), at: position, count: fc.integer({ min: 1, max: 12 }), to: position }),
);

function applyEdit(text: string, e: Edit): string {
  if (e.kind === "delete-chars" || e.kind === "insert") {
    const at = Math.floor(e.at * (text.length + 1));
    return e.kind === "insert" ? text.slice(0, at) + e.text + text.slice(at) : text.slice(0, at) + text.slice(at + e.length);
  }
  const pieces = text.match(pieceOf) ?? [];
  const at = Math.floor(e.at * pieces.length);
  if (e.kind === "replace-token") pieces.splice(at, 1, e.text);
  else if (e.kind === "delete-tokens") pieces.splice(at, e.count);
  else pieces.splice(Math.floor(e.to * (pieces.length + 1)), 0, ...pieces.slice(at, at + e.count));
  return pieces.join("");
}

/** Expressions that parse, built from the grammar with names that may or may not be in scope: food for the checker. */
const names = ["i", "j", "d", "e", "b", "x", "q", "doc", "p", "o", "t", "s", "N", "D", "M", "inf", "sum", "exp", "where", "softmax", "foo"];
const { expression } = fc.letrec<{ expression: string }>((tie) => ({
  expression: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    fc.constantFrom("0", "1", "2", "0.5", "1e-3", "32", "40"),
    fc.constantFrom(...names),
    fc.tuple(fc.constantFrom(...names), fc.array(tie("expression"), { minLength: 1, maxLength: 3 })).map(([t, ix]) => `${t}[${ix.join(", ")}]`),
    fc.tuple(fc.constantFrom("-", "!", "+"), tie("expression")).map(([op, e]) => `${op}${e}`),
    fc
      .tuple(tie("expression"), fc.constantFrom("+", "-", "*", "/", "%", "<", "<=", ">", ">=", "==", "!=", "&&", "||"), tie("expression"))
      .map(([l, op, r]) => `(${l} ${op} ${r})`),
    fc.tuple(tie("expression"), tie("expression"), tie("expression")).map(([c, a, b]) => `(${c} ? ${a} : ${b})`),
    fc
      .tuple(fc.constantFrom("where", "exp", "min", "max", "clamp", "abs", "sigmoid", "foo", "x", "sum"), fc.array(tie("expression"), { maxLength: 4 }))
      .map(([f, args]) => `${f}(${args.join(", ")})`),
    fc
      .tuple(
        fc.constantFrom("sum", "max", "min", "logsumexp", "softmax", "mean", "x"),
        fc.array(fc.oneof(fc.constantFrom("j", "d", "i", "e", "k"), tie("expression")), { minLength: 1, maxLength: 2 }),
        tie("expression"),
        fc.option(fc.tuple(fc.constantFrom("sink", "bias"), tie("expression")), { nil: undefined }),
      )
      .map(([op, axes, body, label]) => `${op}[${axes.join(", ")}](${body}${label === undefined ? "" : `, ${label[0]}: ${label[1]}`})`),
  ),
}));
const checkedKernel = fc
  .array(fc.tuple(fc.constantFrom("o", "p", "t", "s", "x"), fc.array(fc.constantFrom("i", "j", "d", "b", "x"), { maxLength: 3 }), expression), {
    minLength: 1,
    maxLength: 4,
  })
  .map(
    (statements) =>
      `const D = 16\nkernel k(q: f32[N, D], x: f32[N], doc: i32[N], rel: f32[33], t: i32) -> (o: f32[N], p: f32[N, M]) {\n${statements
        .map(([target, ix, value]) => `  ${target}[${ix.join(", ")}] = ${value}\n`)
        .join("")}}\n`,
  );

const editedProgram = fc
  .tuple(fc.integer({ min: 0, max: programs.length - 1 }), fc.array(edit, { minLength: 1, maxLength: 4 }))
  .map(([k, edits]) => edits.reduce(applyEdit, programs[k]));

describe("the front end on generated input", () => {
  it("accepts every base program without an error", () => {
    for (const text of programs) {
      const errors = frontEnd(text).diagnostics.filter((d) => d.severity === "error");
      expect(errors.map((d) => `${d.line}:${d.column} ${d.message}`)).toEqual([]);
    }
  });

  it("keeps its contract on token soup (800 inputs)", () => {
    fc.assert(fc.property(soup(80), checkInvariants), { seed, numRuns: runs(800) });
  });

  it("keeps its contract on token soup inside a kernel body, where the checker sees it (700 inputs)", () => {
    const kernel = (body: string) =>
      `const D = 16\nkernel k(q: f32[N, D], x: f32[N], doc: i32[N], t: i32) -> (o: f32[N], p: f32[N, N]) {\n  p[i, j] = q[i, 0] * x[j]\n  o[i] = ${body}\n}\n`;
    fc.assert(fc.property(soup(30).map(kernel), checkInvariants), { seed: seed + 1, numRuns: runs(700) });
  });

  it("keeps its contract on kernels whose statements parse but may not check (800 inputs)", () => {
    fc.assert(fc.property(checkedKernel, checkInvariants), { seed: seed + 3, numRuns: runs(800) });
  });

  it(`keeps its contract on valid programs with random edits (${programs.length} programs, 1500 inputs)`, () => {
    fc.assert(fc.property(editedProgram, checkInvariants), { seed: seed + 2, numRuns: runs(1500) });
  });
});
