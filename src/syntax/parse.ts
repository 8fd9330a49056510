// Syntax stage: source text to AST, with lexer and parser errors as diagnostics.
import { EOF, type CstNode, type ILexingError, type IToken, type TokenType } from "chevrotain";
import type { Expr, Program } from "./ast.js";
import * as T from "./tokens.js";
import {
  attnLexer, LParen, LBracket, LBrace, RParen, RBracket, RBrace, Question, Colon, Minus, Plus, Bang, Identifier, NumberLiteral, Kernel, Const,
} from "./tokens.js";
import { attnParser, startsStatement } from "./parser.js";
import { buildAst } from "./build-ast.js";
import { error, type SpanDiagnostic } from "../diagnostics/diagnostic.js";

/**
 * Deeper nesting than this is refused before parsing, so the recursive parser cannot overflow its stack: it overflows
 * near 190 nested `x[` on Node's default stack, so this leaves a margin for callers with deep stacks of their own.
 */
export const maxNesting = 100;
/** More tokens than this are refused before parsing: the parser's tree costs about 1 KB a token. */
export const maxTokens = 100_000;
/** A deeper expression (a long chain of operators nests too) is refused, so that no later stage overflows its stack. */
export const maxExpressionDepth = 1000;

/** Characters that text pasted from papers brings, and the operator meant. */
const lookAlikes: Record<string, string | undefined> = { "\u00d7": "*", "\u00b7": "*", "\u00f7": "/", "\u2212": "-", "\u2264": "<=", "\u2265": ">=", "\u2260": "!=" };

/**
 * The program holds the declarations that parsed; `skipped` names those that did not (a kernel or const with a
 * syntax error), so that the checker says nothing about their names.
 */
export type ParseResult = { program?: Program; diagnostics: SpanDiagnostic[]; skipped?: readonly string[] };

