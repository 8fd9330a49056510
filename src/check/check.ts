// Check stage: AST to typed program. Names and scopes, index extents, dtypes and value types, single assignment.
import type * as A from "../syntax/ast.js";
import type { Span } from "../syntax/ast.js";
import { error, warning, didYouMean, type SpanDiagnostic } from "../diagnostics/diagnostic.js";
import {
  extentEquals, productExtent, showExtent, toI32,
  type CheckedKernel, type Expr, type Extent, type IndexVar, type MathFn, type ScalarInfo, type Statement, type TensorInfo, type ValueType,
} from "./typed.js";
import { classifyIndex, rangeOf, showLinear } from "./ranges.js";
import { freeVars } from "./free-vars.js";
import { recordOf } from "../records.js";

export type CheckOptions = {
  readonly defines?: Readonly<Record<string, number>>;
  /** Names of declarations the parser reported and left out: their uses add no error of their own. */
  readonly skipped?: readonly string[];
  /** The parser left declarations out, so a file without kernels is no surprise. */
  readonly incomplete?: boolean;
};

// A Map, not an object: a call of `constructor(x)` or `toString(x)` must find no function.
const mathFns = new Map<string, { arity: [number, number]; keepsInt: boolean }>(Object.entries({
  exp: { arity: [1, 1], keepsInt: false }, exp2: { arity: [1, 1], keepsInt: false },
  log: { arity: [1, 1], keepsInt: false }, log2: { arity: [1, 1], keepsInt: false },
  sqrt: { arity: [1, 1], keepsInt: false }, rsqrt: { arity: [1, 1], keepsInt: false },
  tanh: { arity: [1, 1], keepsInt: false }, sigmoid: { arity: [1, 1], keepsInt: false },
  floor: { arity: [1, 1], keepsInt: false }, ceil: { arity: [1, 1], keepsInt: false },
  abs: { arity: [1, 1], keepsInt: true }, min: { arity: [2, 8], keepsInt: true },
  max: { arity: [2, 8], keepsInt: true }, clamp: { arity: [3, 3], keepsInt: true },
} satisfies Record<string, { arity: [number, number]; keepsInt: boolean }>));
const reductions = new Set(["sum", "max", "min", "logsumexp", "softmax"]);
/** Conversions: `i32(x)` truncates a float toward zero (saturating, NaN gives 0), `f32(x)` makes a float. */
const conversions = new Set(["i32", "f32"]);
// `i32` and `f32` (conversions, an extension) are not reserved: version 0 programs may name a tensor `f32`.
const builtinNames = [...mathFns.keys(), "where", "sum", "logsumexp", "softmax", "inf"];

export function checkProgram(program: A.Program, options: CheckOptions = {}): { kernels: CheckedKernel[]; diagnostics: SpanDiagnostic[] } {
  const diagnostics: SpanDiagnostic[] = [];
  const consts = new Map<string, number>();
  const constSpans = new Map<string, Span>();
  for (const c of program.consts) {
    if (constSpans.has(c.name.name)) {
      diagnostics.push(error(c.name.span, `\`${c.name.name}\` is already defined`, "each `const` is defined once"));
      continue;
    }
    if (c.value < 1) diagnostics.push(error(c.span, `a size must be at least 1, but \`${c.name.name}\` is ${c.value}`));
    consts.set(c.name.name, c.value);
    constSpans.set(c.name.name, c.name.span);
  }
  for (const [name, value] of Object.entries(options.defines ?? {})) consts.set(name, value);

  const kernels: CheckedKernel[] = [];
  const kernelNames = new Set<string>();
  if (program.kernels.length === 0 && options.incomplete !== true) {
    diagnostics.push(warning({ start: 0, end: 0 }, "the file declares no kernel", "write `kernel NAME(q: f16[N, D], ...) -> (o: f16[N, D]) { ... }`"));
  }
  for (const k of program.kernels) {
    if (kernelNames.has(k.name.name)) {
      diagnostics.push(error(k.name.span, `a kernel named \`${k.name.name}\` is already declared`));
      continue;
    }
    kernelNames.add(k.name.name);
    const result = checkKernel(k, consts, new Set(options.skipped ?? []), diagnostics);
    if (result !== undefined) kernels.push(result);
  }
  return { kernels, diagnostics };
}

/** `boundBy`: the reduction that binds the variable (`sum`, ...), or undefined for the left-hand side. */
type VarSlot = { name: string; span: Span; extent?: Extent; extentSpan?: Span; extentWhy?: string; boundBy?: string; badExtent?: boolean };

