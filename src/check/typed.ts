// Check stage output: the typed program. Plain data; also the tensor-expression IR that graph/ rewrites.
import type { DType, Span, BinaryOp, ReduceOp } from "../syntax/ast.js";

export type ValueType = "int" | "float" | "bool";

/** A factor of an extent: a number known at compile time, or a run-time size. */
export type ConstExtent = { readonly kind: "const"; readonly value: number; /** the `const` it came from, if any */ readonly name?: string };
export type SizeExtent = { readonly kind: "size"; readonly name: string };

/**
 * The extent of an index variable or a tensor dimension: a number known at compile time, a run-time size, or a
 * product of them (`HKV * G`) with at least one size, in the order written. Made by `productExtent`, so that a
 * product of numbers is a const and a product of one size is that size.
 */
export type Extent =
  | ConstExtent
  | SizeExtent
  | { readonly kind: "product"; readonly factors: readonly (ConstExtent | SizeExtent)[] };

/** The extent of a product of factors, folded: numbers only give a const, one size alone gives that size. */
export function productExtent(factors: readonly Extent[]): Extent {
  const flat = factors.flatMap((f) => (f.kind === "product" ? f.factors : [f]));
  const sizes = flat.filter((f) => f.kind === "size");
  const value = flat.reduce((n, f) => (f.kind === "const" ? n * f.value : n), 1);
  if (sizes.length === 0) return flat.length === 1 ? flat[0] : { kind: "const", value };
  if (flat.length === 1) return flat[0];
  if (sizes.length === 1 && value === 1) return sizes[0];
  return { kind: "product", factors: flat.filter((f) => !(f.kind === "const" && f.value === 1 && f.name === undefined)) };
}

/** An extent as a monomial: a number times the run-time sizes (sorted, with repeats). */
export function monomialOf(e: Extent): { readonly scale: number; readonly sizes: readonly string[] } {
  const factors = e.kind === "product" ? e.factors : [e];
  const scale = factors.reduce((n, f) => (f.kind === "const" ? n * f.value : n), 1);
  return { scale, sizes: factors.flatMap((f) => (f.kind === "size" ? [f.name] : [])).sort() };
}

/** The factors of an extent: itself, unless it is a product. */
export const factorsOf = (e: Extent): readonly (ConstExtent | SizeExtent)[] => (e.kind === "product" ? e.factors : [e]);

/** The value of an extent, given the value of each size. */
export const extentValueOf = (e: Extent, size: (name: string) => number): number =>
  factorsOf(e).reduce((n, f) => n * (f.kind === "const" ? f.value : size(f.name)), 1);

/** The run-time sizes an extent reads. */
export const sizesOf = (e: Extent): string[] => (e.kind === "size" ? [e.name] : e.kind === "product" ? e.factors.flatMap((f) => (f.kind === "size" ? [f.name] : [])) : []);

/** An extent as the manifest and WGSL layout write a dim: a number, a size or const name, or factors joined by `*`. */
export const dimOf = (e: Extent): string | number => {
  const one = (f: ConstExtent | SizeExtent) => (f.kind === "const" ? f.name ?? f.value : f.name);
  return e.kind === "product" ? e.factors.map(one).join("*") : one(e);
};

export type TensorRole = "input" | "output" | "intermediate";

export type TensorInfo = {
  readonly name: string;
  readonly dtype: DType;
  readonly dims: readonly Extent[];
  readonly role: TensorRole;
  readonly span: Span;
};

export type ScalarInfo = { readonly name: string; readonly dtype: "f32" | "i32"; readonly span: Span };

export type IndexVar = { readonly name: string; readonly extent: Extent };

export type MathFn =
  | "exp" | "exp2" | "log" | "log2" | "sqrt" | "rsqrt" | "tanh" | "sigmoid" | "floor" | "ceil"
  | "abs" | "min" | "max" | "clamp"
  /** Float to integer: truncation toward zero, saturating at the i32 range, NaN gives 0 (an integer stays itself). */
  | "i32";

