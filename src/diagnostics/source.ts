// Shared by every stage: offsets to lines and columns, and the caret rendering of diagnostics.
import type { Diagnostic, SpanDiagnostic } from "./diagnostic.js";

export type SourceFile = { readonly name: string; readonly text: string; readonly lineStarts: readonly number[] };

export function sourceFile(name: string, text: string): SourceFile {
  const lineStarts = [0];
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 10) lineStarts.push(i + 1);
    else if (c === 13 && text.charCodeAt(i + 1) !== 10) lineStarts.push(i + 1);
  }
  return { name, text, lineStarts };
}

/** 1-based line and column of an offset. */
export function position(file: SourceFile, offset: number): { line: number; column: number } {
  const clamped = Math.max(0, Math.min(offset, file.text.length));
  let lo = 0;
  let hi = file.lineStarts.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (file.lineStarts[mid] <= clamped) lo = mid;
    else hi = mid - 1;
  }
  return { line: lo + 1, column: clamped - file.lineStarts[lo] + 1 };
}

export function resolve(file: SourceFile, d: SpanDiagnostic): Diagnostic {
  const start = position(file, d.span.start);
  const end = position(file, Math.max(d.span.start, d.span.end));
  const base = {
    severity: d.severity,
    message: d.message,
    file: file.name,
    line: start.line,
    column: start.column,
    endLine: end.line,
    endColumn: end.column,
  };
  return d.hint === undefined ? base : { ...base, hint: d.hint };
}

function lineText(file: SourceFile, line: number): string {
  const start = file.lineStarts[line - 1] ?? file.text.length;
  const next = file.lineStarts[line] ?? file.text.length;
  return file.text.slice(start, next).replace(/\r?\n$|\r$/, "");
}

/** `FILE:LINE:COL: error: message`, the source line, a caret line under the span, and the hint. */
export function formatDiagnostic(file: SourceFile, d: Diagnostic): string {
  const header = `${d.file}:${d.line}:${d.column}: ${d.severity}: ${d.message}`;
  const text = lineText(file, d.line);
  // Control characters from the file would drive the terminal (escape sequences); show each as one harmless character.
  const shown = (text.length > 400 ? text.slice(0, 400) : text).replace(/[\v\f]/g, " ").replace(/[\x00-\x08\x0e-\x1f\x7f-\x9f]/g, "\ufffd");
  const lastColumn = d.endLine === d.line ? d.endColumn : text.length + 1;
  const width = Math.max(1, Math.min(lastColumn, shown.length + 1) - d.column);
  const lead = shown.slice(0, d.column - 1).replace(/[^\t]/g, " ");
  const lines = [header, shown, `${lead}${"^".repeat(width)}`];
  if (d.hint !== undefined) lines.push(`hint: ${d.hint}`);
  return lines.join("\n");
}
