// Plan stage tests: the naive lowering keeps every example's meaning and leaves no softmax inside a loop.
import { describe, expect, it } from "vitest";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { lowerNaive } from "../../src/plan/naive-lower.js";
import { planned, checked, randomArgs, rng, compare } from "../support/programs.js";
import { executePlan } from "../../src/interp/execute-plan.js";
import { interpret } from "../../src/interp/interpret.js";
import { some } from "../../src/graph/walk.js";
import type { Expr } from "../../src/check/typed.js";

const dir = join(import.meta.dirname, "../../examples");
const examples = readdirSync(dir).filter((f) => f.endsWith(".attn")).sort();
const scalars = { G: 2, W: 5, cap: 3, bias: -1 };

/** The deepest nesting of reductions (a softmax counts as one) in an expression. */
const depth = (e: Expr): number => {
  const inner = (x: Expr): number => {
    let d = 0;
    const visit = (y: Expr) => { if (y !== x) d = Math.max(d, depth(y)); };
    switch (x.kind) {
      case "reduce": visit(x.body); break;
      case "softmax": visit(x.body); if (x.sink) visit(x.sink); break;
      default: break;
    }
    return d;
  };
  if (e.kind === "reduce" || e.kind === "softmax") return 1 + inner(e);
  let d = 0;
  const kids: Expr[] = e.kind === "load" ? [...e.indices] : e.kind === "binary" ? [e.left, e.right] : e.kind === "select" ? [e.cond, e.then, e.otherwise] : e.kind === "call" ? [...e.args] : e.kind === "cast" || e.kind === "unary" ? [e.operand] : [];
  for (const k of kids) d = Math.max(d, depth(k));
  return d;
};

describe("naive lowering", () => {
  for (const file of examples) {
    it(`keeps the meaning of ${file} and nests no reductions`, () => {
      const source = readFileSync(join(dir, file), "utf8");
      const defines = { D: 8 };
      const plan = lowerNaive(planned(source, defines, "naive"));
      for (const s of plan.stages) {
        if (s.kind !== "naive") continue;
        expect(depth(s.statement.value)).toBeLessThanOrEqual(1);
        // A softmax may stay only at the top of a statement, where it costs O(1) per element once its statistics are hoisted.
        expect(some(s.statement.value, (x) => x.kind === "softmax")).toBe(false);
      }
      const kernel = checked(source, defines);
      const sizes = { B: 2, H: 4, HKV: 2, G: 2, N: 9, M: 11, T: 2, NP: 3 };
      const args = randomArgs(kernel, sizes, rng(7), { scalars });
      const want = interpret(kernel, args, sizes);
      const got = executePlan(plan, args, sizes, { blockQ: 4, blockK: 4 }).outputs;
      for (const name of Object.keys(want)) {
        const c = compare(got[name], want[name]);
        expect(c.nan).toBe(0);
        expect(c.zeroMismatches).toBe(0);
        expect(c.maxRel).toBeLessThan(1e-9);
      }
    });
  }

  it("gives 0 for a row of -inf and lse -inf, with a sink", () => {
    const source = `kernel k(s: f32[N, M], sink: f32) -> (o: f32[N, M], l: f32[N]) {
      o[i, j] = softmax[j](s[i, j], sink: sink)
      l[i] = logsumexp[j](s[i, j])
    }`;
    const plan = lowerNaive(planned(source, {}, "naive"));
    const s = Float64Array.from([-Infinity, -Infinity, 1, 2]);
    const out = executePlan(plan, { s, sink: -Infinity }, { N: 2, M: 2 }, { blockQ: 4, blockK: 4 }).outputs;
    expect([...out.o]).toEqual([0, 0, 1 / (1 + Math.E), Math.E / (1 + Math.E)].map((x, k) => (k < 2 ? 0 : expect.closeTo(x, 12))));
    expect(out.l[0]).toBe(-Infinity);
  });
});