export type Expr =
  | { readonly kind: "const"; readonly value: number; readonly type: ValueType; readonly span: Span }
  /** A value a plan provides to an expression: the score, the accumulator, a tile bound (only after fuse/). */
  | { readonly kind: "ref"; readonly name: RefName; readonly type: ValueType; readonly span: Span }
  | { readonly kind: "var"; readonly name: string; readonly type: "int"; readonly span: Span }
  | { readonly kind: "size"; readonly name: string; readonly type: "int"; readonly span: Span }
  | { readonly kind: "scalar"; readonly name: string; readonly type: "int" | "float"; readonly span: Span }
  | {
      readonly kind: "load";
      readonly tensor: string;
      readonly indices: readonly Expr[];
      /** Per index: true where the compiler could not prove it in range, so it is clamped at run time. */
      readonly clamped: readonly boolean[];
      readonly type: "int" | "float";
      readonly span: Span;
    }
  | { readonly kind: "cast"; readonly operand: Expr; readonly type: "float"; readonly span: Span }
  | { readonly kind: "unary"; readonly op: "neg" | "not"; readonly operand: Expr; readonly type: ValueType; readonly span: Span }
  | { readonly kind: "binary"; readonly op: BinaryOp; readonly left: Expr; readonly right: Expr; readonly type: ValueType; readonly span: Span }
  | { readonly kind: "select"; readonly cond: Expr; readonly then: Expr; readonly otherwise: Expr; readonly type: ValueType; readonly span: Span }
  | { readonly kind: "call"; readonly fn: MathFn; readonly args: readonly Expr[]; readonly type: "int" | "float"; readonly span: Span }
  | { readonly kind: "reduce"; readonly op: ReduceOp; readonly vars: readonly IndexVar[]; readonly body: Expr; readonly type: "int" | "float"; readonly span: Span }
  | {
      readonly kind: "softmax";
      readonly vars: readonly IndexVar[];
      readonly body: Expr;
      readonly sink?: Expr;
      readonly type: "float";
      readonly span: Span;
    };

export type RefName = "score" | "acc" | "stat" | "x" | "i0" | "i1" | "j0" | "j1" | `h${number}`;

export type Statement = {
  readonly target: string;
  readonly vars: readonly IndexVar[];
  readonly value: Expr;
  readonly span: Span;
};

export type CheckedKernel = {
  readonly name: string;
  readonly span: Span;
  /** Run-time sizes, in the order every interface passes them. */
  readonly sizes: readonly string[];
  readonly defines: Readonly<Record<string, number>>;
  readonly inputs: readonly TensorInfo[];
  readonly scalars: readonly ScalarInfo[];
  readonly outputs: readonly TensorInfo[];
  readonly intermediates: readonly TensorInfo[];
  /** In an order where every tensor is defined before it is read. */
  readonly statements: readonly Statement[];
};

/** Equal for every choice of the sizes: the same number times the same sizes. */
export const extentEquals = (a: Extent, b: Extent): boolean => {
  const [x, y] = [monomialOf(a), monomialOf(b)];
  return x.scale === y.scale && x.sizes.length === y.sizes.length && x.sizes.every((s, k) => s === y.sizes[k]);
};

export const showExtent = (e: Extent): string =>
  e.kind === "const" ? e.name ?? String(e.value) : e.kind === "size" ? e.name : e.factors.map(showExtent).join(" * ");

/** How to fix an extent at compile time: `const` or --define each of its sizes. */
export const fixAtCompileTime = (e: Extent): string =>
  sizesOf(e).map((s) => `\`const ${s} = ...\` or --define ${s}=...`).join("; ");

/** The i32 a float converts to (`i32(x)`, a store to i32): truncated toward zero, saturated, NaN to 0. */
export const toI32 = (x: number): number =>
  Number.isNaN(x) ? 0 : Math.max(-(2 ** 31), Math.min(2 ** 31 - 1, Math.trunc(x))) + 0; // + 0: -0 is 0

export const tensorsOf = (k: CheckedKernel): TensorInfo[] => [...k.inputs, ...k.outputs, ...k.intermediates];
