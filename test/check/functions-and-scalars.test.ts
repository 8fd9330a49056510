import { describe, expect, it } from "vitest";
import { checked } from "../support/programs.js";
import { interpret } from "../../src/interp/interpret.js";
import { frontEnd } from "../../src/frontend.js";

describe("the checker", () => {
  it("takes min and max with parentheses as functions and with brackets as reductions", () => {
    const k = checked(`kernel f(x: f32[N], y: f32[N]) -> (o: f32[N], top: f32) {
      o[i] = max(x[i], y[i]) - min(x[i], y[i], 0.5)
      top = max[i](x[i])
    }`);
    const out = interpret(k, { x: [1, -2, 3], y: [3, 2, 1] }, { N: 3 });
    expect([...out.o]).toEqual([3 - 0.5, 2 - -2, 3 - 0.5]);
    expect([...out.top]).toEqual([3]);
  });

  it("defines 0-d tensors with `name = expr` and reads them as `name` or `name[]`", () => {
    const k = checked(`kernel z(x: f32[N]) -> (o: f32[N], total: f32) {
      c = sum[i](x[i])
      total = c * 2.0
      o[i] = x[i] / c[] + c
    }`);
    const out = interpret(k, { x: [1, 2, 3] }, { N: 3 });
    expect([...out.total]).toEqual([12]);
    expect([...out.o]).toEqual([1 / 6 + 6, 2 / 6 + 6, 3 / 6 + 6]);
  });

  it("keeps integer min, max, clamp and abs integer, so they may index", () => {
    const k = checked(`kernel r(t: f32[9]) -> (o: f32[N]) {
      o[i] = t[clamp(abs(i - 4), 0, 8)] + t[min(i, 8)] * 0.0
    }`);
    const out = interpret(k, { t: [0, 10, 20, 30, 40, 50, 60, 70, 80] }, { N: 6 });
    expect([...out.o]).toEqual([40, 30, 20, 10, 0, 10]);
  });

  it("reports an error, not a crash, for a reduction name called with parentheses", () => {
    const r = frontEnd("kernel f(x: f32[N]) -> (o: f32[N]) { o[i] = sum(x[i]) }");
    expect(r.diagnostics.map((d) => d.message)).toEqual(["`sum` needs the index variables it reduces over"]);
  });
});
