// The front end as one call: source text to checked kernels and resolved diagnostics.
import { parse } from "./syntax/parse.js";
import { checkProgram } from "./check/check.js";
import type { CheckedKernel } from "./check/typed.js";
import { resolve, sourceFile, type SourceFile } from "./diagnostics/source.js";
import { error, type Diagnostic, type SpanDiagnostic } from "./diagnostics/diagnostic.js";

export type FrontEndOptions = { readonly fileName?: string; readonly defines?: Readonly<Record<string, number>> };
export type FrontEndResult = { readonly file: SourceFile; readonly kernels: readonly CheckedKernel[]; readonly diagnostics: readonly Diagnostic[] };

/** Any source up to this many characters is compiled; larger input gets a diagnostic. */
export const maxSourceLength = 64 * 1024 * 1024;

export function frontEnd(text: string, options: FrontEndOptions = {}): FrontEndResult {
  const file = sourceFile(options.fileName ?? "<input>", text);
  const spanDiagnostics: SpanDiagnostic[] = [];
  let kernels: CheckedKernel[] = [];
  if (text.length > maxSourceLength) {
    spanDiagnostics.push(error({ start: 0, end: 0 }, `the file is larger than ${maxSourceLength / 1024 / 1024} MiB`));
  } else {
    try {
      const parsed = parse(text);
      spanDiagnostics.push(...parsed.diagnostics);
      // The declarations that parsed are checked even where others did not, so that one run reports every mistake.
      if (parsed.program !== undefined) {
        const incomplete = parsed.diagnostics.some((d) => d.severity === "error");
        const checked = checkProgram(parsed.program, { defines: options.defines, skipped: parsed.skipped, incomplete });
        spanDiagnostics.push(...checked.diagnostics);
        kernels = checked.kernels;
      }
    } catch (e) {
      // A compiler bug must still come out as a diagnostic, never as a stack trace.
      spanDiagnostics.push(error({ start: 0, end: 0 }, `internal compiler error: ${e instanceof Error ? e.message : String(e)}`));
      kernels = [];
    }
  }
  spanDiagnostics.sort((a, b) => a.span.start - b.span.start);
  const diagnostics = spanDiagnostics.map((d) => resolve(file, d));
  if (diagnostics.some((d) => d.severity === "error")) kernels = [];
  return { file, kernels, diagnostics };
}
