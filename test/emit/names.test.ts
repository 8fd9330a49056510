// Emit: user names live in a namespace of their own in every target. No identifier the printers generate begins
// with a prefix reserved for user names, and programs whose tensors, indices, sizes, scalars and kernels are named
// after keywords, macros, reserved words and every generated identifier of the examples compile in every target:
// WGSL that Dawn accepts (and that runs like the interpreter), TypeScript that tsc accepts, CUDA that nvcc accepts.
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import ts from "typescript";
import { afterAll, describe, expect, it } from "vitest";
import { compile } from "../../src/compile.js";
import { frontEnd } from "../../src/frontend.js";
import { planKernel, type KernelPlan } from "../../src/plan/plan.js";
import { emitWgsl } from "../../src/emit/wgsl/index.js";
import { wgslUserPrefixes } from "../../src/emit/wgsl/dialect.js";
import { emitCuda } from "../../src/emit/cuda/index.js";
import { scheduleCuda, scheduleWgsl } from "../../src/schedule/index.js";
import { nameText } from "../../src/emit/names.js";
import { pascalCase } from "../../src/emit/ts/index.js";
import { releaseDevice, requestDevice } from "../../src/runtime/index.js";
import { runCase } from "../exec/support.js";

const run = promisify(execFile);
/** The plan printed on its default schedule. */
const wgslOf = (plan: KernelPlan) => {
  const scheduled = scheduleWgsl(plan);
  return emitWgsl(scheduled.plan, scheduled.schedule).code;
};
const cudaOf = (plan: KernelPlan) => {
  const scheduled = scheduleCuda(plan, "sm_80");
  return emitCuda(scheduled.plan, scheduled.schedule);
};
const repoRoot = join(import.meta.dirname, "../..");
const scratch: string[] = [];
afterAll(() => {
  for (const dir of scratch) rmSync(dir, { recursive: true, force: true });
  return releaseDevice();
});
const scratchDir = (prefix: string) => {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  scratch.push(dir);
  return dir;
};

const programs = [...readdirSync("examples").map((f) => join("examples", f)), ...readdirSync("bench/cuda/programs").map((f) => join("bench/cuda/programs", f))]
  .filter((f) => f.endsWith(".attn")).sort();

