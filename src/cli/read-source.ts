// CLI: reading a source file, with non-UTF-8 input turned into a diagnostic.
import { readFileSync, statSync } from "node:fs";
import { position, sourceFile } from "../diagnostics/source.js";
import type { Diagnostic } from "../diagnostics/diagnostic.js";

export type SourceRead = { ok: true; text: string } | { ok: false; usage: string } | { ok: false; diagnostic: Diagnostic; text: string };

export function readSource(path: string): SourceRead {
  let bytes: Buffer;
  try {
    if (statSync(path).isDirectory()) return { ok: false, usage: `${path} is a directory, not an .attn file` };
    bytes = readFileSync(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    return { ok: false, usage: code === "ENOENT" ? `no such file: ${path}` : `cannot read ${path}: ${(e as Error).message}` };
  }
  try {
    const text = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(bytes);
    return { ok: true, text };
  } catch {
    // Find the first byte that is not UTF-8, and point at it.
    let lo = 0;
    let hi = bytes.length;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (validPrefix(bytes.subarray(0, mid))) lo = mid;
      else hi = mid - 1;
    }
    // bytes[0, lo) may end in the start of a sequence that the next byte (or the end of the file) breaks: the bad
    // sequence starts there, at most 3 bytes back, where the prefix is whole UTF-8 text.
    while (lo > 0 && !validPrefix(bytes.subarray(0, lo), false)) lo--;
    const prefix = new TextDecoder("utf-8").decode(bytes.subarray(0, lo));
    const text = new TextDecoder("utf-8").decode(bytes);
    const file = sourceFile(path, prefix);
    const at = position(file, prefix.length);
    return {
      ok: false,
      text,
      diagnostic: {
        severity: "error", message: `the file is not UTF-8 text (byte 0x${bytes[lo].toString(16).padStart(2, "0")} at byte offset ${lo})`,
        file: path, line: at.line, column: at.column, endLine: at.line, endColumn: at.column + 1,
      },
    };
  }
}

/** Whether bytes are UTF-8 text, or (stream) the start of some. */
function validPrefix(bytes: Uint8Array, stream = true): boolean {
  try {
    new TextDecoder("utf-8", { fatal: true }).decode(bytes, { stream });
    return true;
  } catch {
    return false;
  }
}