function checkKernel(
  k: A.KernelDecl, consts: ReadonlyMap<string, number>, skipped: ReadonlySet<string>, diagnostics: SpanDiagnostic[],
): CheckedKernel | undefined {
  const before = diagnostics.filter((d) => d.severity === "error").length;
  const report = (d: SpanDiagnostic) => diagnostics.push(d);
  const sizes: string[] = [];
  const usedConsts = new Set<string>();

  const extentOfDim = (d: A.Dim): Extent => {
    if (d.kind === "product") return productExtent(d.factors.map(extentOfDim));
    if (d.kind === "int") {
      if (d.value < 1) report(error(d.span, `a dimension must be at least 1, found ${d.value}`));
      return { kind: "const", value: d.value };
    }
    const value = consts.get(d.name);
    if (value !== undefined) {
      usedConsts.add(d.name);
      return { kind: "const", value, name: d.name };
    }
    if (!sizes.includes(d.name)) sizes.push(d.name);
    return { kind: "size", name: d.name };
  };

  // Parameters and outputs.
  const tensors = new Map<string, TensorInfo>();
  const scalars = new Map<string, ScalarInfo>();
  const declared = new Map<string, Span>();
  const declare = (name: A.Name): boolean => {
    if (declared.has(name.name)) {
      report(error(name.span, `\`${name.name}\` is already declared in this kernel`));
      return false;
    }
    if (builtinNames.includes(name.name)) {
      // Declared all the same, so that its uses do not add "unknown tensor" errors.
      report(error(name.span, `\`${name.name}\` is a built-in name and cannot be declared`, `rename it, e.g. \`${name.name}_\``));
    }
    declared.set(name.name, name.span);
    return true;
  };
  const inputs: TensorInfo[] = [];
  const scalarList: ScalarInfo[] = [];
  for (const p of k.params) {
    if (!declare(p.name)) continue;
    if (p.kind === "scalar") {
      const s = { name: p.name.name, dtype: p.dtype, span: p.span };
      scalars.set(s.name, s);
      scalarList.push(s);
    } else {
      const t: TensorInfo = { name: p.name.name, dtype: p.dtype, dims: p.dims.map(extentOfDim), role: "input", span: p.span };
      tensors.set(t.name, t);
      inputs.push(t);
    }
  }
  const outputs: TensorInfo[] = [];
  for (const p of k.outputs) {
    if (!declare(p.name)) continue;
    const dims = p.kind === "tensor" ? p.dims.map(extentOfDim) : [];
    const t: TensorInfo = { name: p.name.name, dtype: p.dtype, dims, role: "output", span: p.span };
    tensors.set(t.name, t);
    outputs.push(t);
  }
  if (k.outputs.length === 0) {
    report(error(k.name.span, `kernel \`${k.name.name}\` declares no output`, "list outputs after `->`, e.g. `-> (o: f16[B, H, N, D])`"));
  }
  for (const name of [...tensors.keys(), ...scalars.keys()]) {
    if (sizes.includes(name) || consts.has(name)) {
      report(error(declared.get(name)!, `\`${name}\` names both a parameter and a size`, "give the parameter another name"));
    }
  }

  // A written extent (`j: T * P`) names sizes of the parameters' dimensions, consts and integers only: a size that no
  // parameter has would be a run-time argument nothing else checks, so it is more likely a typo.
  const writtenExtent = (d: A.Dim, fail: (x: SpanDiagnostic) => void): Extent | undefined => {
    let ok = true;
    for (const f of d.kind === "product" ? d.factors : [d]) {
      if (f.kind === "int") {
        if (f.value < 1) (ok = false), fail(error(f.span, `an extent must be at least 1, found ${f.value}`));
        continue;
      }
      if (consts.has(f.name) || sizes.includes(f.name)) continue;
      ok = false;
      const what = scalars.has(f.name) ? "a scalar parameter" : tensors.has(f.name) || definitions.has(f.name) ? "a tensor" : undefined;
      if (what !== undefined) fail(error(f.span, `\`${f.name}\` is ${what}, not a size`, "an extent is a size, an integer, or a product of them"));
      else fail(error(f.span, `unknown size \`${f.name}\``, didYouMean(f.name, [...sizes, ...consts.keys()]) ?? (sizes.length > 0 ? `the sizes are those of the parameters' dimensions: ${sizes.join(", ")}` : "declare it in a parameter's dimensions")));
    }
    return ok ? extentOfDim(d) : undefined;
  };

  // Statements: one definition each, then ordered so that each tensor is defined before it is read.
  const definitions = new Map<string, A.Statement>();
  for (const s of k.body) {
    const name = s.target.name;
    const existing = definitions.get(name);
    if (existing !== undefined) {
      report(error(s.target.span, `\`${name}\` is assigned twice`, "each tensor is defined once; give this one another name"));
      continue;
    }
    const t = tensors.get(name);
    if (t?.role === "input") {
      report(error(s.target.span, `\`${name}\` is an input and cannot be assigned`, "assign a new tensor, or list it as an output after `->`"));
      continue;
    }
    if (scalars.has(name) || consts.has(name) || sizes.includes(name)) {
      report(error(s.target.span, `\`${name}\` is a ${scalars.has(name) ? "scalar parameter" : "size"} and cannot be assigned`));
      continue;
    }
    if (builtinNames.includes(name)) {
      report(error(s.target.span, `\`${name}\` is a built-in name and cannot be assigned`));
      continue;
    }
    definitions.set(name, s);
  }
  for (const o of outputs) {
    if (!definitions.has(o.name)) {
      report(error(o.span, `output \`${o.name}\` is never assigned`, `add a statement \`${o.name}[...] = ...\``));
    }
  }
  const order = topologicalOrder(definitions, report);

  // Type each statement.
  const statements: Statement[] = [];
  const intermediates: TensorInfo[] = [];
  const readTensors = new Set<string>();
  const readScalars = new Set<string>();
  // A tensor whose statement failed to check, or is on a cycle, is "poisoned": reading it adds no error of its own
  // (that would only repeat the first), but the rest of the reading statement is still checked.
  const poisoned = (name: string) => skipped.has(name) || (definitions.has(name) && !tensors.has(name));
  const tensorNames = [...new Set([...tensors.keys(), ...definitions.keys()])];
  for (const s of order) {
    const output = tensors.get(s.target.name);
    const checked = checkStatement(s, output, {
      tensors, scalars, consts, sizes, usedConsts, readTensors, readScalars, report, poisoned, tensorNames, writtenExtent,
    });
    if (checked === undefined) continue;
    statements.push(checked);
    if (output === undefined) {
      const t: TensorInfo = {
        name: s.target.name, dtype: "f32", dims: checked.vars.map((v) => v.extent), role: "intermediate", span: s.target.span,
      };
      tensors.set(t.name, t);
      intermediates.push(t);
    }
  }
  // A statement that failed to check stopped reading where it failed: what it reads is unknown, so say nothing unused.
  if (diagnostics.filter((d) => d.severity === "error").length > before) return undefined;
  for (const t of intermediates) {
    if (!readTensors.has(t.name)) report(warning(t.span, `\`${t.name}\` is computed but never used`, "remove it, or use it in an output"));
  }
  for (const t of inputs) {
    if (!readTensors.has(t.name)) report(warning(t.span, `parameter \`${t.name}\` is never used`));
  }
  for (const s of scalarList) {
    if (!readScalars.has(s.name)) report(warning(s.span, `parameter \`${s.name}\` is never used`));
  }
  // Own properties, written as such: a const may be named `__proto__`.
  const defines = recordOf([...usedConsts].sort().map((name) => [name, consts.get(name)!]));
  return {
    name: k.name.name, span: k.span, sizes, defines, inputs, scalars: scalarList, outputs, intermediates, statements,
  };
}

