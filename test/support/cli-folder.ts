// Test support: a CLI test file's scratch folder (vitest hooks, so apart from cli.ts, which scripts use too).
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll } from "vitest";
import { ensureBuilt, runCliAsync, type CliRun } from "./cli.js";

/**
 * A CLI test file's scratch folder: dist/ is built and the folder made before its tests, and the folder removed after.
 * `file` writes into it and returns the name, which the CLI (run there by `attnc`) prints; `path` joins a name to it.
 */
export function cliFolder(prefix: string) {
  let dir = "";
  beforeAll(() => {
    ensureBuilt();
    dir = mkdtempSync(join(tmpdir(), prefix));
  });
  afterAll(() => {
    if (dir !== "") rmSync(dir, { recursive: true, force: true });
  });
  return {
    path: (name: string): string => join(dir, name),
    file: (name: string, content: string | Uint8Array): string => {
      writeFileSync(join(dir, name), content);
      return name;
    },
    attnc: (...args: string[]): Promise<CliRun> => runCliAsync(args, { cwd: dir }),
  };
}
