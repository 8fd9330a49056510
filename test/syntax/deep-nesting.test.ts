// Deeply nested input never crashes a stage: up to the limits it compiles (parse, check, plan, both emitters),
// beyond them it is one clean diagnostic at the place, never an internal compiler error or a stack overflow.
import { describe, expect, it } from "vitest";
import { compile } from "../../src/compile.js";
import { maxExpressionDepth, maxNesting } from "../../src/syntax/parse.js";

const kernel = (body: string, x = "x: f32[N]", y = "y: f32[N]") => `kernel f(${x}) -> (${y}) {\n  y[i] = ${body}\n}\n`;

/** Each shape of nesting, n levels deep. */
const shapes: Record<string, (n: number) => string> = {
  parentheses: (n) => kernel(`${"(".repeat(n)}x[i]${")".repeat(n)}`),
  "tensor reads in indices": (n) => kernel(`${"x[".repeat(n)}i${"]".repeat(n)}`, "x: i32[N]", "y: i32[N]"),
  calls: (n) => kernel(`${"exp(".repeat(n)}x[i]${")".repeat(n)}`),
  reductions: (n) => kernel(`${Array.from({ length: n }, (_, k) => `sum[j${k}](x[j${k}] * `).join("")}x[i]${")".repeat(n)}`),
  "unary minus": (n) => kernel(`${"-".repeat(n)}x[i]`),
  "right-nested conditionals": (n) => kernel(`${Array.from({ length: n }, (_, k) => `i == ${k} ? x[i] : `).join("")}0.0`),
  "left-nested conditionals": (n) => kernel(`${"(".repeat(n)}x[i]${Array.from({ length: n }, (_, k) => ` > ${k}.0 ? 1.0 : 0.0)`).join("")}`),
  "operator chains": (n) => kernel(`x[i]${" + x[i]".repeat(n)}`),
};

function compileDeep(source: string) {
  const result = compile(source, { target: "all" });
  const messages = result.diagnostics.map((d) => d.message);
  expect(messages.filter((m) => /internal compiler error/.test(m))).toEqual([]);
  return { result, errors: result.diagnostics.filter((d) => d.severity === "error") };
}

describe("deep nesting", () => {
  it("compiles statements just within the limit that read each other (inlining does not deepen them without bound)", () => {
    const chain = (k: number) => `  t${k}[i] = ${k === 0 ? "x" : `t${k - 1}`}[i]${" * x[i]".repeat(maxExpressionDepth - 50)}`;
    const source = `kernel f(x: f32[N]) -> (y: f32[N]) {\n${Array.from({ length: 6 }, (_, k) => chain(k)).join("\n")}\n  y[i] = t5[i]\n}\n`;
    const { result, errors } = compileDeep(source);
    expect(errors).toEqual([]);
    expect(result.kernels.map((k) => k.name)).toEqual(["f"]);
  });

  for (const [shape, make] of Object.entries(shapes)) {
    it(`${shape}: compile within the limit, a diagnostic beyond it`, () => {
      const within = compileDeep(make(Math.min(maxNesting - 5, 90)));
      expect(within.errors).toEqual([]);
      expect(within.result.kernels.map((k) => k.name)).toEqual(["f"]);
      for (const n of [150, 1000, 5000]) {
        const { result, errors } = compileDeep(make(n));
        if (errors.length === 0) continue; // a shape that costs the parser little compiles deeper
        expect(result.kernels).toEqual([]);
        expect(errors).toHaveLength(1);
        expect(errors[0].message).toMatch(new RegExp(`nested more than (${maxNesting}|${maxExpressionDepth}) deep`));
        expect(errors[0].line).toBe(2);
      }
    });
  }
});