function topologicalOrder(definitions: Map<string, A.Statement>, report: (d: SpanDiagnostic) => void): A.Statement[] {
  const order: A.Statement[] = [];
  const state = new Map<string, "visiting" | "done">();
  const path: string[] = [];
  const onCycle = new Set<string>();
  const visit = (name: string, from?: A.Name): void => {
    const s = definitions.get(name);
    if (s === undefined || state.get(name) === "done") return;
    if (state.get(name) === "visiting") {
      if (onCycle.has(name)) return; // one error per cycle, however often it is read
      onCycle.add(name);
      const cycle = [...path.slice(path.indexOf(name)), name];
      const how = cycle.slice(0, -1).map((t, k) => `\`${t}\` reads \`${cycle[k + 1]}\``).join(", ");
      report(error(from?.span ?? s.target.span, `\`${name}\` depends on itself: ${how}`, "a tensor cannot read its own value; define a new tensor instead"));
      return;
    }
    state.set(name, "visiting");
    path.push(name);
    for (const read of tensorReads(s.value)) visit(read.name, read);
    path.pop();
    state.set(name, "done");
    order.push(s);
  };
  for (const name of definitions.keys()) visit(name);
  return order;
}

/** The tensor elements an expression reads, outermost first. */
function indexedTensors(e: A.Expr): Extract<A.Expr, { kind: "index" }>[] {
  const out: Extract<A.Expr, { kind: "index" }>[] = [];
  const visit = (x: A.Expr): void => {
    if (x.kind === "index") out.push(x);
    const inner = x.kind === "index" ? x.indices : x.kind === "unary" ? [x.operand] : x.kind === "binary" ? [x.left, x.right]
      : x.kind === "ternary" ? [x.cond, x.then, x.otherwise] : x.kind === "call" ? x.args.map((a) => a.value)
      : x.kind === "reduce" ? [...x.axes, ...x.args.map((a) => a.value)] : [];
    inner.forEach(visit);
  };
  visit(e);
  return out;
}

function tensorReads(e: A.Expr): A.Name[] {
  switch (e.kind) {
    case "index":
      return [e.tensor, ...e.indices.flatMap(tensorReads)];
    case "unary":
      return tensorReads(e.operand);
    case "binary":
      return [...tensorReads(e.left), ...tensorReads(e.right)];
    case "ternary":
      return [...tensorReads(e.cond), ...tensorReads(e.then), ...tensorReads(e.otherwise)];
    case "call":
      return e.args.flatMap((a) => tensorReads(a.value));
    case "reduce":
      return [...e.axes.flatMap(tensorReads), ...e.args.flatMap((a) => tensorReads(a.value))];
    default:
      return [];
  }
}

type Env = {
  tensors: Map<string, TensorInfo>;
  scalars: Map<string, ScalarInfo>;
  consts: ReadonlyMap<string, number>;
  sizes: readonly string[];
  usedConsts: Set<string>;
  readTensors: Set<string>;
  readScalars: Set<string>;
  report: (d: SpanDiagnostic) => void;
  /** Names whose error was reported already, so that their uses say nothing more. */
  poisoned: (name: string) => boolean;
  /** Every tensor of the kernel, for suggestions. */
  tensorNames: readonly string[];
  /** The extent written at a binder, or undefined after reporting why it is not one. */
  writtenExtent: (d: A.Dim, fail: (x: SpanDiagnostic) => void) => Extent | undefined;
};

