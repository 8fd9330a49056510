// Tile stage: the online softmax, once: the running max and sum of a row over its key tiles, the rescale of its
// output accumulator, and the row's finish (statistics, the sink, the final divide), as the tile program's
// formulas over row registers. Every backend prints these; the CPU executor evaluates them (language.md 6 and 7:
// the non-finite rules hold by construction here, for all of them).
import type { Expr } from "../check/typed.js";
import type { Assign, FinishOp, Register, Scalar, StatisticStore, TileOp } from "./types.js";

const reg = (r: Register): Scalar => ({ kind: "reg", reg: r });
const num = (value: number): Scalar => ({ kind: "const", value });
const un = (op: Extract<Scalar, { kind: "unary" }>["op"], arg: Scalar): Scalar => ({ kind: "unary", op, arg });
const bin = (op: Extract<Scalar, { kind: "binary" }>["op"], left: Scalar, right: Scalar): Scalar => ({ kind: "binary", op, left, right });
const select = (cond: Scalar, then: Scalar, otherwise: Scalar): Scalar => ({ kind: "select", cond, then, otherwise });
const set = (r: Register, value: Scalar): Assign => ({ reg: r, value });

/**
 * A key tile's softmax, once its scores are in log2 units (or raw products, with `scale` the factor that makes
 * them so): the tile max joins the running max; the base (the new max kept finite, so that +inf scores give
 * exp2(+inf) = +inf, not NaN) shifts the exponentials; alpha (from the previous max kept finite: 1 after a +inf
 * score, where inf would turn a thread's partial sum of 0 into NaN) rescales the running sum and the output.
 */
export function softmaxTileOps(scale: number | undefined, accumulate: boolean): TileOp[] {
  const scaled = (x: Scalar) => bin("*", x, num(scale ?? 1));
  const exponent: Scalar = scale === undefined
    ? bin("-", reg("score"), reg("base"))
    : { kind: "fma", a: reg("score"), b: num(scale), c: un("neg", reg("base")) };
  // Scaled scores join the running max in the tile max itself; raw products are scaled first.
  return [
    scale === undefined ? { op: "tileMax", into: "tileMax", init: "rowMax" } : { op: "tileMax", into: "tileMax" },
    {
      op: "assign",
      steps: [
        ...(scale === undefined ? [] : [set("tileMax", bin("max", reg("rowMax"), scaled(reg("tileMax"))))]),
        set("base", un("finite", reg("tileMax"))),
        set("alpha", un("exp2", bin("-", un("belowInf", reg("rowMax")), reg("base")))),
        set("rowMax", reg("tileMax")),
        set("rowSum", bin("*", reg("rowSum"), reg("alpha"))),
      ],
    },
    ...(accumulate ? [{ op: "rescale", by: "alpha" } as const] : []),
    { op: "exponentiate", value: un("exp2", exponent), sum: "rowSum" },
  ];
}

/** A row statistic from the running max and sum: the log-sum-exp (-inf for a row of no weight) or the max, in nats. */
export function statistic(kind: "logsumexp" | "max"): Scalar {
  const nats = (x: Scalar) => bin("*", x, num(Math.LN2));
  return kind === "logsumexp"
    ? select(bin("==", reg("rowSum"), num(0)), num(-Infinity), nats(bin("+", reg("rowMax"), un("log2", reg("rowSum")))))
    : nats(reg("rowMax"));
}

/**
 * A softmax row's finish: the partial sums joined, the statistics written, and `scale`, the factor that turns the
 * accumulator into the output. A sink joins the denominator only (kept finite like a max: a +inf sink takes all
 * the weight, a NaN one gives NaN); with no keys at all the output is an empty sum, 0, whatever the sink.
 */
export function softmaxFinish(stats: readonly { kind: "logsumexp" | "max"; store: StatisticStore }[], sink: Expr | undefined, output: boolean): FinishOp[] {
  const ops: FinishOp[] = [{ op: "rowSum", reg: "rowSum" }];
  for (const s of stats) {
    ops.push({ op: "assign", steps: [set("stat", statistic(s.kind))] }, { op: "storeStatistic", store: s.store });
  }
  if (!output) return ops;
  const l = reg("rowSum");
  const steps: Assign[] = sink === undefined
    ? [set("scale", select(bin("==", l, num(0)), num(0), bin("/", num(1), l)))]
    : [
      set("sink", bin("*", { kind: "expr", expr: sink }, num(Math.LOG2E))),
      set("finalMax", bin("max", reg("rowMax"), reg("sink"))),
      set("finalBase", un("finite", reg("finalMax"))),
      set("scale", un("exp2", bin("-", reg("rowMax"), reg("finalBase")))),
      set("denominator", bin("+", bin("*", l, reg("scale")), un("exp2", bin("-", reg("sink"), reg("finalBase"))))),
      set("scale", select(bin("||", bin("==", reg("denominator"), num(0)), { kind: "noKeys" }), num(0), bin("/", reg("scale"), reg("denominator")))),
    ];
  return [...ops, { op: "assign", steps }, { op: "storeOutput", scale: "scale" }];
}
