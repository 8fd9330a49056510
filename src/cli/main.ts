#!/usr/bin/env node
// CLI: the commander front end (`attnc compile | check | explain | run`).
import { parseTileSchedule } from "./tile-schedule.js";
import { Command, CommanderError, Option } from "commander";
import { dirname, join } from "node:path";
import { compile, type Target } from "../compile.js";
import { formatDiagnostic, sourceFile } from "../diagnostics/source.js";
import type { Diagnostic } from "../diagnostics/diagnostic.js";
import { readSource } from "./read-source.js";
import { outputFiles } from "./output-files.js";
import { explainPlan } from "../explain.js";
import { parseAssignments, runKernel } from "./run.js";
import { checkProgramNames, checkRunNames } from "./names.js";
import { writeAll } from "./write-files.js";
import { setOwn } from "../records.js";

const usageExit = (message: string): never => {
  process.stderr.write(`attnc: ${message}\n`);
  process.exit(2);
};

function parseDefines(values: string[]): Record<string, number> {
  const defines: Record<string, number> = {};
  for (const value of values) {
    const match = /^([A-Za-z_][A-Za-z0-9_]*)=(\d+)$/.exec(value);
    if (match === null || Number(match[2]) < 1 || Number(match[2]) > 2 ** 31 - 1) {
      usageExit(`--define takes NAME=INT with INT >= 1, got \`${value}\``);
    }
    setOwn(defines, match![1], Number(match![2]));
  }
  return defines;
}

function printDiagnostics(path: string, text: string, diagnostics: readonly Diagnostic[]): void {
  const file = sourceFile(path, text);
  for (const d of diagnostics) process.stderr.write(`${formatDiagnostic(file, d)}\n`);
}

const noKernel = "the file declares no kernel";

/**
 * Reads and compiles; exits 2 when --define or --kernel names nothing in the file, and 1 (after printing) when the
 * program has errors, or (`need`: compile, explain and run) declares no kernel, which `check` only warns of.
 */
function load(path: string, options: { define: string[]; kernel?: string; target?: Target; schedule?: "auto" | "fused" | "naive"; arch?: "sm_80" | "sm_90a"; tileSchedule?: string; need?: string }) {
  const read = readSource(path);
  if (!read.ok && "usage" in read) return usageExit(read.usage);
  if (!read.ok) {
    printDiagnostics(path, read.text, [read.diagnostic]);
    process.exit(1);
  }
  const defines = parseDefines(options.define);
  const wrong = checkProgramNames(read.text, defines, options.kernel);
  if (wrong !== undefined) return usageExit(wrong);
  const pin = options.tileSchedule === undefined ? undefined : parseTileSchedule(options.tileSchedule);
  if (pin !== undefined && "usage" in pin) return usageExit(pin.usage);
  const result = compile(read.text, {
    fileName: path, defines, kernel: options.kernel,
    target: options.target, schedule: options.schedule, arch: options.arch, ...(pin !== undefined ? { tileSchedule: pin.override } : {}),
  });
  const failed = result.diagnostics.some((d) => d.severity === "error");
  const empty = !failed && result.kernels.length === 0 && options.need !== undefined;
  const asError = (d: Diagnostic): Diagnostic => (d.message === noKernel ? { ...d, severity: "error", message: `${noKernel}: nothing to ${options.need}` } : d);
  printDiagnostics(path, read.text, empty ? result.diagnostics.map(asError) : result.diagnostics);
  if (failed || empty) process.exit(1);
  return result;
}

const collect = (value: string, previous: string[]) => [...previous, value];

const tileScheduleHelp = "pin tile-schedule fields of every fused stage: JSON, e.g. '{\"cuda\":{\"path\":\"mma\",\"warps\":8},\"wgsl\":{\"blockQ\":32}}', or cuda.path=mma,wgsl.blockQ=32";

/** `--sizes B=1,N=77` and `--scalars W=16` (explain and run). */
function parseSizesAndScalars(options: { sizes: string; scalars: string }) {
  const sizes = parseAssignments(options.sizes, true) ?? usageExit(`--sizes takes NAME=INT,... with 0 <= INT < 2^31, got \`${options.sizes}\``);
  const scalars = parseAssignments(options.scalars, false) ?? usageExit(`--scalars takes NAME=NUMBER,..., got \`${options.scalars}\``);
  return { sizes, scalars };
}

const program = new Command()
  .name("attnc")
  .description("An attention compiler: .attn tensor expressions to fused CUDA and WGSL kernels")
  .version("0.1.0")
  .exitOverride()
  .configureOutput({ writeErr: (s) => process.stderr.write(s) });

program
  .command("check")
  .description("report diagnostics only")
  .argument("<file>", "an .attn file")
  .option("--define <NAME=INT>", "add or override a const (repeatable)", collect, [])
  .action((file: string, options: { define: string[] }) => {
    load(file, options);
  });