type Scope = ReadonlyMap<string, VarSlot>;

function checkStatement(s: A.Statement, output: TensorInfo | undefined, outer: Env): Statement | undefined {
  const { report } = outer;
  let failed = false;
  /** An error, or (undefined) a failure whose error was reported already. */
  const fail = (d: SpanDiagnostic | undefined) => {
    failed = true;
    if (d !== undefined) report(d);
  };

  // Pass 1: bind index variables and infer their extents from direct uses as tensor indices.
  const lhs = new Map<string, VarSlot>();
  for (const v of s.indices) {
    if (lhs.has(v.name)) fail(error(v.span, `index variable \`${v.name}\` appears twice on the left`, "use distinct names, e.g. `i, j`"));
    else if (outer.tensors.has(v.name) || outer.scalars.has(v.name) || outer.consts.has(v.name) || outer.sizes.includes(v.name)) {
      fail(error(v.span, `\`${v.name}\` is already the name of a ${outer.tensors.has(v.name) ? "tensor" : outer.scalars.has(v.name) ? "scalar parameter" : "size"}`, "give the index variable a name of its own, such as `i` or `j`"));
    } else {
      const slot: VarSlot = { name: v.name, span: v.span };
      lhs.set(v.name, slot);
      bindWritten(slot, v.extent, outer, fail);
    }
  }
  if (failed) return undefined;
  if (output !== undefined) {
    if (output.dims.length !== s.indices.length) {
      fail(error(s.target.span, `output \`${output.name}\` has ${output.dims.length} dimension${output.dims.length === 1 ? "" : "s"} but is assigned with ${s.indices.length} index variable${s.indices.length === 1 ? "" : "s"}`));
      return undefined;
    }
    s.indices.forEach((v, k) => {
      const slot = lhs.get(v.name)!;
      const dim = output.dims[k];
      if (slot.extent !== undefined && !extentEquals(slot.extent, dim)) {
        fail(error(slot.extentSpan!, `\`${v.name}\` is written to range over ${showExtent(slot.extent)}, but dimension ${k + 1} of output \`${output.name}\` is ${showExtent(dim)}`, `write \`${v.name}: ${showExtent(dim)}\`, or leave the extent out`));
      }
      Object.assign(slot, { extent: dim, extentSpan: slot.extentSpan ?? v.span, extentWhy: `dimension ${k + 1} of output \`${output.name}\`` });
    });
  }
  // Tensors this statement reads that exist nowhere: reported first, since an index variable used only in them
  // has no extent, and that is not the mistake.
  const unknown = new Set<string>();
  for (const read of indexedTensors(s.value)) {
    const name = read.tensor.name;
    if (outer.tensors.has(name) || outer.poisoned(name) || unknown.has(name) || reductions.has(name) || outer.scalars.has(name)) continue;
    fail(error(read.tensor.span, `unknown tensor \`${name}\``, didYouMean(name, outer.tensorNames)));
    unknown.add(name);
  }
  const env: Env = { ...outer, poisoned: (name) => unknown.has(name) || outer.poisoned(name) };
  const slots = new Map<A.Expr | A.Name, VarSlot>();
  inferExtents(s.value, lhs, env, slots, fail);
  const inPoisoned = new Set(indexedTensors(s.value).filter((t) => env.poisoned(t.tensor.name)).flatMap((t) => t.indices.flatMap((x) => (x.kind === "name" ? [x.name] : []))));
  for (const slot of [...lhs.values(), ...new Set(slots.values())]) {
    if (slot.extent === undefined) {
      const where = slot.boundBy === undefined ? `\`${s.target.name}[.., ${slot.name}: M] = ...\`` : `\`${slot.boundBy}[${slot.name}: M](...)\``;
      fail(inPoisoned.has(slot.name) || slot.badExtent === true ? undefined : error(slot.span, `cannot infer the extent of index variable \`${slot.name}\``, `use \`${slot.name}\` directly as an index of a tensor (\`x[${slot.name}]\`), or write its extent where it is bound: ${where}`));
    }
  }

  // Pass 2: build the typed expression (also after a failure, for the mistakes elsewhere in the statement).
  // After a failure in pass 1 the extents are not to be trusted: ranges of indices are not judged.
  const typer = new Typer(env, slots, fail, !failed);
  const value = typer.expr(s.value, lhs);
  if (value === undefined || failed) return undefined;
  const vars = s.indices.map((v): IndexVar => ({ name: v.name, extent: lhs.get(v.name)!.extent! }));
  if (value.type === "bool") {
    fail(error(s.value.span, `\`${s.target.name}\` is assigned a condition, not a number`, "write `where(condition, 1.0, 0.0)`"));
    return undefined;
  }
  return { target: s.target.name, vars, value, span: s.span };
}

/** Why a variable has the extent it was written with (`j: T * P`), as messages say it. */
const writtenWhy = "its written extent";

/**
 * Puts the extent written at a binder into its slot; where what is written is not an extent (reported already), marks
 * the slot, so that no "cannot infer" follows.
 */
function bindWritten(slot: VarSlot, d: A.Dim | undefined, env: Env, fail: (x: SpanDiagnostic) => void): void {
  if (d === undefined) return;
  const extent = env.writtenExtent(d, fail);
  if (extent === undefined) slot.badExtent = true;
  else Object.assign(slot, { extent, extentSpan: d.span, extentWhy: writtenWhy });
}

