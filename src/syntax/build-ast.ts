// Syntax stage: the CST from the parser, turned into the AST. Runs only on declarations without parse errors.
import type { CstNode, IToken } from "chevrotain";
import type * as A from "./ast.js";
import { error, type SpanDiagnostic } from "../diagnostics/diagnostic.js";

type Children = Record<string, (CstNode | IToken)[] | undefined>;

const nodes = (c: Children, key: string): CstNode[] => (c[key] ?? []) as CstNode[];
const tokens = (c: Children, key: string): IToken[] => (c[key] ?? []) as IToken[];
const tokenSpan = (t: IToken): A.Span => ({ start: t.startOffset, end: (t.endOffset ?? t.startOffset) + 1 });
const nodeSpan = (n: CstNode): A.Span => ({ start: n.location!.startOffset, end: (n.location!.endOffset ?? 0) + 1 });
const join = (a: A.Span, b: A.Span): A.Span => ({ start: Math.min(a.start, b.start), end: Math.max(a.end, b.end) });
const nameOf = (t: IToken): A.Name => ({ name: t.image, span: tokenSpan(t) });
const showDim = (d: A.Dim): string => (d.kind === "product" ? d.factors.map(showDim).join(" * ") : d.kind === "size" ? d.name : String(d.value));

const precedence: Record<string, number> = {
  "||": 1, "&&": 2, "==": 3, "!=": 3, "<": 4, "<=": 4, ">": 4, ">=": 4, "+": 5, "-": 5, "*": 6, "/": 6, "%": 6,
};

const dtypes = new Set(["f16", "bf16", "f32", "i32"]);

