// Check stage output: the typed program. Plain data; also the tensor-expression IR that graph/ rewrites.
import type { DType, Span, BinaryOp, ReduceOp } from "../syntax/ast.js";

export type ValueType = "int" | "float" | "bool";

/** The extent of an index variable or a tensor dimension: a number known at compile time, or a run-time size. */
export type Extent =
  | { readonly kind: "const"; readonly value: number; /** the `const` it came from, if any */ readonly name?: string }
  | { readonly kind: "size"; readonly name: string };

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

export const extentEquals = (a: Extent, b: Extent): boolean =>
  a.kind === "const" ? b.kind === "const" && a.value === b.value : b.kind === "size" && a.name === b.name;

export const showExtent = (e: Extent): string => (e.kind === "const" ? e.name ?? String(e.value) : e.name);

/** The i32 a float converts to (`i32(x)`, a store to i32): truncated toward zero, saturated, NaN to 0. */
export const toI32 = (x: number): number =>
  Number.isNaN(x) ? 0 : Math.max(-(2 ** 31), Math.min(2 ** 31 - 1, Math.trunc(x))) + 0; // + 0: -0 is 0

export const tensorsOf = (k: CheckedKernel): TensorInfo[] => [...k.inputs, ...k.outputs, ...k.intermediates];