function inferExtents(
  e: A.Expr, scope: Scope, env: Env, slots: Map<A.Expr | A.Name, VarSlot>, fail: (d: SpanDiagnostic) => void,
): void {
  const recur = (x: A.Expr, sc: Scope = scope) => inferExtents(x, sc, env, slots, fail);
  switch (e.kind) {
    case "index": {
      const t = env.tensors.get(e.tensor.name);
      e.indices.forEach((ix, k) => {
        if (ix.kind === "name" && t !== undefined && k < t.dims.length) {
          const slot = scope.get(ix.name);
          if (slot !== undefined) {
            const extent = t.dims[k];
            const why = `dimension ${k + 1} of \`${t.name}\``;
            if (slot.extent === undefined) {
              slot.extent = extent;
              slot.extentSpan = ix.span;
              slot.extentWhy = why;
            } else if (!extentEquals(slot.extent, extent)) {
              fail(error(ix.span, `index variable \`${ix.name}\` ranges over ${showExtent(extent)} here (${why}), but over ${showExtent(slot.extent)} as ${slot.extentWhy}`, slot.extentWhy === writtenWhy ? `write \`${ix.name}: ${showExtent(extent)}\`, or use another index variable for this dimension` : "use another index variable for the other dimension"));
            }
          }
        }
        recur(ix);
      });
      return;
    }
    case "unary":
      return recur(e.operand);
    case "binary":
      recur(e.left);
      return recur(e.right);
    case "ternary":
      recur(e.cond);
      recur(e.then);
      return recur(e.otherwise);
    case "call":
      return e.args.forEach((a) => recur(a.value));
    case "reduce": {
      if (e.op.name === "softmax") {
        // The softmax's axis is bound outside it: a written extent there states the extent of that variable.
        e.axes.forEach((axis, k) => {
          const slot = axis.kind === "name" ? scope.get(axis.name) : undefined;
          const d = e.extents[k];
          const extent = d && env.writtenExtent(d, fail);
          if (slot === undefined || extent === undefined) return;
          if (slot.extent === undefined) Object.assign(slot, { extent, extentSpan: d!.span, extentWhy: writtenWhy });
          else if (!extentEquals(slot.extent, extent)) {
            fail(error(e.extents[k]!.span, `\`${slot.name}\` is written to range over ${showExtent(extent)} here, but ranges over ${showExtent(slot.extent)} as ${slot.extentWhy}`, `write \`${slot.name}: ${showExtent(slot.extent)}\`, or leave the extent out`));
          }
        });
        return e.args.forEach((a) => recur(a.value));
      }
      const inner = new Map(scope);
      e.axes.forEach((axis, k) => {
        if (axis.kind !== "name") return;
        const slot: VarSlot = { name: axis.name, span: axis.span, boundBy: e.op.name };
        bindWritten(slot, e.extents[k], env, fail);
        if (inner.has(axis.name)) return; // reported by the typer
        inner.set(axis.name, slot);
        slots.set(axis, slot);
      });
      return e.args.forEach((a) => recur(a.value, inner));
    }
    default:
      return;
  }
}

type Typed = Expr;

class Typer {
  constructor(
    private readonly env: Env,
    private readonly slots: Map<A.Expr | A.Name, VarSlot>,
    private readonly fail: (d: SpanDiagnostic | undefined) => void,
    private readonly judgeRanges = true,
  ) {}

  /** A failure whose error was reported already. */
  private silent(): undefined {
    this.fail(undefined);
    return undefined;
  }

  /** `what` says who wants a number: "`*` takes a number". */
  private number(e: Typed, what: string): Typed | undefined {
    if (e.type === "bool") {
      this.fail(error(e.span, `${what}, but this is a condition`, "write `where(condition, 1.0, 0.0)` to turn a condition into a number"));
      return undefined;
    }
    return e;
  }

  /** `what` says who wants a condition: "`&&` takes a condition". */
  private condition(e: Typed, what: string): Typed | undefined {
    if (e.type !== "bool") {
      this.fail(error(e.span, `${what}, but this is a number`, "compare it, e.g. `x != 0`"));
      return undefined;
    }
    return e;
  }

