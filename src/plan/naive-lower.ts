// Plan stage: the naive plan made an honest unfused baseline: row statistics and nested reductions become statements of their own.
//
// Printed as written, `sum[j](softmax[j](s) * v)` recomputes the softmax's row max and row sum for every
// element, O(M) work per probability; a reduction nested in another one's body (the score sum[d] inside a
// softmax) is recomputed once per outer element. This pass rewrites each naive statement so that every
// statement costs O(its own reduction) per element, the way a framework runs attention unfused:
// scores[.., j] = sum[d](..), rowmax[..] = max[j](..), rowsum[..] = sum[j](exp(.. - rowmax)),
// probs[.., j] = exp(.. - rowmax) / rowsum, and the consumer reads probs. The meaning is unchanged:
// a row whose scores are all -inf gets probability 0 (never NaN), and the sink joins the max and the sum; NaN and
// +inf follow language.md section 7.
import type { Expr, IndexVar, Statement, TensorInfo } from "../check/typed.js";
import { tensorsOf } from "../check/typed.js";
import { freeVars } from "../check/free-vars.js";
import type { Span } from "../syntax/ast.js";
import type { KernelPlan, NaiveStage, Stage } from "./plan.js";

/**
 * The most negative finite f32: a row max of -inf is raised to it, so exp(score - base) is 0, never exp(NaN); a row
 * max of +inf is lowered to -lowestFloat, so a +inf score gives exp(+inf) = +inf (language.md section 7).
 */
const lowestFloat = -3.4028234663852886e38;

export function lowerNaive(plan: KernelPlan): KernelPlan {
  const taken = new Set([...tensorsOf(plan.kernel), ...plan.buffers].map((t) => t.name));
  const added: TensorInfo[] = [];
  const stages: Stage[] = [];
  for (const stage of plan.stages) {
    if (stage.kind !== "naive") {
      stages.push(stage);
      continue;
    }
    const lowered = lowerStatement(stage.statement, taken);
    added.push(...lowered.tensors);
    stages.push(...lowered.statements.map((statement): NaiveStage => ({ kind: "naive", statement })));
  }
  if (added.length === 0) return plan;
  return { ...plan, stages, buffers: [...plan.buffers, ...added] };
}

type Lowered = { statements: Statement[]; tensors: TensorInfo[] };

/** The statements that compute one statement: the hoisted ones first, in the order they depend on each other. */
export function lowerStatement(statement: Statement, taken: Set<string>): Lowered {
  const out: Lowered = { statements: [], tensors: [] };
  const fresh = (base: string): string => {
    let name = base;
    for (let n = 1; taken.has(name); n++) name = `${base}${n}`;
    taken.add(name);
    return name;
  };
  /** A new intermediate tensor over the given variables, defined by value; returns a load of it at those variables. */
  const hoist = (role: string, vars: readonly IndexVar[], value: Expr, span: Span): Expr => {
    const name = fresh(`${statement.target}_${role}`);
    const dtype = value.type === "int" ? "i32" : "f32";
    out.tensors.push({ name, dtype, dims: vars.map((v) => v.extent), role: "intermediate", span });
    out.statements.push({ target: name, vars, value, span });
    return loadAt(name, vars, value.type === "int" ? "int" : "float", span);
  };

  /** `inLoop`: the expression is evaluated many times per element of the statement (inside a reduction's body). */
  const lower = (e: Expr, scope: readonly IndexVar[], inLoop: boolean): Expr => {
    switch (e.kind) {
      case "reduce": {
        const inner = [...scope, ...e.vars];
        const body = lower(e.body, inner, true);
        const reduced: Expr = { ...e, body };
        return inLoop ? hoist(e.op, varsOf(reduced, scope), reduced, e.span) : reduced;
      }
      case "softmax": {
        const body = lower(e.body, scope, true);
        const sink = e.sink === undefined ? undefined : lower(e.sink, scope, false);
        const axis = e.vars.map((v) => v.name);
        const all = varsOf({ ...e, body, sink }, scope, axis);
        const rows = all.filter((v) => !axis.includes(v.name));
        const span = e.span;
        const max: Expr = { kind: "reduce", op: "max", vars: e.vars, body, type: "float", span };
        const rowMax = hoist("rowmax", rows, sink === undefined ? max : call("max", [max, sink], span), span);
        const base = call("min", [call("max", [rowMax, float(lowestFloat, span)], span), float(-lowestFloat, span)], span);
        const shifted = (x: Expr) => call("exp", [binary("-", x, base, span)], span);
        const sum: Expr = { kind: "reduce", op: "sum", vars: e.vars, body: shifted(body), type: "float", span };
        const rowSum = hoist("rowsum", rows, sink === undefined ? sum : binary("+", sum, shifted(sink), span), span);
        const probability: Expr = {
          // == rather than != : WGSL (Tint) compares ordered, so NaN != 0 is false there, and a NaN sum must stay NaN.
          kind: "select", cond: binary("==", rowSum, float(0, span), span, "bool"),
          then: float(0, span), otherwise: binary("/", shifted(body), rowSum, span), type: "float", span,
        };
        return inLoop ? hoist("probs", all, probability, span) : probability;
      }
      case "load":
        return { ...e, indices: e.indices.map((x) => lower(x, scope, inLoop)) };
      case "cast":
      case "unary":
        return { ...e, operand: lower(e.operand, scope, inLoop) } as Expr;
      case "binary":
        return { ...e, left: lower(e.left, scope, inLoop), right: lower(e.right, scope, inLoop) };
      case "select":
        return { ...e, cond: lower(e.cond, scope, inLoop), then: lower(e.then, scope, inLoop), otherwise: lower(e.otherwise, scope, inLoop) };
      case "call":
        return { ...e, args: e.args.map((x) => lower(x, scope, inLoop)) };
      default:
        return e;
    }
  };

  const value = lower(statement.value, statement.vars, false);
  out.statements.push({ ...statement, value });
  return out;
}

/** The free index variables of e (and the given axis), in the order the scope binds them. */
function varsOf(e: Expr, scope: readonly IndexVar[], axis: readonly string[] = []): IndexVar[] {
  const free = freeVars(e);
  for (const a of axis) free.add(a);
  // The innermost binding of a name is the one e sees.
  const seen = new Map<string, IndexVar>();
  for (const v of scope) seen.set(v.name, v);
  return [...seen.values()].filter((v) => free.has(v.name));
}

const loadAt = (tensor: string, vars: readonly IndexVar[], type: "int" | "float", span: Span): Expr => ({
  kind: "load", tensor, type, span,
  indices: vars.map((v) => ({ kind: "var", name: v.name, type: "int", span })),
  clamped: vars.map(() => false),
});

const float = (value: number, span: Span): Expr => ({ kind: "const", value, type: "float", span });

const call = (fn: "max" | "min" | "exp", args: Expr[], span: Span): Expr => ({ kind: "call", fn, args, type: "float", span });

const binary = (op: "+" | "-" | "/" | "==", left: Expr, right: Expr, span: Span, type: "float" | "bool" = "float"): Expr =>
  ({ kind: "binary", op, left, right, type, span });
