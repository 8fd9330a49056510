// CLI: writing all of `attnc compile`'s files or none: each is written into a temporary folder beside its
// destination, and only once all are written are they renamed into place (a failed rename puts back what was there).
import { existsSync, mkdirSync, mkdtempSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";

/** Writes every file into `dir` (created if missing), or throws having changed nothing. */
export function writeAll(dir: string, files: readonly { name: string; text: string }[]): void {
  const created = mkdirSync(dir, { recursive: true });
  let temp: string | undefined;
  try {
    for (const f of files) {
      const stat = statSync(join(dir, f.name), { throwIfNoEntry: false });
      if (stat !== undefined && !stat.isFile()) throw new Error(`${join(dir, f.name)} is ${stat.isDirectory() ? "a directory" : "not a regular file"}`);
    }
    temp = mkdtempSync(join(dir, ".attnc-"));
    mkdirSync(join(temp, "old"));
    for (const f of files) writeFileSync(join(temp, f.name), f.text);
    const moved: { target: string; backup?: string }[] = [];
    try {
      for (const f of files) {
        const target = join(dir, f.name);
        const backup = existsSync(target) ? join(temp, "old", f.name) : undefined;
        if (backup !== undefined) renameSync(target, backup);
        moved.push({ target, backup });
        renameSync(join(temp, f.name), target);
      }
    } catch (e) {
      for (const m of moved.reverse()) {
        rmSync(m.target, { force: true });
        if (m.backup !== undefined) renameSync(m.backup, m.target);
      }
      throw e;
    }
  } catch (e) {
    if (temp !== undefined) rmSync(temp, { recursive: true, force: true });
    if (created !== undefined) rmSync(created, { recursive: true, force: true });
    throw e;
  }
  rmSync(temp, { recursive: true, force: true });
}