program
  .command("compile")
  .description("write NAME.cu, NAME.h, NAME.wgsl, NAME.ts and NAME.json for each kernel")
  .argument("<file>", "an .attn file")
  .addOption(new Option("--target <target>", "what to emit").choices(["cuda", "wgsl", "all"]).default("all"))
  .option("--out <dir>", "output folder (default: beside the input)")
  .option("--define <NAME=INT>", "add or override a const (repeatable)", collect, [])
  .option("--kernel <name>", "compile only this kernel")
  .addOption(new Option("--schedule <schedule>", "fused needs the attention chain").choices(["auto", "fused", "naive"]).default("auto"))
  .addOption(new Option("--arch <arch>", "CUDA architecture").choices(["sm_80", "sm_90a"]).default("sm_80"))
  .option("--tile-schedule <fields>", tileScheduleHelp)
  .action((file: string, options: { target: Target; out?: string; define: string[]; kernel?: string; schedule: "auto" | "fused" | "naive"; arch: "sm_80" | "sm_90a"; tileSchedule?: string }) => {
    const result = load(file, { ...options, need: "compile" });
    const dir = options.out ?? dirname(file);
    const files = result.kernels.flatMap((k) => outputFiles(k, options.target));
    try {
      writeAll(dir, files);
    } catch (e) {
      usageExit(`cannot write to ${dir} (nothing was written): ${(e as Error).message}`);
    }
    for (const f of files) process.stdout.write(`wrote ${join(dir, f.name)}\n`);
  });

program
  .command("explain")
  .description("show the attention chain found (or why none), the schedule and the tile plan")
  .argument("<file>", "an .attn file")
  .option("--define <NAME=INT>", "add or override a const (repeatable)", collect, [])
  .option("--kernel <name>", "explain only this kernel")
  .option("--sizes <list>", "sizes for the tile counts, e.g. N=8192,M=8192 (default 4096 each)", "")
  .option("--scalars <list>", "scalars the mask reads, for the tile counts, e.g. W=1024", "")
  .option("--tile <QxK>", "tile for the counts (default: the CUDA schedule's)")
  .addOption(new Option("--arch <arch>", "CUDA architecture of the schedule shown").choices(["sm_80", "sm_90a"]).default("sm_80"))
  .option("--tile-schedule <fields>", tileScheduleHelp)
  .action((file: string, options: { define: string[]; kernel?: string; sizes: string; scalars: string; tile?: string; arch: "sm_80" | "sm_90a"; tileSchedule?: string }) => {
    const { sizes, scalars } = parseSizesAndScalars(options);
    const tile = options.tile === undefined ? undefined : /^(\d+)x(\d+)$/.exec(options.tile);
    const inRange = (x: string) => Number(x) >= 1 && Number(x) <= 2 ** 31 - 1;
    if (tile === null || (tile !== undefined && (!inRange(tile[1]) || !inRange(tile[2])))) return usageExit(`--tile takes QxK with integers from 1 to 2^31 - 1, got \`${options.tile}\``);
    const result = load(file, { ...options, need: "explain" });
    const wrong = checkRunNames(result.kernels.map((k) => k.checked), sizes, scalars);
    if (wrong !== undefined) return usageExit(wrong);
    const text = readSource(file);
    const source = sourceFile(file, text.ok ? text.text : "");
    const at = { ...(tile !== undefined ? { blockQ: Number(tile[1]), blockK: Number(tile[2]) } : {}), sizes, scalars };
    for (const k of result.kernels) process.stdout.write(explainPlan(k.plan, source, at, k.manifest.tileSchedule));
  });

program
  .command("run")
  .description("compile for WebGPU, run on the adapter at hand with random inputs, and print the largest error against the float64 reference")
  .argument("<file>", "an .attn file")
  .option("--sizes <list>", "run-time sizes, e.g. B=1,H=4,N=77,M=93 (defaults: B=1 H=4 HKV=2 N=77 M=93, others 33)", "")
  .option("--scalars <list>", "scalar parameters, e.g. G=2,W=16 (defaults: G=2 W=16 cap=20 bias=-1, others random)", "")
  .option("--define <NAME=INT>", "add or override a const (repeatable)", collect, [])
  .option("--kernel <name>", "run only this kernel")
  .addOption(new Option("--schedule <schedule>", "fused needs the attention chain").choices(["auto", "fused", "naive"]).default("auto"))
  .option("--seed <int>", "random inputs from this seed", "1")
  .action(async (file: string, options: { sizes: string; scalars: string; define: string[]; kernel?: string; schedule: "auto" | "fused" | "naive"; seed: string }) => {
    const { sizes, scalars } = parseSizesAndScalars(options);
    const seed = /^\d+$/.test(options.seed) ? Number(options.seed) : usageExit(`--seed takes a non-negative integer, got \`${options.seed}\``);
    const result = load(file, { ...options, target: "wgsl", need: "run" });
    const wrong = checkRunNames(result.kernels.map((k) => k.checked), sizes, scalars);
    if (wrong !== undefined) return usageExit(wrong);
    let ok = true;
    for (const k of result.kernels) {
      const report = await runKernel(k, { sizes, scalars, seed });
      process.stdout.write(report.text);
      ok &&= report.ok;
    }
    process.exit(ok ? 0 : 1);
  });

try {
  await program.parseAsync(process.argv);
} catch (e) {
  if (e instanceof CommanderError) process.exit(e.exitCode === 0 ? 0 : 2);
  throw e;
}