/** `tops`: topLevel nodes, each parsed without errors. */
export function buildAst(tops: readonly CstNode[]): { program: A.Program; diagnostics: SpanDiagnostic[] } {
  const diagnostics: SpanDiagnostic[] = [];
  const consts: A.ConstDecl[] = [];
  const kernels: A.KernelDecl[] = [];

  const integer = (t: IToken, what: string): number => {
    const value = Number(t.image);
    if (!/^\d+$/.test(t.image) || !Number.isSafeInteger(value) || value > 2 ** 31 - 1) {
      diagnostics.push(error(tokenSpan(t), `${what} must be an integer below 2^31, found \`${t.image}\``));
    }
    return value;
  };

  const param = (n: CstNode): A.Param => {
    const c = n.children as Children;
    const name = nameOf(tokens(c, "name")[0]);
    const dtypeToken = tokens(c, "dtype")[0];
    const dtype = dtypeToken.image;
    const span = nodeSpan(n);
    if (!dtypes.has(dtype)) {
      diagnostics.push(error(tokenSpan(dtypeToken), `unknown dtype \`${dtype}\``, "expected f16, bf16, f32 or i32"));
    }
    if (tokens(c, "LBracket").length === 0) {
      if (dtype === "f16" || dtype === "bf16") {
        diagnostics.push(
          error(tokenSpan(dtypeToken), `a scalar parameter is f32 or i32, not ${dtype}`, `write \`${name.name}: f32\``),
        );
      }
      return { kind: "scalar", name, dtype: dtype === "i32" ? "i32" : "f32", span };
    }
    const dims = nodes(c, "dim").map(dim);
    return { kind: "tensor", name, dtype: dtype as A.DType, dims, span };
  };

  const dimFactor = (d: CstNode): A.DimFactor => {
    const dc = d.children as Children;
    const id = tokens(dc, "Identifier")[0];
    if (id !== undefined) return { kind: "size", name: id.image, span: tokenSpan(id) };
    const num = tokens(dc, "NumberLiteral")[0];
    return { kind: "int", value: integer(num, "a dimension"), span: tokenSpan(num) };
  };

  const dim = (d: CstNode): A.Dim => {
    const factors = nodes(d.children as Children, "dimFactor").map(dimFactor);
    return factors.length === 1 ? factors[0] : { kind: "product", factors, span: nodeSpan(d) };
  };

  const paramList = (n: CstNode | undefined): A.Param[] =>
    n === undefined ? [] : nodes(n.children as Children, "param").map(param);

  const args = (n: CstNode | undefined): A.Arg[] =>
    n === undefined
      ? []
      : nodes(n.children as Children, "arg").map((a) => {
          const ac = a.children as Children;
          const value = expression(nodes(ac, "expression")[0]);
          const label = tokens(ac, "label")[0];
          return label === undefined ? { value } : { label: nameOf(label), value };
        });

  const expression = (n: CstNode): A.Expr => {
    const c = n.children as Children;
    const conds = nodes(c, "cond").map(binary);
    const thens = nodes(c, "then").map(expression);
    // c0 ? t0 : c1 ? t1 : c2 is c0 ? t0 : (c1 ? t1 : c2), folded from the right without recursion.
    let result = conds[conds.length - 1];
    for (let k = thens.length - 1; k >= 0; k--) {
      result = { kind: "ternary", cond: conds[k], then: thens[k], otherwise: result, span: join(conds[k].span, result.span) };
    }
    return result;
  };

  // Precedence climbing over the flat operand/operator list of binaryExpr, without recursion; left-associative.
  const binary = (n: CstNode): A.Expr => {
    const c = n.children as Children;
    const operands = nodes(c, "operand").map(unary);
    const pending: IToken[] = [];
    const done: A.Expr[] = [operands[0]];
    const apply = () => {
      const op = pending.pop()!;
      const right = done.pop()!;
      const left = done.pop()!;
      done.push({ kind: "binary", op: op.image as A.BinaryOp, left, right, span: join(left.span, right.span) });
    };
    tokens(c, "op").forEach((op, k) => {
      while (pending.length > 0 && precedence[pending[pending.length - 1].image] >= precedence[op.image]) apply();
      pending.push(op);
      done.push(operands[k + 1]);
    });
    while (pending.length > 0) apply();
    return done[0];
  };

  const unary = (n: CstNode): A.Expr => {
    const c = n.children as Children;
    const op = tokens(c, "op")[0];
    const operand = nodes(c, "operand")[0];
    if (op === undefined) return primary(operand);
    return { kind: "unary", op: op.image as A.UnaryOp, operand: unary(operand), span: nodeSpan(n) };
  };

  const primary = (n: CstNode): A.Expr => {
    const c = n.children as Children;
    const span = nodeSpan(n);
    const num = tokens(c, "NumberLiteral")[0];
    if (num !== undefined) {
      const isInt = /^\d+$/.test(num.image);
      const value = Number(num.image);
      if (isInt && !Number.isSafeInteger(value)) {
        diagnostics.push(error(span, `integer literal \`${num.image}\` is too large`, "write it as a float, e.g. 1e9"));
      }
      return { kind: "number", value, isInt, span };
    }
    const inner = nodes(c, "expression")[0];
    if (inner !== undefined) return expression(inner);
    const id = tokens(c, "Identifier")[0];
    const indices = nodes(c, "indices")[0];
    const argList = nodes(c, "args")[0];
    const hasCall = tokens(c, "LParen").length > 0;
    const items = indices === undefined ? [] : nodes(indices.children as Children, "item").map((item) => item.children as Children);
    const indexExprs = items.map((ic) => expression(nodes(ic, "expression")[0]));
    const extents = items.map((ic) => nodes(ic, "dim")[0]).map((d) => d && dim(d));
    const hasBrackets = tokens(c, "LBracket").length > 0;
    if (hasBrackets && hasCall) {
      return { kind: "reduce", op: nameOf(id), axes: indexExprs, extents, args: args(argList), span };
    }
    extents.forEach((x, k) => {
      if (x !== undefined) {
        diagnostics.push(error(join(indexExprs[k].span, x.span), "an extent is written where an index variable is bound, not where a tensor is read", `write it on the left (\`t[.., j: ${showDim(x)}] = ...\`) or in a reduction (\`sum[j: ${showDim(x)}](...)\`)`));
      }
    });
    if (hasBrackets) return { kind: "index", tensor: nameOf(id), indices: indexExprs, span };
    if (hasCall) return { kind: "call", fn: nameOf(id), args: args(argList), span };
    if (id.image === "inf") return { kind: "number", value: Infinity, isInt: false, span };
    return { kind: "name", name: id.image, span };
  };

  for (const top of tops) {
    const tc = top.children as Children;
    const constNode = nodes(tc, "constDecl")[0];
    if (constNode !== undefined) {
      const cc = constNode.children as Children;
      const negative = tokens(cc, "Minus").length > 0;
      const value = integer(tokens(cc, "NumberLiteral")[0], "a `const`");
      consts.push({ name: nameOf(tokens(cc, "Identifier")[0]), value: negative ? -value : value, span: nodeSpan(constNode) });
      continue;
    }
    const k = nodes(tc, "kernelDecl")[0];
    const kc = k.children as Children;
    const body = nodes(kc, "statement").map((s): A.Statement => {
      const sc = s.children as Children;
      return {
        target: nameOf(tokens(sc, "target")[0]),
        indices: nodes(sc, "index").map((b): A.Binder => {
          const bc = b.children as Children;
          const written = nodes(bc, "dim")[0];
          const name = nameOf(tokens(bc, "Identifier")[0]);
          return written === undefined ? name : { ...name, extent: dim(written) };
        }),
        value: expression(nodes(sc, "expression")[0]),
        span: nodeSpan(s),
      };
    });
    kernels.push({
      name: nameOf(tokens(kc, "Identifier")[0]),
      params: paramList(nodes(kc, "params")[0]),
      outputs: paramList(nodes(kc, "outputs")[0]),
      body,
      span: nodeSpan(k),
    });
  }
  return { program: { consts, kernels }, diagnostics };
}
