// Golden diagnostics: what `attnc check NAME.attn` prints to stderr and its exit code, for the test and for
// scripts/update-golden.ts alike. In process where the program is UTF-8 text (fast); through the built CLI otherwise,
// since only the CLI reads bytes (src/cli/read-source.ts).
import { readFileSync, readdirSync } from "node:fs";
import { isUtf8 } from "node:buffer";
import { basename, join } from "node:path";
import { fileURLToPath } from "node:url";
import { compile } from "../../src/compile.js";
import { formatDiagnostic, sourceFile } from "../../src/diagnostics/source.js";
import { ensureBuilt, runCli } from "../support/cli.js";

export const goldenDir = fileURLToPath(new URL("./diagnostics/", import.meta.url));

export type CheckOutput = { readonly stderr: string; readonly exitCode: number; readonly via: "in-process" | "cli" };

/** The .attn files of the golden folder, by name. */
export const goldenCases = (): string[] => readdirSync(goldenDir).filter((f) => f.endsWith(".attn")).sort();

export const expectedPath = (attnFile: string): string => join(goldenDir, attnFile.replace(/\.attn$/, ".expected"));

export function checkOutput(attnFile: string): CheckOutput {
  const bytes = readFileSync(join(goldenDir, attnFile));
  if (!isUtf8(bytes)) {
    ensureBuilt();
    const run = runCli(["check", basename(attnFile)], { cwd: goldenDir });
    return { stderr: run.stderr, exitCode: run.status ?? -1, via: "cli" };
  }
  // As src/cli/main.ts does for `check`: compile, then each diagnostic formatted and followed by a newline.
  const text = new TextDecoder("utf-8").decode(bytes); // drops a byte-order mark, as the CLI does
  const result = compile(text, { fileName: attnFile });
  const file = sourceFile(attnFile, text);
  const stderr = result.diagnostics.map((d) => `${formatDiagnostic(file, d)}\n`).join("");
  return { stderr, exitCode: result.diagnostics.some((d) => d.severity === "error") ? 1 : 0, via: "in-process" };
}
