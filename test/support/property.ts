// Property-test support: the seed and scale, compiling without throwing, checking emitted WGSL on Dawn, TypeScript
// wrappers with tsc and CUDA with nvcc in batches, and comparing outputs with NaN equal to NaN.
import { execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import ts from "typescript";
import { compile, type CompileOptions, type CompileResult } from "../../src/compile.js";
import { pascalCase } from "../../src/emit/ts/index.js";
import type { Manifest } from "../../src/manifest.js";
import { requestDevice } from "../../src/runtime/index.js";

/** Fixed for reproducible runs; PROPERTY_SEED=n picks another. */
export const seed = Number(process.env.PROPERTY_SEED ?? 20261203);
/** PROPERTY_RUNS=n (or FUZZ_SCALE=n) runs n times as many inputs. */
export const scale = Number(process.env.PROPERTY_RUNS ?? process.env.FUZZ_SCALE ?? 1);
export const runs = (n: number) => Math.max(1, Math.round(n * scale));

export const repoRoot = join(import.meta.dirname, "../..");

/** A fresh directory under the repository's tmp/ (ignored by git). */
export function scratchDir(prefix: string): string {
  mkdirSync(join(repoRoot, "tmp"), { recursive: true });
  return mkdtempSync(join(repoRoot, "tmp", prefix));
}

export type Attempt = { result?: CompileResult; thrown?: string; ms: number };

/** compile(), timed, with anything it throws caught and shown (with the top of its stack). */
export function tryCompile(source: string, options: CompileOptions): Attempt {
  const start = performance.now();
  try {
    const result = compile(source, options);
    return { result, ms: performance.now() - start };
  } catch (e) {
    const shown = e instanceof Error ? `${e.name}: ${e.message.slice(0, 300)}\n${(e.stack ?? "").split("\n").slice(1, 6).join("\n")}` : String(e);
    return { thrown: shown, ms: performance.now() - start };
  }
}

export const errorsOf = (r: CompileResult) => r.diagnostics.filter((d) => d.severity === "error");
export const showDiagnostics = (r: CompileResult) => errorsOf(r).map((d) => `${d.line}:${d.column} ${d.message}`).join("; ");

/** Dawn's errors for a WGSL module (empty when it is accepted), on the process's device. */
export async function wgslErrors(code: string): Promise<string[]> {
  const { device } = await requestDevice();
  device.pushErrorScope("validation");
  const module = device.createShaderModule({ code });
  const messages = (await module.getCompilationInfo()).messages.filter((m) => m.type === "error");
  const scope = await device.popErrorScope();
  const shown = messages.map((m) => `${m.lineNum}:${m.linePos} ${m.message.slice(0, 300)}`);
  if (shown.length === 0 && scope !== null) shown.push(scope.message.slice(0, 300));
  return shown;
}

/** A well-typed use of a wrapper imported from `./${module}.js`: every input, size and output, keys quoted. */
export function wrapperConsumer(m: Manifest, module: string): string {
  const kernel = pascalCase(m.name);
  const key = (name: string) => `[${JSON.stringify(name)}]`;
  const tensor = (name: string) => m.tensors.find((t) => t.name === name);
  const arrayOf = (name: string) => (tensor(name)?.dtype === "i32" ? "Int32Array" : "Float32Array");
  const inputs = [
    ...m.tensors.filter((t) => t.role === "input").map((t) => `${key(t.name)}: new ${arrayOf(t.name)}(1)`),
    ...m.scalars.map((s) => `${key(s.name)}: 1`),
  ];
  const outputs = m.tensors.filter((t) => t.role === "output");
  return [
    `import { create${kernel}, manifest, wgsl, type ${kernel}Inputs, type ${kernel}Sizes } from "./${module}.js";`,
    `export async function use(device: GPUDevice): Promise<number> {`,
    `  const run = await create${kernel}(device);`,
    `  const inputs: ${kernel}Inputs = { ${inputs.join(", ")} };`,
    `  const sizes: ${kernel}Sizes = { ${m.sizes.map((s) => `${key(s)}: 1`).join(", ")} };`,
    `  const outputs = await run(inputs, sizes);`,
    ...outputs.map((t, x) => `  const out${x}: ${arrayOf(t.name)} = outputs${key(t.name)};`),
    `  return ${[...outputs.map((_, x) => `out${x}.length`), "wgsl.length", "manifest.sizes.length"].join(" + ")};`,
    `}`,
    ``,
  ].join("\n");
}

/**
 * Type-checks wrappers (each with a consumer) in ONE strict tsc program; the errors of each, by its key.
 * attnc/webgpu resolves to the runtime's source.
 */
export function typeCheckWrappers(wrappers: ReadonlyMap<string, { ts: string; manifest: Manifest }>): Map<string, string[]> {
  const dir = scratchDir("property-ts-");
  const files: string[] = [];
  const owner = new Map<string, string>();
  let n = 0;
  for (const [key, w] of wrappers) {
    const module = `w${n++}`;
    for (const [name, text] of [[`${module}.ts`, w.ts], [`use-${module}.ts`, wrapperConsumer(w.manifest, module)]] as const) {
      writeFileSync(join(dir, name), text);
      files.push(join(dir, name));
      owner.set(join(dir, name), key);
    }
  }
  const program = ts.createProgram(files, {
    strict: true, exactOptionalPropertyTypes: true, noUncheckedIndexedAccess: true, noImplicitReturns: true,
    noUnusedLocals: true, noUnusedParameters: true, verbatimModuleSyntax: true,
    target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.NodeNext, moduleResolution: ts.ModuleResolutionKind.NodeNext,
    lib: ["lib.es2022.d.ts"], types: ["@webgpu/types"],
    paths: { "attnc/webgpu": [join(repoRoot, "src/runtime/index.ts")] }, skipLibCheck: true, noEmit: true,
  });
  const out = new Map<string, string[]>([...wrappers.keys()].map((k) => [k, []]));
  for (const d of ts.getPreEmitDiagnostics(program)) {
    const key = d.file === undefined ? undefined : owner.get(d.file.fileName);
    if (key === undefined) {
      if (d.file === undefined) for (const list of out.values()) list.push(`TS${d.code} ${ts.flattenDiagnosticMessageText(d.messageText, " ")}`);
      continue;
    }
    const where = d.file !== undefined && d.start !== undefined ? d.file.getLineAndCharacterOfPosition(d.start) : undefined;
    const file = d.file!.fileName.slice(dir.length + 1);
    out.get(key)!.push(`${file}:${where ? `${where.line + 1}:${where.character + 1}` : ""} TS${d.code} ${ts.flattenDiagnosticMessageText(d.messageText, " ").slice(0, 300)}`);
  }
  return out;
}

const exec = promisify(execFile);

/**
 * Compiles CUDA sources with nvcc for sm_80, a few files per invocation and two invocations at a time; the error
 * output of each that failed, by its key. A batch that fails is retried one file at a time, to name the culprit.
 */
export async function nvccErrors(sources: ReadonlyMap<string, { cuda: string; header: string }>, perBatch = 5): Promise<Map<string, string>> {
  const dir = scratchDir("property-cuda-");
  const jobs: { key: string; file: string }[] = [];
  let n = 0;
  for (const [key, s] of sources) {
    const name = `c${n++}`;
    writeFileSync(join(dir, `${name}.h`), s.header);
    // The header first: it must declare what the source defines, in one translation unit.
    writeFileSync(join(dir, `${name}.cu`), `#include "${name}.h"\n${s.cuda}`);
    jobs.push({ key, file: `${name}.cu` });
  }
  const nvcc = (files: string[]) => exec("nvcc", ["-c", "-gencode=arch=compute_80,code=sm_80", ...files], { cwd: dir, maxBuffer: 1 << 26 });
  const batches: (typeof jobs)[] = [];
  for (let x = 0; x < jobs.length; x += perBatch) batches.push(jobs.slice(x, x + perBatch));
  const failures = new Map<string, string>();
  let next = 0;
  const worker = async () => {
    while (next < batches.length) {
      const batch = batches[next++];
      try {
        await nvcc(batch.map((j) => j.file));
      } catch {
        for (const j of batch) {
          try {
            await nvcc([j.file]);
          } catch (e) {
            failures.set(j.key, ((e as { stderr?: string }).stderr ?? String(e)).split("\n").filter((l) => l.trim() !== "").slice(0, 6).join("\n").slice(0, 1500));
          }
        }
      }
    }
  };
  await Promise.all([worker(), worker()]);
  return failures;
}

/**
 * Where `got` differs from `want` (undefined if nowhere): NaN equals NaN, an infinity equals the same infinity, exact
 * zeros of the reference are exact, and other values agree within `tolerance` relative to the largest finite |want|.
 */
export function disagreement(got: ArrayLike<number>, want: ArrayLike<number>, tolerance: number): string | undefined {
  if (got.length !== want.length) return `length ${got.length}, want ${want.length}`;
  let scale = 1e-30;
  for (let x = 0; x < want.length; x++) if (Number.isFinite(want[x])) scale = Math.max(scale, Math.abs(want[x]));
  for (let x = 0; x < want.length; x++) {
    const g = got[x];
    const w = want[x];
    const ok = Number.isNaN(w) ? Number.isNaN(g) : !Number.isFinite(w) || w === 0 ? g === w || (w === 0 && g === 0) : Math.abs(g - w) <= tolerance * scale;
    if (!ok) return `at ${x}: got ${g}, want ${w} (tolerance ${tolerance} x ${scale.toPrecision(3)})`;
  }
  return undefined;
}