/** Identifiers of generated code, comments and string literals left out. */
const identifiersOf = (code: string): Set<string> =>
  new Set(code.replace(/\/\/.*$/gm, "").replace(/\/\*[\s\S]*?\*\//g, "").replace(/"(?:[^"\\\n]|\\.)*"/g, "").match(/[A-Za-z_][A-Za-z0-9_]*/g) ?? []);

/** Every example (and benchmark program) at its own head dim and at D = 128, for both CUDA architectures. */
const emitted = programs.flatMap((file) => [undefined, 128].flatMap((D) => (["sm_80", "sm_90a"] as const).flatMap((arch) =>
  compile(readFileSync(file, "utf8"), { fileName: file, arch, defines: D === undefined ? {} : { D } }).kernels.map((k) => ({ file, arch, k })))));

/** The names of a plan that can reach code: tensors, sizes, scalars, index variables (declared or read). */
function userNames(plan: KernelPlan): Set<string> {
  const names = new Set<string>([...plan.kernel.sizes, ...plan.kernel.scalars.map((s) => s.name)]);
  for (const t of [...plan.kernel.inputs, ...plan.kernel.outputs, ...plan.buffers]) names.add(t.name);
  const walk = (x: unknown): void => {
    if (Array.isArray(x)) x.forEach(walk);
    else if (x !== null && typeof x === "object") {
      const o = x as Record<string, unknown>;
      if (typeof o.name === "string" && (o.kind === "var" || "extent" in o)) names.add(o.name);
      if (o.kind === "load" && typeof o.tensor === "string") names.add(o.tensor);
      Object.values(o).forEach(walk);
    }
  };
  walk(plan.stages);
  return names;
}

describe("the namespace of user names", () => {
  it("is used by no generated identifier of the examples' WGSL and CUDA", () => {
    const stray: string[] = [];
    for (const { file, arch, k } of emitted) {
      const names = [...userNames(k.plan), ...(k.wgslPlan ? userNames(k.wgslPlan) : [])].map(nameText);
      const wgslOwn = new Set(wgslUserPrefixes.flatMap((p) => names.map((n) => p + n)));
      for (const id of identifiersOf(k.wgsl ?? "")) {
        if (wgslUserPrefixes.some((p) => id.startsWith(p)) && !wgslOwn.has(id)) stray.push(`${file} ${k.name} WGSL: ${id}`);
      }
      const fn = `attnc_${nameText(k.name)}`;
      const cudaOwn = new Set([...names.map((n) => `ix_${n}`), `${fn}_launch`, `${fn}_args`, `${fn}_run`, ...Array.from({ length: 16 }, (_, i) => `${fn}_stage${i}`)]);
      for (const id of [...identifiersOf(k.cuda ?? ""), ...identifiersOf(k.header ?? "")]) {
        const reserved = id.startsWith("ix_") || /^attnc_.*_(?:launch|args|run|stage\d+)$/.test(id);
        if (reserved && !cudaOwn.has(id)) stray.push(`${file} ${k.name} CUDA ${arch}: ${id}`);
      }
    }
    expect(stray).toEqual([]);
  });
});

// Keywords, reserved words and predeclared names of the targets, and names the headers define.
const cppWords = `alignas alignof and and_eq asm auto bitand bitor bool break case catch char char8_t char16_t char32_t class compl
concept const consteval constexpr constinit const_cast continue co_await co_return co_yield decltype default delete do double
dynamic_cast else enum explicit export extern false float for friend goto if inline int long mutable namespace new noexcept
not not_eq nullptr operator or or_eq private protected public register reinterpret_cast requires return short signed sizeof
static static_assert static_cast struct switch template this thread_local throw true try typedef typeid typename union
unsigned using virtual void volatile wchar_t while xor xor_eq restrict NULL EOF errno assert offsetof stdin stdout stderr
INFINITY NAN INT_MAX INT64_MAX UINT32_MAX SIZE_MAX int8_t int16_t int32_t int64_t uint8_t uint32_t uint64_t size_t uintptr_t
ptrdiff_t cudaStream_t cudaError_t cudaSuccess cudaErrorInvalidValue cudaMemcpyHostToDevice cudaStreamNonBlocking
CUDART_VERSION __CUDA_ARCH__ __global__ __device__ __shared__ __half __nv_bfloat16 threadIdx blockIdx blockDim gridDim
warpSize __syncthreads dim3 float4 uint4 half2 std min max abs fminf expf printf malloc free main Params p t st dim sz sf si`;
const wgslWords = `alias break case const const_assert continue continuing default diagnostic discard else enable false fn for if let
loop override requires return struct switch true var while NULL Self abstract active alignas alignof as asm asm_fragment async
attribute auto await become binding_array cast catch class co_await co_return co_yield coherent column_major common compile
compile_fragment concept const_cast consteval constexpr constinit crate debugger decltype delete demote demote_to_helper do
dynamic_cast enum explicit export extends extern external fallthrough filter final finally friend from fxgroup get goto
groupshared highp impl implements import inline instanceof interface layout lowp macro macro_rules match mediump meta mod
module move mut mutable namespace new nil noexcept noinline nointerpolation noperspective null nullptr of operator package
packoffset partition pass patch pixelfragment precise precision premerge priv protected pub public readonly ref regardless
register reinterpret_cast require resource restrict self set shared sizeof smooth snorm static static_assert static_cast std
subroutine super target template this thread_local throw trait try type typedef typeid typename typeof union unless unorm
unsafe unsized use using varying virtual volatile wgsl where with writeonly yield f16 f32 i32 u32 bool vec2 vec3 vec4 vec4f
vec2u mat4x4 array atomic ptr sampler texture_2d uniform storage workgroup private function read write read_write bitcast
select fma clamp workgroupBarrier workgroupUniformLoad unpack2x16float pack2x16float arrayLength main params`;
const tsWords = `break case catch class const continue debugger default delete do else enum export extends false finally for function
if import in instanceof new null return super switch this throw true try typeof var void while with implements interface let
package private protected public static yield await async any unknown never number string symbol object undefined type as
from of keyof readonly declare namespace module require global constructor prototype __proto__ toString valueOf hasOwnProperty
Promise GPUDevice Float32Array Int32Array Record webgpu manifest wgsl device run inputs sizes outputs`;
/** Digits after `_`, underscores alone or doubled, names of 40,000 characters. */
const oddNames = ["_0", "_1", "_9x", "_0_", "_", "__", "___a", "a__b", "x_", "_x0_u0", "ix_", "ix_i", "t_", "ld_q", "size_N", "scalar_s",
  "attnc_", "attnc_0_u0", "a".repeat(40_000), `_${"9".repeat(40_000)}`, `b${"_c".repeat(20_000)}`];

/** Every identifier of the examples' emitted code, and the words above. */
const generated = new Set(emitted.flatMap(({ k }) => [k.wgsl, k.cuda, k.header, k.ts].flatMap((code) => [...identifiersOf(code ?? "")])));
const candidates = [...new Set([...[cppWords, wgslWords, tsWords].flatMap((s) => s.split(/\s+/)), ...generated, ...oddNames])].filter((n) => n !== "").sort();

/** The hostile program: 15 names, in the order kernel, scalar, 3 sizes, 5 tensors, 5 index variables. */
const slots = 15;
const source = (n: readonly string[]) => {
  const [kernel, scale, B, N, M, q, k, v, o, s, b, i, j, d, e] = n;
  return [
    `kernel ${kernel}(${q}: f16[${B}, ${N}, 8], ${k}: f16[${B}, ${M}, 8], ${v}: bf16[${B}, ${M}, 8], ${scale}: f32) -> (${o}: f32[${B}, ${N}, 8]) {`,
    `  ${s}[${b}, ${i}, ${j}] = sum[${d}](${q}[${b}, ${i}, ${d}] * ${k}[${b}, ${j}, ${d}]) * ${scale}`,
    `  ${o}[${b}, ${i}, ${e}] = sum[${j}](softmax[${j}](where(${j} <= ${i} + 3, ${s}[${b}, ${i}, ${j}], -inf)) * ${v}[${b}, ${j}, ${e}])`,
    "}",
    "",
  ].join("\n");
};
const plain = Array.from({ length: slots }, (_, s) => `probe${s}name`);
const accepted = (n: readonly string[]) => !frontEnd(source(n)).diagnostics.some((x) => x.severity === "error");
/** The names the language itself takes (its keywords and builtins) are left out: in any slot, they are a diagnostic. */
const hostile = candidates.filter((name) => plain.every((_, slot) => accepted(plain.map((p, s) => (s === slot ? name : p)))));
/** Program p names slot s after hostile[p + s]: every name in every slot once. */
const hostilePrograms = hostile.map((_, p) => source(Array.from({ length: slots }, (_, s) => hostile[(p + s) % hostile.length])));

describe("programs named after keywords and generated identifiers", () => {
  it("keep almost every name: only the language's own words are refused", () => {
    const refused = candidates.filter((n) => !hostile.includes(n));
    expect(hostile.length).toBeGreaterThan(800);
    // .attn's keywords and builtins, the names of its functions and dtypes: a diagnostic, never a crash.
    expect(refused.length, refused.join(" ")).toBeLessThan(40);
    expect(refused.filter((n) => !/^[a-z0-9_]+$/.test(n))).toEqual([]);
  });

  it("give WGSL that Dawn accepts, in every slot", async () => {
    const { device } = await requestDevice();
    const failures: string[] = [];
    const modules = hostilePrograms.map((text, p) => {
      const front = frontEnd(text);
      expect(front.diagnostics.filter((x) => x.severity === "error"), text.slice(0, 200)).toEqual([]);
      const plan = planKernel(front.kernels[0], "auto").plan;
      return [wgslOf(plan), wgslOf(planKernel(front.kernels[0], "naive").plan)].map((code) => ({ p, code, module: device.createShaderModule({ code }) }));
    }).flat();
    for (const m of modules) {
      const errors = (await m.module.getCompilationInfo()).messages.filter((x) => x.type === "error");
      if (errors.length > 0) failures.push(`program ${m.p} (${hostile[m.p].slice(0, 40)}...): ${errors.map((x) => `${x.lineNum}:${x.linePos} ${x.message}`).join("; ").slice(0, 400)}`);
    }
    expect(failures).toEqual([]);
  }, 300_000);

  it("run on the WebGPU adapter like the interpreter (a sample, fused and naive)", async () => {
    const sample = [0, 1, 2, 3, 4, 5, 6, 7].map((x) => Math.floor((x * hostile.length) / 8));
    // And every program with a 40,000-character name in a tensor's or an index variable's slot.
    for (const p of hostilePrograms.keys()) if (hostile[(p + 5) % hostile.length].length > 1000 || hostile[(p + 11) % hostile.length].length > 1000) sample.push(p);
    for (const p of sample) {
      const names = Array.from({ length: slots }, (_, s) => hostile[(p + s) % hostile.length]);
      // The runner keeps sizes and outputs in plain objects, where `__proto__` is the prototype (not the emitters').
      if (names.includes("__proto__")) continue;
      const c = { source: hostilePrograms[p], sizes: { [names[2]]: 2, [names[3]]: 19, [names[4]]: 21 }, scalars: { [names[1]]: 0.3 } };
      for (const schedule of ["fused", "naive"] as const) {
        const { schedule: ran } = await runCase(c, schedule);
        expect(ran).toBe(schedule);
      }
    }
  }, 300_000);

  it("give TypeScript wrappers that tsc accepts (every name as a kernel's, and a sample in every slot)", () => {
    for (const name of hostile) expect(pascalCase(name)).toMatch(/^[A-Z][A-Za-z0-9]*$/);
    const dir = scratchDir("attnc-names-ts-");
    const files: string[] = [];
    // Programs whose kernel slot holds a TypeScript word, a digit name or a long name (their other slots hold the names after it).
    const chosen = new Set<number>();
    const words = new Set(tsWords.split(/\s+/));
    hostile.forEach((name, p) => {
      if (words.has(name) || /^_\d/.test(name) || name.length > 1000) chosen.add(p);
    });
    for (const p of [...chosen].slice(0, 80)) {
      const k = compile(hostilePrograms[p], { target: "wgsl", fileName: `program${p}.attn` }).kernels[0];
      const kernel = pascalCase(k.name);
      const file = join(dir, `program${p}.ts`);
      writeFileSync(file, k.ts!);
      const key = (name: string) => JSON.stringify(name);
      const inputs = [...k.manifest.tensors.filter((t) => t.role === "input").map((t) => `${key(t.name)}: new Float32Array(1)`), ...k.manifest.scalars.map((s) => `${key(s.name)}: 1`)];
      writeFileSync(join(dir, `use${p}.ts`), [
        `import { create${kernel}, type ${kernel}Inputs, type ${kernel}Sizes } from "./program${p}.js";`,
        `export async function use(device: GPUDevice): Promise<number> {`,
        `  const inputs: ${kernel}Inputs = { ${inputs.join(", ")} };`,
        `  const sizes: ${kernel}Sizes = { ${k.manifest.sizes.map((s) => `${key(s)}: 1`).join(", ")} };`,
        `  const outputs = await (await create${kernel}(device))(inputs, sizes);`,
        `  return ${k.manifest.tensors.filter((t) => t.role === "output").map((t) => `outputs[${key(t.name)}].length`).join(" + ")};`,
        `}`,
        ``,
      ].join("\n"));
      files.push(file, join(dir, `use${p}.ts`));
    }
    expect(files.length).toBeGreaterThan(40);
    const program = ts.createProgram(files, {
      strict: true, noUnusedLocals: true, noUnusedParameters: true, target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.NodeNext,
      moduleResolution: ts.ModuleResolutionKind.NodeNext, lib: ["lib.es2022.d.ts"], types: ["@webgpu/types"], skipLibCheck: true, noEmit: true,
      paths: { "attnc/webgpu": [join(repoRoot, "src/runtime/index.ts")] },
    });
    const show = (x: ts.Diagnostic) => `${x.file?.fileName ?? ""}: TS${x.code} ${ts.flattenDiagnosticMessageText(x.messageText, "\n")}`.slice(0, 400);
    expect(ts.getPreEmitDiagnostics(program).filter((x) => x.file === undefined || files.includes(x.file.fileName)).map(show)).toEqual([]);
  }, 300_000);

  it("give CUDA and headers that nvcc accepts for sm_80 (a sample of kernels, every header)", async () => {
    const dir = scratchDir("attnc-names-cuda-");
    // Kernels whose index variables are named after C++ words and the long names, and every program's header in one file.
    const cppSet = new Set(cppWords.split(/\s+/));
    const kernelSample = [...hostilePrograms.keys()].filter((p) => cppSet.has(hostile[(p + 10) % hostile.length]) || hostile[(p + 11) % hostile.length].length > 1000 || hostile[p].length > 1000).slice(0, 4);
    const files: string[] = [];
    const headers: string[] = [];
    for (const [p, text] of hostilePrograms.entries()) {
      const front = frontEnd(text);
      const program = cudaOf(planKernel(front.kernels[0], "auto").plan);
      writeFileSync(join(dir, `program${p}.h`), program.header);
      headers.push(`#include "program${p}.h"`);
      if (kernelSample.includes(p)) {
        writeFileSync(join(dir, `program${p}.cu`), program.source);
        files.push(`program${p}.cu`);
      }
    }
    writeFileSync(join(dir, "headers.cu"), `${headers.join("\n")}\nint attnc_headers_compile() { return 0; }\n`);
    const result = await run("nvcc", ["-c", "-gencode=arch=compute_80,code=sm_80", ...files, "headers.cu"], { cwd: dir, maxBuffer: 1 << 26 }).then(
      (r) => ({ ok: true, stderr: r.stderr }), (e: { stderr?: string }) => ({ ok: false, stderr: e.stderr ?? String(e) }));
    expect(result.stderr.split("\n").filter((l) => /error/.test(l)).join("\n").slice(0, 4000)).toBe("");
    expect(result.ok).toBe(true);
  }, 600_000);
});

describe("user text in generated source", () => {
  const causal = readFileSync("examples/causal.attn", "utf8");
  const outputs = (fileName: string) => compile(causal, { fileName }).kernels.map((k) => [k.wgsl, k.ts, k.cuda, k.header].join("\n---\n")).join("\n");

  it("names the input by its base name: the same bytes from any working directory", () => {
    expect(outputs("/somewhere/else/examples/causal.attn")).toBe(outputs("causal.attn"));
    expect(outputs("..\\examples\\causal.attn")).toBe(outputs("causal.attn"));
  });

  it("puts no line break, comment end or other control text of a file name into any output", () => {
    const hostileName = 'a\nconsole.log("pwned")//\r\u2028\u2029\u0000\\*/ `${x}` \u00e9.attn';
    const text = outputs(`dir/${hostileName}`);
    // The outputs have the lines of a plain name's: the file name changed only the header comments' text.
    expect(text.split("\n").length).toBe(outputs("plain.attn").split("\n").length);
    expect(text).not.toMatch(/[\r\u2028\u2029\u0000\u00e9]/);
    expect(text).not.toMatch(/^console\.log/m);
    expect(text).not.toContain("*/ `");
  });
});
