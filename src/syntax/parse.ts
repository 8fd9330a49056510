// Syntax stage: source text to AST, with lexer and parser errors as diagnostics.
import type { ILexingError, IToken, TokenType } from "chevrotain";
import type { Expr, Program } from "./ast.js";
import {
  attnLexer, LParen, LBracket, LBrace, RParen, RBracket, RBrace, Question, Colon, Minus, Plus, Bang, Identifier, NumberLiteral,
} from "./tokens.js";
import { attnParser } from "./parser.js";
import { buildAst } from "./build-ast.js";
import { error, type SpanDiagnostic } from "../diagnostics/diagnostic.js";

/** Deeper nesting than this is refused before parsing, so the recursive parser cannot overflow its stack. */
export const maxNesting = 200;
/** More tokens than this are refused before parsing: the parser's tree costs about 1 KB a token. */
export const maxTokens = 100_000;
/** A deeper expression (a long chain of operators nests too) is refused, so that no later stage overflows its stack. */
export const maxExpressionDepth = 1000;

/** Characters that text pasted from papers brings, and the operator meant. */
const lookAlikes: Record<string, string | undefined> = { "\u00d7": "*", "\u00b7": "*", "\u00f7": "/", "\u2212": "-", "\u2264": "<=", "\u2265": ">=", "\u2260": "!=" };

export function parse(text: string): { program?: Program; diagnostics: SpanDiagnostic[] } {
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
  const deep = tooDeep(lexed.tokens);
  if (deep !== undefined) {
    diagnostics.push(error({ start: deep.token.startOffset, end: deep.token.startOffset + 1 }, `${deep.what} nested more than ${maxNesting} deep`, "split the expression into several statements"));
    return { diagnostics };
  }
  attnParser.input = lexed.tokens;
  const cst = attnParser.program();
  // The parser never saw a bad character, so it trips on the tokens after it, on its line or at the next token:
  // that is the same mistake, reported once.
  const afterBadCharacter = firstTokensAfter(lexed.errors, lexed.tokens);
  const badLines = new Set(lexed.errors.map((e) => e.line));
  const parseErrors = attnParser.errors.filter((e) => !afterBadCharacter.has(e.token.startOffset) && !badLines.has(e.token.startLine));
  for (const e of parseErrors.slice(0, 20)) {
    const t = e.token;
    const at = t.tokenType.name === "EOF" || Number.isNaN(t.startOffset) ? eofSpan(text, lexed.tokens) : { start: t.startOffset, end: (t.endOffset ?? t.startOffset) + 1 };
    diagnostics.push(error(at, e.message));
  }
  if (diagnostics.length > 0) return { diagnostics };
  const built = buildAst(cst);
  for (const s of built.program.kernels.flatMap((k) => k.body)) {
    if (expressionDepth(s.value) > maxExpressionDepth) {
      built.diagnostics.push(error(s.target.span, `the expression of \`${s.target.name}\` is nested more than ${maxExpressionDepth} deep`, "split it into several statements"));
    }
  }
  return { program: built.program, diagnostics: built.diagnostics };
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

const openers = new Set<TokenType>([LParen, LBracket, LBrace, Question]);
const closers = new Map<TokenType, TokenType>([[RParen, LParen], [RBracket, LBracket], [RBrace, LBrace]]);
const prefixOperators = new Set<TokenType>([Minus, Plus, Bang]);
const operandEnds = new Set<TokenType>([Identifier, NumberLiteral, RParen, RBracket]);

/** Where the parser would recurse deeper than maxNesting: brackets, `?` before its `:`, and runs of prefix operators. */
function tooDeep(tokens: IToken[]): { token: IToken; what: string } | undefined {
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
    if (open.length + prefixRun > maxNesting) {
      return { token: t, what: prefixRun > 0 || open.includes(Question) ? "the expression is" : "brackets" };
    }
    previous = type;
  }
  return undefined;
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
