// Test support: running the built command line (`node dist/cli/main.js`) as a user would, building dist/ first when stale.
import { spawn, spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, readdirSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

export const repoRoot = fileURLToPath(new URL("../../", import.meta.url));
export const cliPath = join(repoRoot, "dist", "cli", "main.js");

export type CliRun = { readonly status: number | null; readonly signal: string | null; readonly stdout: string; readonly stderr: string; readonly ms: number };

/** Runs `attnc ARGS...` in `cwd`; stdout and stderr as UTF-8 text. */
export function runCli(args: readonly string[], options: { cwd?: string; timeoutMs?: number } = {}): CliRun {
  const started = Date.now();
  const run = spawnSync(process.execPath, [cliPath, ...args], {
    cwd: options.cwd ?? repoRoot,
    encoding: "utf8",
    timeout: options.timeoutMs ?? 60_000,
    maxBuffer: 64 * 1024 * 1024,
  });
  if (run.error !== undefined) throw run.error;
  return { status: run.status, signal: run.signal, stdout: run.stdout, stderr: run.stderr, ms: Date.now() - started };
}

/** As runCli, without blocking: several may run at once. */
export function runCliAsync(args: readonly string[], options: { cwd?: string; timeoutMs?: number } = {}): Promise<CliRun> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [cliPath, ...args], { cwd: options.cwd ?? repoRoot, timeout: options.timeoutMs ?? 60_000 });
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    child.stdout.on("data", (b: Buffer) => stdout.push(b));
    child.stderr.on("data", (b: Buffer) => stderr.push(b));
    child.on("error", reject);
    child.on("close", (status, signal) =>
      resolve({ status, signal, stdout: Buffer.concat(stdout).toString("utf8"), stderr: Buffer.concat(stderr).toString("utf8"), ms: Date.now() - started }),
    );
  });
}

function newestModification(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestModification(path) : statSync(path).mtimeMs);
  }
  return newest;
}

const sleep = (ms: number) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);

/**
 * Builds dist/ with tsc when dist/cli/main.js is missing or older than a file under src/ (or package.json).
 * Test files run in parallel processes, so a lock folder makes sure only one of them builds at a time.
 */
export function ensureBuilt(): void {
  const stale = () =>
    !existsSync(cliPath) ||
    statSync(cliPath).mtimeMs < Math.max(newestModification(join(repoRoot, "src")), statSync(join(repoRoot, "package.json")).mtimeMs);
  if (!stale()) return;
  const lock = join(tmpdir(), `attnc-build-${Buffer.from(repoRoot).toString("hex").slice(-32)}.lock`);
  for (;;) {
    try {
      mkdirSync(lock);
      break;
    } catch {
      // Another test process is building; a lock older than 3 minutes was left by one that died.
      const held = statSync(lock, { throwIfNoEntry: false });
      if (held !== undefined && Date.now() - held.mtimeMs > 180_000) rmSync(lock, { recursive: true, force: true });
      else sleep(200);
    }
  }
  try {
    if (!stale()) return;
    const tsc = join(repoRoot, "node_modules", "typescript", "bin", "tsc");
    const build = spawnSync(process.execPath, [tsc, "-p", "tsconfig.build.json"], { cwd: repoRoot, encoding: "utf8", timeout: 300_000 });
    // tsc still writes JavaScript when it finds type errors; those are the typecheck's business, not the CLI tests'.
    if (!existsSync(cliPath)) throw new Error(`building with tsc did not produce ${cliPath}:\n${build.stdout}${build.stderr}`);
    chmodSync(cliPath, 0o755); // as `npm run build` leaves it: `npx attnc` runs the file itself
    if (build.status !== 0) console.warn(`tsc reported errors while building dist/ for the CLI tests:\n${build.stdout.slice(0, 2000)}`);
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}
