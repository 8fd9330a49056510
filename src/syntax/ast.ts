// Syntax stage: the AST of an .attn program. Every node keeps its source span.

import type { Span } from "../diagnostics/diagnostic.js";

export type { Span } from "../diagnostics/diagnostic.js";

export type DType = "f16" | "bf16" | "f32" | "i32";
export type ScalarDType = "f32" | "i32";

export type Name = { readonly name: string; readonly span: Span };

export type Program = {
  readonly consts: readonly ConstDecl[];
  readonly kernels: readonly KernelDecl[];
};

export type ConstDecl = { readonly name: Name; readonly value: number; readonly span: Span };

export type DimFactor =
  | { readonly kind: "size"; readonly name: string; readonly span: Span }
  | { readonly kind: "int"; readonly value: number; readonly span: Span };

/** A dimension or a written extent: a size name, an integer, or a product of them (`HKV * G`). */
export type Dim = DimFactor | { readonly kind: "product"; readonly factors: readonly DimFactor[]; readonly span: Span };

/** An index variable where it is bound, with the extent written there, if any (`j: T * P`). */
export type Binder = Name & { readonly extent?: Dim };

export type TensorParam = {
  readonly kind: "tensor";
  readonly name: Name;
  readonly dtype: DType;
  readonly dims: readonly Dim[];
  readonly span: Span;
};

export type ScalarParam = {
  readonly kind: "scalar";
  readonly name: Name;
  readonly dtype: ScalarDType;
  readonly span: Span;
};

export type Param = TensorParam | ScalarParam;

export type KernelDecl = {
  readonly name: Name;
  readonly params: readonly Param[];
  readonly outputs: readonly Param[];
  readonly body: readonly Statement[];
  readonly span: Span;
};

export type Statement = {
  readonly target: Name;
  readonly indices: readonly Binder[];
  readonly value: Expr;
  readonly span: Span;
};

export type UnaryOp = "-" | "+" | "!";
export type BinaryOp = "+" | "-" | "*" | "/" | "%" | "<" | "<=" | ">" | ">=" | "==" | "!=" | "&&" | "||";
export type ReduceOp = "sum" | "max" | "min" | "logsumexp";

export type Arg = { readonly label?: Name; readonly value: Expr };

export type Expr =
  | { readonly kind: "number"; readonly value: number; readonly isInt: boolean; readonly span: Span }
  | { readonly kind: "name"; readonly name: string; readonly span: Span }
  | { readonly kind: "index"; readonly tensor: Name; readonly indices: readonly Expr[]; readonly span: Span }
  | { readonly kind: "unary"; readonly op: UnaryOp; readonly operand: Expr; readonly span: Span }
  | { readonly kind: "binary"; readonly op: BinaryOp; readonly left: Expr; readonly right: Expr; readonly span: Span }
  | { readonly kind: "ternary"; readonly cond: Expr; readonly then: Expr; readonly otherwise: Expr; readonly span: Span }
  | { readonly kind: "call"; readonly fn: Name; readonly args: readonly Arg[]; readonly span: Span }
  | {
      readonly kind: "reduce";
      readonly op: Name; // sum, max, min, logsumexp, softmax (checked later)
      readonly axes: readonly Expr[];
      /** Per axis, the extent written after it (`sum[j: M](...)`), if any. */
      readonly extents: readonly (Dim | undefined)[];
      readonly args: readonly Arg[];
      readonly span: Span;
    };
