// Syntax stage: source text to AST, with lexer and parser errors as diagnostics.
import type { IToken } from "chevrotain";
import type { Program } from "./ast.js";
import { attnLexer, LParen, LBracket, LBrace, RParen, RBracket, RBrace } from "./tokens.js";
import { attnParser } from "./parser.js";
import { buildAst } from "./build-ast.js";
import { error, type SpanDiagnostic } from "../diagnostics/diagnostic.js";

/** Deeper nesting than this is refused before parsing, so the recursive parser cannot overflow its stack. */
export const maxNesting = 200;

export function parse(text: string): { program?: Program; diagnostics: SpanDiagnostic[] } {
  const diagnostics: SpanDiagnostic[] = [];
  const lexed = attnLexer.tokenize(text);
  for (const e of lexed.errors.slice(0, 20)) {
    const bad = text.slice(e.offset, e.offset + Math.max(1, e.length));
    const shown = /^[\x20-\x7e]+$/.test(bad) ? `\`${bad}\`` : `U+${(bad.codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, "0")}`;
    diagnostics.push(error({ start: e.offset, end: e.offset + Math.max(1, e.length) }, `unexpected character ${shown}`));
  }
  if (lexed.errors.length > 20) {
    const last = lexed.errors[lexed.errors.length - 1];
    diagnostics.push(error({ start: last.offset, end: last.offset + 1 }, `${lexed.errors.length - 20} more unexpected characters`));
  }
  const deep = tooDeep(lexed.tokens);
  if (deep !== undefined) {
    diagnostics.push(error({ start: deep.startOffset, end: deep.startOffset + 1 }, `brackets nested more than ${maxNesting} deep`));
    return { diagnostics };
  }
  attnParser.input = lexed.tokens;
  const cst = attnParser.program();
  for (const e of attnParser.errors.slice(0, 20)) {
    const t = e.token;
    const at = t.tokenType.name === "EOF" || Number.isNaN(t.startOffset) ? eofSpan(text, lexed.tokens) : { start: t.startOffset, end: (t.endOffset ?? t.startOffset) + 1 };
    diagnostics.push(error(at, e.message));
  }
  if (diagnostics.length > 0) return { diagnostics };
  const built = buildAst(cst);
  return { program: built.program, diagnostics: [...diagnostics, ...built.diagnostics] };
}

function eofSpan(text: string, tokens: IToken[]): { start: number; end: number } {
  const last = tokens[tokens.length - 1];
  const at = last === undefined ? text.length : (last.endOffset ?? last.startOffset) + 1;
  return { start: at, end: at + 1 };
}

function tooDeep(tokens: IToken[]): IToken | undefined {
  let depth = 0;
  for (const t of tokens) {
    if (t.tokenType === LParen || t.tokenType === LBracket || t.tokenType === LBrace) {
      if (++depth > maxNesting) return t;
    } else if (t.tokenType === RParen || t.tokenType === RBracket || t.tokenType === RBrace) {
      depth--;
    }
  }
  return undefined;
}