  expr(e: A.Expr, scope: Scope): Typed | undefined {
    switch (e.kind) {
      case "number":
        return { kind: "const", value: e.value, type: e.isInt ? "int" : "float", span: e.span };
      case "name":
        return this.name(e, scope);
      case "index":
        return this.load(e, scope);
      case "unary": {
        const operand = this.expr(e.operand, scope);
        if (operand === undefined) return undefined;
        if (e.op === "!") return this.condition(operand, "`!` takes a condition") && { kind: "unary", op: "not", operand, type: "bool", span: e.span };
        if (this.number(operand, `\`${e.op}\` takes a number`) === undefined) return undefined;
        if (e.op === "+") return operand;
        if (operand.kind === "const") return { ...operand, value: -operand.value, span: e.span };
        return { kind: "unary", op: "neg", operand, type: operand.type, span: e.span };
      }
      case "binary": {
        const left = this.expr(e.left, scope);
        const right = this.expr(e.right, scope);
        if (left === undefined || right === undefined) return undefined;
        const op = e.op;
        if (op === "&&" || op === "||") {
          if (!this.condition(left, `\`${op}\` takes conditions`) || !this.condition(right, `\`${op}\` takes conditions`)) return undefined;
          return { kind: "binary", op, left, right, type: "bool", span: e.span };
        }
        if ((op === "==" || op === "!=") && left.type === "bool" && right.type === "bool") {
          return { kind: "binary", op, left, right, type: "bool", span: e.span };
        }
        if (!this.number(left, `\`${op}\` takes numbers`) || !this.number(right, `\`${op}\` takes numbers`)) return undefined;
        const [l, r, type] = unify(left, right);
        const isCompare = op === "<" || op === "<=" || op === ">" || op === ">=" || op === "==" || op === "!=";
        return { kind: "binary", op, left: l, right: r, type: isCompare ? "bool" : type, span: e.span };
      }
      case "ternary":
        return this.select(e.cond, e.then, e.otherwise, scope, e.span, "`? :`");
      case "call":
        return this.call(e, scope);
      case "reduce":
        return this.reduce(e, scope);
    }
  }

  private name(e: { name: string; span: Span }, scope: Scope): Typed | undefined {
    const env = this.env;
    const slot = scope.get(e.name);
    if (slot !== undefined) return { kind: "var", name: e.name, type: "int", span: e.span };
    const scalar = env.scalars.get(e.name);
    if (scalar !== undefined) {
      env.readScalars.add(e.name);
      return { kind: "scalar", name: e.name, type: scalar.dtype === "i32" ? "int" : "float", span: e.span };
    }
    const value = env.consts.get(e.name);
    if (value !== undefined) {
      env.usedConsts.add(e.name);
      return { kind: "const", value, type: "int", span: e.span };
    }
    if (env.sizes.includes(e.name)) return { kind: "size", name: e.name, type: "int", span: e.span };
    if (env.poisoned(e.name)) return this.silent();
    const t = env.tensors.get(e.name);
    if (t !== undefined && t.dims.length === 0) return this.load({ kind: "index", tensor: { name: e.name, span: e.span }, indices: [], span: e.span }, scope);
    if (t !== undefined) {
      // Suggest the index variables in scope that range over each dimension.
      const unused = [...scope.values()];
      const idx = t.dims.map((dim, k) => {
        const at = unused.findIndex((v) => v.extent !== undefined && extentEquals(v.extent, dim));
        return at < 0 ? (dim.kind === "size" ? dim.name.toLowerCase() : `i${k}`) : unused.splice(at, 1)[0].name;
      }).join(", ");
      this.fail(error(e.span, `\`${e.name}\` is a tensor; read an element of it`, `write \`${e.name}[${idx}]\``));
      return undefined;
    }
    if (mathFns.has(e.name) || conversions.has(e.name) || e.name === "where") {
      this.fail(error(e.span, `\`${e.name}\` is a function; call it`, `write \`${e.name}(...)\``));
      return undefined;
    }
    const candidates = [...scope.keys(), ...env.scalars.keys(), ...env.consts.keys(), ...env.sizes, ...env.tensors.keys()];
    const hint = didYouMean(e.name, candidates) ?? (/^[a-z]$/.test(e.name) ? `bind \`${e.name}\` on the left (\`t[.., ${e.name}] = ...\`) or with a reduction (\`sum[${e.name}](...)\`)` : undefined);
    this.fail(error(e.span, `unknown name \`${e.name}\``, hint));
    return undefined;
  }