export function parse(text: string): ParseResult {
  const diagnostics: SpanDiagnostic[] = [];
  const lexed = attnLexer.tokenize(text);
  for (const e of lexed.errors.slice(0, 20)) {
    const bad = text.slice(e.offset, e.offset + Math.max(1, e.length));
    const code = `U+${(bad.codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, "0")}`;
    const shown = /^[\x20-\x5f\x61-\x7e]+$/.test(bad) ? `\`${bad}\`` : /^(?!`)[\p{L}\p{N}\p{P}\p{S}]/u.test(bad) ? `\`${String.fromCodePoint(bad.codePointAt(0)!)}\` (${code})` : code;
    const lookAlike = lookAlikes[bad[0]];
    diagnostics.push(error({ start: e.offset, end: e.offset + Math.max(1, e.length) }, `unexpected character ${shown}`, lookAlike && `write \`${lookAlike}\``));
  }
  if (lexed.errors.length > 20) {
    const last = lexed.errors[lexed.errors.length - 1];
    diagnostics.push(error({ start: last.offset, end: last.offset + 1 }, `${lexed.errors.length - 20} more unexpected characters`));
  }
  if (lexed.tokens.length > maxTokens) {
    const first = lexed.tokens[maxTokens];
    diagnostics.push(error({ start: first.startOffset, end: first.startOffset + 1 }, `the program is longer than ${maxTokens} tokens`, "split it into several files"));
    return { diagnostics };
  }
  // Each declaration starts at its keyword (`kernel` or `const` appear nowhere else) and is parsed on its own, so that a
  // mistake in one is reported without hiding the others, and the declarations that parse are still checked.
  const badOffsets = lexed.errors.map((e) => e.offset);
  const afterBadCharacter = firstTokensAfter(lexed.errors, lexed.tokens);
  const badLines = new Set(lexed.errors.map((e) => e.line));
  const program: { consts: Program["consts"][number][]; kernels: Program["kernels"][number][] } = { consts: [], kernels: [] };
  const skipped: string[] = [];
  let parseErrors = 0;
  const chunks = declarations(lexed.tokens);
  for (const [k, chunk] of chunks.entries()) {
    const end = chunks[k + 1]?.[0].startOffset ?? text.length;
    const named = chunk[1]?.tokenType === Identifier ? chunk[1].image : undefined;
    const skip = () => named !== undefined && skipped.push(named);
    const deep = deepest(chunk);
    const tooDeep = () => {
      diagnostics.push(error({ start: deep.token.startOffset, end: deep.token.startOffset + 1 }, `${deep.what} nested more than ${maxNesting} deep`, "split the expression into several statements"));
      skip();
    };
    if (deep.depth > maxNesting) {
      tooDeep();
      continue;
    }
    attnParser.input = chunk;
    let cst: CstNode;
    try {
      cst = attnParser.topLevel();
    } catch (e) {
      // A caller whose own stack is deep may leave the parser less room than maxNesting assumes.
      if (!(e instanceof RangeError)) throw e;
      tooDeep();
      continue;
    }
    // The parser never saw a bad character, so it trips on the tokens after it, on its line or at the next token:
    // that is the same mistake, reported once.
    const errors = attnParser.errors.filter((e) => !afterBadCharacter.has(e.token.startOffset) && !badLines.has(e.token.startLine));
    for (const e of errors) {
      if (parseErrors++ >= 20) break;
      const t = e.token;
      const at = t.tokenType.name === "EOF" || Number.isNaN(t.startOffset) ? eofSpan(text, chunk) : { start: t.startOffset, end: (t.endOffset ?? t.startOffset) + 1 };
      // `y[i] = x[i] +` and the next statement: the mistake is the operator without its operand.
      const k = chunk.indexOf(t);
      const before = chunk[k - 1];
      if (k > 0 && operators.has(before.tokenType) && startsStatement((n) => chunk[k + n - 1]?.tokenType ?? EOF)) {
        diagnostics.push(error({ start: before.startOffset, end: (before.endOffset ?? before.startOffset) + 1 }, `expected an operand after \`${before.image}\``, `\`${t.image}\` on line ${t.startLine} starts the next statement`));
        continue;
      }
      diagnostics.push(error(at, e.message));
    }
    const start = chunk[0].startOffset;
    if (attnParser.errors.length > 0 || badOffsets.some((o) => o >= start && o < end)) {
      skip();
      continue;
    }
    const built = buildAst([cst]);
    diagnostics.push(...built.diagnostics);
    program.consts.push(...built.program.consts);
    for (const kernel of built.program.kernels) {
      // The checker and every later stage recurse over expressions: a kernel with a deeper one is not checked.
      const deepStatements = kernel.body.filter((s) => expressionDepth(s.value) > maxExpressionDepth);
      for (const s of deepStatements) {
        diagnostics.push(error(s.target.span, `the expression of \`${s.target.name}\` is nested more than ${maxExpressionDepth} deep`, "split it into several statements"));
      }
      if (deepStatements.length > 0) skipped.push(kernel.name.name);
      else program.kernels.push(kernel);
    }
  }
  return { program, diagnostics, skipped };
}

/** The tokens of each declaration: from a `kernel` or `const` to the next one (anything before the first is one too). */
function declarations(tokens: readonly IToken[]): IToken[][] {
  const out: IToken[][] = [];
  for (const t of tokens) {
    if (out.length === 0 || t.tokenType === Kernel || t.tokenType === Const) out.push([]);
    out[out.length - 1].push(t);
  }
  return out;
}

function eofSpan(text: string, tokens: IToken[]): { start: number; end: number } {
  const last = tokens[tokens.length - 1];
  const at = last === undefined ? text.length : (last.endOffset ?? last.startOffset) + 1;
  return { start: at, end: at + 1 };
}

function firstTokensAfter(errors: readonly ILexingError[], tokens: readonly IToken[]): Set<number> {
  const starts = new Set<number>();
  let t = 0;
  for (const e of errors) {
    while (t < tokens.length && tokens[t].startOffset < e.offset + e.length) t++;
    if (t < tokens.length) starts.add(tokens[t].startOffset);
  }
  return starts;
}

const operators = new Set<TokenType>([
  T.Plus, T.Minus, T.Star, T.Slash, T.Percent, T.Lt, T.LtEq, T.Gt, T.GtEq, T.EqEq, T.NotEq, T.AndAnd, T.OrOr, T.Bang, T.Question, T.Colon, T.Equals, T.Comma, T.LParen, T.LBracket,
]);
const openers = new Set<TokenType>([LParen, LBracket, LBrace, Question]);
const closers = new Map<TokenType, TokenType>([[RParen, LParen], [RBracket, LBracket], [RBrace, LBrace]]);
const prefixOperators = new Set<TokenType>([Minus, Plus, Bang]);
const operandEnds = new Set<TokenType>([Identifier, NumberLiteral, RParen, RBracket]);

/** Where the parser recurses deepest: brackets, `?` before its `:`, and runs of prefix operators. */
function deepest(tokens: IToken[]): { depth: number; token: IToken; what: string } {
  let deep = { depth: 0, token: tokens[0], what: "brackets" };
  const open: TokenType[] = [];
  let prefixRun = 0;
  let previous: TokenType | undefined;
  for (const t of tokens) {
    const type = t.tokenType;
    prefixRun = prefixOperators.has(type) && (previous === undefined || !operandEnds.has(previous)) ? prefixRun + 1 : 0;
    if (openers.has(type)) open.push(type);
    else if (closers.has(type)) {
      const at = open.lastIndexOf(closers.get(type)!);
      if (at >= 0) open.length = at;
    } else if (type === Colon && open[open.length - 1] === Question) open.pop();
    if (open.length + prefixRun > deep.depth) {
      deep = { depth: open.length + prefixRun, token: t, what: prefixRun > 0 || open.includes(Question) ? "the expression is" : "brackets" };
      // The first token past the limit is where the diagnostic points.
      if (deep.depth > maxNesting) return deep;
    }
    previous = type;
  }
  return deep;
}

function expressionDepth(root: Expr): number {
  let deepest = 0;
  const pending: [Expr, number][] = [[root, 1]];
  for (let next = pending.pop(); next !== undefined; next = pending.pop()) {
    const [e, depth] = next;
    deepest = Math.max(deepest, depth);
    const children =
      e.kind === "index" ? e.indices
      : e.kind === "unary" ? [e.operand]
      : e.kind === "binary" ? [e.left, e.right]
      : e.kind === "ternary" ? [e.cond, e.then, e.otherwise]
      : e.kind === "call" ? e.args.map((a) => a.value)
      : e.kind === "reduce" ? [...e.axes, ...e.args.map((a) => a.value)]
      : [];
    for (const c of children) pending.push([c, depth + 1]);
  }
  return deepest;
}
