// Shared by every stage: diagnostics as values with a span, collected, never thrown.
/** A range of the source text, as offsets: every AST and IR node that came from source keeps one. */
export type Span = { readonly start: number; readonly end: number };

export type Severity = "error" | "warning";

/** A diagnostic as a stage reports it: a span into the source it was given. */
export type SpanDiagnostic = {
  readonly severity: Severity;
  readonly message: string;
  readonly span: Span;
  readonly hint?: string;
};

/** A diagnostic as the library returns it: resolved to 1-based lines and columns. */
export type Diagnostic = {
  readonly severity: Severity;
  readonly message: string;
  readonly file: string;
  readonly line: number;
  readonly column: number;
  readonly endLine: number;
  readonly endColumn: number;
  readonly hint?: string;
};

export const error = (span: Span, message: string, hint?: string): SpanDiagnostic =>
  hint === undefined ? { severity: "error", message, span } : { severity: "error", message, span, hint };

export const warning = (span: Span, message: string, hint?: string): SpanDiagnostic =>
  hint === undefined ? { severity: "warning", message, span } : { severity: "warning", message, span, hint };

export const hasErrors = (diagnostics: readonly { severity: Severity }[]): boolean =>
  diagnostics.some((d) => d.severity === "error");

/** "did you mean `x`?" for the closest candidate within a small edit distance. */
export function didYouMean(name: string, candidates: Iterable<string>): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of candidates) {
    const distance = editDistance(name.toLowerCase(), candidate.toLowerCase());
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  // Replacing every character is no resemblance: `j` does not suggest `i`.
  const limit = Math.min(Math.max(1, Math.floor(name.length / 3)), name.length - 1);
  return best !== undefined && bestDistance <= limit ? `did you mean \`${best}\`?` : undefined;
}

/** Edits (insert, delete, substitute, or swap two neighbours: `scael` is one edit from `scale`) from a to b. */
function editDistance(a: string, b: string): number {
  let beforePrevious: number[] = [];
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = previous[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1);
      let best = Math.min(previous[j] + 1, current[j - 1] + 1, substitution);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) best = Math.min(best, beforePrevious[j - 2] + 1);
      current.push(best);
    }
    beforePrevious = previous;
    previous = current;
  }
  return previous[b.length];
}