  private load(e: Extract<A.Expr, { kind: "index" }>, scope: Scope): Typed | undefined {
    const env = this.env;
    const t = env.tensors.get(e.tensor.name);
    if (t === undefined && env.poisoned(e.tensor.name)) {
      for (const ix of e.indices) this.expr(ix, scope); // for the mistakes in the indices
      return this.silent();
    }
    if (t === undefined) {
      if (reductions.has(e.tensor.name)) {
        this.fail(error(e.span, `\`${e.tensor.name}[...]\` needs its argument`, `write \`${e.tensor.name}[${e.indices.map(() => "j").join(", ")}](expression)\``));
      } else if (env.scalars.has(e.tensor.name)) {
        this.fail(error(e.tensor.span, `\`${e.tensor.name}\` is a scalar parameter and has no elements`, `write \`${e.tensor.name}\``));
      } else {
        this.fail(error(e.tensor.span, `unknown tensor \`${e.tensor.name}\``, didYouMean(e.tensor.name, env.tensors.keys())));
      }
      return undefined;
    }
    env.readTensors.add(t.name);
    if (e.indices.length !== t.dims.length) {
      this.fail(error(e.span, `\`${t.name}\` has ${t.dims.length} dimension${t.dims.length === 1 ? "" : "s"} but ${e.indices.length} ${e.indices.length === 1 ? "index was" : "indices were"} given`, `\`${t.name}\` is declared as [${t.dims.map(showExtent).join(", ")}]`));
      return undefined;
    }
    const typedIndices = e.indices.map((ix) => {
      const typed = this.expr(ix, scope);
      if (typed !== undefined && typed.type !== "int") {
        this.fail(error(ix.span, `an index must be an integer, but this is ${typed.type === "bool" ? "a condition" : "a float"}`, typed.type === "float" ? "use integer arithmetic: `i / 2` divides integers" : undefined));
        return undefined;
      }
      return typed;
    });
    if (!typedIndices.every((x) => x !== undefined)) return undefined;
    const indices = typedIndices as Typed[];
    const extents = new Map<string, Extent>();
    for (const [name, slot] of scope) if (slot.extent !== undefined) extents.set(name, slot.extent);
    const clamped = indices.map((ix, k) => {
      const dim = t.dims[k];
      const extent = ix.kind === "var" ? extents.get(ix.name) : undefined;
      if (extent !== undefined && extentEquals(extent, dim)) return false;
      if (!this.judgeRanges) return true;
      if (dim.kind === "const" && dim.value < 1) return true; // the empty dimension is reported where it is declared
      const r = rangeOf(ix, extents);
      const verdict = classifyIndex(r, dim);
      if (verdict === "inside") return false;
      const single = r.lo !== undefined && r.hi !== undefined && showLinear(r.lo) === showLinear(r.hi);
      const shown = single ? `it is ${showLinear(r.lo!)}` : `it takes values in [${r.lo ? showLinear(r.lo) : "-inf"}, ${r.hi ? showLinear(r.hi) : "inf"}]`;
      const last = dim.kind === "const" && dim.name === undefined ? String(dim.value - 1) : `${showExtent(dim)} - 1`;
      if (verdict === "outside") {
        this.fail(error(e.indices[k].span, `index ${k + 1} of \`${t.name}\` is out of range: ${shown}, but the dimension is ${showExtent(dim)}`, `valid indices run from 0 to ${last}`));
      } else {
        env.report(warning(e.indices[k].span, `cannot prove index ${k + 1} of \`${t.name}\` is within [0, ${showExtent(dim)}); it is clamped at run time`, `wrap it in clamp(..., 0, ${last}) to make the clamp explicit`));
      }
      return true;
    });
    return { kind: "load", tensor: t.name, indices, clamped, type: t.dtype === "i32" ? "int" : "float", span: e.span };
  }

  private select(c: A.Expr, a: A.Expr, b: A.Expr, scope: Scope, span: Span, what: string): Typed | undefined {
    const cond = this.expr(c, scope);
    const then = this.expr(a, scope);
    const otherwise = this.expr(b, scope);
    if (cond === undefined || then === undefined || otherwise === undefined) return undefined;
    if (!this.condition(cond, `${what} selects on a condition`)) return undefined;
    if (then.type === "bool" && otherwise.type === "bool") return { kind: "select", cond, then, otherwise, type: "bool", span };
    if (!this.number(then, `${what} selects between numbers`) || !this.number(otherwise, `${what} selects between numbers`)) return undefined;
    const [t, o, type] = unify(then, otherwise);
    return { kind: "select", cond, then: t, otherwise: o, type, span };
  }

  private call(e: Extract<A.Expr, { kind: "call" }>, scope: Scope): Typed | undefined {
    const name = e.fn.name;
    for (const a of e.args) {
      if (a.label !== undefined) {
        this.fail(error(a.label.span, `\`${name}\` takes no \`${a.label.name}:\` argument`, a.label.name === "sink" ? "`sink:` belongs to `softmax[j](e, sink: s)`" : undefined));
        return undefined;
      }
    }
    if (name === "where") {
      if (e.args.length !== 3) {
        this.fail(error(e.span, `\`where\` takes 3 arguments (condition, value, otherwise), but ${e.args.length} ${e.args.length === 1 ? "was" : "were"} given`));
        return undefined;
      }
      return this.select(e.args[0].value, e.args[1].value, e.args[2].value, scope, e.span, "`where`");
    }
    if (conversions.has(name)) {
      if (e.args.length !== 1) {
        this.fail(error(e.span, `\`${name}\` takes 1 argument, but ${e.args.length} ${e.args.length === 1 ? "was" : "were"} given`));
        return undefined;
      }
      const arg = this.expr(e.args[0].value, scope);
      if (arg === undefined || !this.number(arg, `\`${name}\` takes a number`)) return undefined;
      if (name === "f32") return toFloat(arg);
      if (arg.type === "int") return arg;
      if (arg.kind === "const") return { kind: "const", value: toI32(arg.value), type: "int", span: e.span };
      return { kind: "call", fn: "i32", args: [arg], type: "int", span: e.span };
    }
    if (reductions.has(name) && !mathFns.has(name)) {
      this.fail(error(e.fn.span, `\`${name}\` needs the index variables it reduces over`, `write \`${name}[j](...)\``));
      return undefined;
    }
    const fn = mathFns.get(name);
    if (fn === undefined) {
      const isTensor = this.env.tensors.has(name);
      this.fail(error(e.fn.span, isTensor ? `\`${name}\` is a tensor, not a function` : `unknown function \`${name}\``, isTensor ? `read it with brackets: \`${name}[...]\`` : didYouMean(name, [...mathFns.keys(), ...conversions, "where"])));
      return undefined;
    }
    const [lo, hi] = fn.arity;
    if (e.args.length < lo || e.args.length > hi) {
      const want = lo === hi ? `${lo}` : `${lo} to ${hi}`;
      this.fail(error(e.span, `\`${name}\` takes ${want} argument${lo === 1 && hi === 1 ? "" : "s"}, but ${e.args.length} ${e.args.length === 1 ? "was" : "were"} given`));
      return undefined;
    }
    const typedArgs = e.args.map((a) => {
      const typed = this.expr(a.value, scope);
      return typed && this.number(typed, `\`${name}\` takes ${hi === 1 ? "a number" : "numbers"}`);
    });
    if (!typedArgs.every((x) => x !== undefined)) return undefined;
    const args = typedArgs as Typed[];
    const allInt = fn.keepsInt && args.every((a) => a.type === "int");
    const type = allInt ? "int" : "float";
    return { kind: "call", fn: name as MathFn, args: allInt ? args : args.map(toFloat), type, span: e.span };
  }

  private reduce(e: Extract<A.Expr, { kind: "reduce" }>, scope: Scope): Typed | undefined {
    const op = e.op.name;
    if (!reductions.has(op)) {
      const isTensor = this.env.tensors.has(op);
      this.fail(error(e.op.span, isTensor ? `\`${op}[...]\` is a tensor element and cannot be called` : `unknown reduction \`${op}\``, isTensor ? undefined : didYouMean(op, reductions) ?? "the reductions are sum, max, min, logsumexp and softmax"));
      return undefined;
    }
    const axes: Extract<A.Expr, { kind: "name" }>[] = [];
    for (const axis of e.axes) {
      if (axis.kind !== "name") {
        this.fail(error(axis.span, `\`${op}[...]\` takes index variable names`, "reduce over a plain name such as `j`"));
        return undefined;
      }
      if (axes.some((a) => a.name === axis.name)) {
        this.fail(error(axis.span, `\`${axis.name}\` is listed twice`));
        return undefined;
      }
      axes.push(axis);
    }
    const positional = e.args.filter((a) => a.label === undefined);
    const labelled = e.args.filter((a) => a.label !== undefined);
    for (const a of labelled) {
      if (op !== "softmax" || a.label!.name !== "sink") {
        this.fail(error(a.label!.span, `\`${op}\` takes no \`${a.label!.name}:\` argument`, op === "softmax" ? "the only named argument is `sink:`" : undefined));
        return undefined;
      }
    }
    if (positional.length !== 1 || labelled.length > 1) {
      this.fail(error(e.span, `\`${op}[...]\` takes one expression${op === "softmax" ? " and an optional `sink:`" : ""}, but ${positional.length} ${positional.length === 1 ? "was" : "were"} given`));
      return undefined;
    }
    if (op === "softmax") {
      const vars: IndexVar[] = [];
      for (const axis of axes) {
        const slot = scope.get(axis.name);
        if (slot === undefined) {
          this.fail(error(axis.span, `\`softmax[${axis.name}]\` needs \`${axis.name}\` bound outside it`, `bind \`${axis.name}\` on the left (\`p[.., ${axis.name}] = softmax[${axis.name}](...)\`) or with an enclosing \`sum[${axis.name}]\``));
          return undefined;
        }
        vars.push({ name: axis.name, extent: slot.extent! });
      }
      const body = this.expr(positional[0].value, scope);
      if (body === undefined || !this.number(body, "`softmax` takes a number")) return undefined;
      let sink: Typed | undefined;
      if (labelled.length === 1) {
        sink = this.expr(labelled[0].value, scope);
        if (sink === undefined || !this.number(sink, "`sink:` takes a number")) return undefined;
        const dependent = axes.find((a) => freeVars(sink!).has(a.name));
        if (dependent !== undefined) {
          this.fail(error(labelled[0].value.span, `the sink must not depend on \`${dependent.name}\`, the axis of the softmax`, "a sink is one extra score per row, e.g. `sinks[h]`"));
          return undefined;
        }
        sink = toFloat(sink);
      }
      const base = { kind: "softmax" as const, vars, body: toFloat(body), type: "float" as const, span: e.span };
      return sink === undefined ? base : { ...base, sink };
    }
    const inner = new Map(scope);
    const vars: IndexVar[] = [];
    for (const axis of axes) {
      if (scope.has(axis.name)) {
        this.fail(error(axis.span, `\`${axis.name}\` is already bound`, `a reduction binds a new index variable; choose another name than \`${axis.name}\``));
        return undefined;
      }
      const slot = this.slots.get(axis as unknown as A.Expr)!;
      inner.set(axis.name, slot);
      vars.push({ name: axis.name, extent: slot.extent! });
    }
    const body = this.expr(positional[0].value, inner);
    if (body === undefined || !this.number(body, `\`${op}\` takes a number`)) return undefined;
    const type = op === "logsumexp" || body.type === "float" ? "float" : "int";
    return { kind: "reduce", op: op as A.ReduceOp, vars, body: type === "float" ? toFloat(body) : body, type, span: e.span };
  }
}

function toFloat(e: Typed): Typed {
  if (e.type !== "int") return e;
  if (e.kind === "const") return { ...e, type: "float" };
  return { kind: "cast", operand: e, type: "float", span: e.span };
}

function unify(a: Typed, b: Typed): [Typed, Typed, ValueType] {
  if (a.type === "int" && b.type === "int") return [a, b, "int"];
  return [toFloat(a), toFloat(b), "float"];
}
