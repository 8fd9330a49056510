// Emit stage (CUDA): a kernel plan printed as one CUDA C++ translation unit exporting the stable launch ABI,
// and its header with a typed wrapper.
import { dimOf, showExtent, tensorsOf, type CheckedKernel, type Expr, type Extent, type TensorInfo } from "../../check/typed.js";
import { children } from "../../graph/walk.js";
import type { DType } from "../../syntax/ast.js";
import type { KernelPlan } from "../../plan/plan.js";
import { scheduleCuda } from "../../schedule/index.js";
import type { CudaArch, CudaSchedule, TileScheduleOverride } from "../../schedule/types.js";
import { CodeWriter } from "../writer.js";
import { cudaDialect, type CudaNames } from "./dialect.js";
import { cudaPrelude, mmaPrelude } from "./prelude.js";
import type { TensorSlot } from "./common.js";
import { printFusedMma, type FusedKernel } from "./fused-mma.js";
import { printFusedSimt } from "./fused-simt.js";
import { printFusedWgmma } from "./fused-wgmma.js";
import { printFusedWgmmaWs } from "./fused-wgmma-ws.js";
import { printWgmma, wgmmaName, wgmmaPrelude, type WgmmaForm } from "./wgmma.js";
import { printNaive } from "./naive.js";
import { lowerFused } from "../../tile/lower.js";
import { lowerNaiveStage } from "../../tile/elements.js";
import { commentText, nameText } from "../names.js";
import { memberName } from "./names.js";

export type CudaProgram = { readonly source: string; readonly header: string };

const elementBytes = (t: DType): number => (t === "f32" || t === "i32" ? 4 : 2);
const ctypeOf: Record<DType, string> = { f16: "__half", bf16: "__nv_bfloat16", f32: "float", i32: "int" };

export type CudaBuild = {
  /** Undefined where a pinned schedule cannot run (`errors`). */
  readonly program: CudaProgram | undefined;
  /** The plan the CUDA runs: the kernel's, or the naive one where a fused stage cannot be compiled; naive stages lowered. */
  readonly plan: KernelPlan;
  /** Its schedule, a record a stage (schedule/); `fallback` says why it is naive where the kernel's plan is fused. */
  readonly schedule: CudaSchedule;
  /** What is wrong with the pinned schedule. */
  readonly errors: readonly string[];
};

/** The kernel's plan as CUDA at an arch, on its schedule (scheduleCuda), with the fields `pin` gives pinned. */
export function buildCuda(plan: KernelPlan, arch: CudaArch, pin?: TileScheduleOverride["cuda"]): CudaBuild {
  const scheduled = scheduleCuda(plan, arch, pin);
  const program = scheduled.errors.length > 0 ? undefined : emitCuda(scheduled.plan, scheduled.schedule);
  return { program, plan: scheduled.plan, schedule: scheduled.schedule, errors: scheduled.errors };
}

/**
 * The kernel's plan as CUDA with `pin`'s fields pinned, for tools and tests that print variants; throws what is wrong
 * with the pin. It prints the plan the schedule is for (its naive stages lowered), never the plan given.
 */
export function pinnedCuda(plan: KernelPlan, arch: CudaArch, pin: TileScheduleOverride["cuda"]): CudaProgram {
  const build = buildCuda(plan, arch, pin);
  if (build.program === undefined) throw new Error(build.errors.join("; "));
  return build.program;
}

/** The plan as CUDA, each stage printed as its schedule record says (schedule.stages[i] for plan.stages[i]). */
export function emitCuda(plan: KernelPlan, schedule: CudaSchedule): CudaProgram {
  if (schedule.stages.length !== plan.stages.length) throw new Error("internal: a CUDA schedule for another plan");
  const k = plan.kernel;
  const manifestTensors = [...k.inputs, ...k.outputs];
  const tensors: TensorInfo[] = [...manifestTensors, ...plan.buffers];
  const slots = new Map<string, TensorSlot>();
  let strideOffset = 0;
  tensors.forEach((t, index) => {
    slots.set(t.name, { index, strideOffset, rank: t.dims.length, ctype: ctypeOf[t.dtype] });
    strideOffset += t.dims.length;
  });
  const strideCount = strideOffset;
  const names: CudaNames = {
    tensorIndex: new Map(tensors.map((t, i) => [t.name, i])),
    sizeIndex: new Map(k.sizes.map((s, i) => [s, i])),
    scalarIndex: new Map(k.scalars.map((s, i) => [s.name, { index: i, dtype: s.dtype }])),
  };
  const d = cudaDialect(names);
  const fast = cudaDialect(names, { fastMath: true });
  const dtypeOf = (name: string) => tensors.find((t) => t.name === name)!.dtype;
  // The kernel's identifiers: `attnc_`, its name text, and `_stageN`, `_launch` (and in the header `_args`, `_run`),
  // suffixes none of which ends another, so two kernels' identifiers never meet; no helper ends in one.
  const fn = `attnc_${nameText(k.name)}`;

  // Kernels, one a stage.
  type Fused = { kind: "fused"; stage: number; path: "wgmma" | "mma" | "simt"; l2Budget: number } & FusedKernel;
  const kernels: ({ kind: "naive"; name: string; code: string; stage: number; threads: number } | Fused)[] = [];
  const forms = new Map<string, WgmmaForm>();
  plan.stages.forEach((stage, i) => {
    const name = `${fn}_stage${i}`;
    const s = schedule.stages[i];
    if (stage.kind === "naive" || s.kind === "naive") {
      if (stage.kind !== "naive" || s.kind !== "naive") throw new Error("internal: a CUDA schedule for another plan");
      kernels.push({ kind: "naive", name, code: printNaive(name, lowerNaiveStage(stage), d, slots, s.threads), stage: i, threads: s.threads });
      return;
    }
    const ctype = ctypeOf[dtypeOf(stage.chain.q.tensor)];
    // The softmax scales raw products inside exp2 where it can (one multiply-add a score).
    const program = lowerFused(stage, { deferScale: true });
    const at = { stage: i, l2Budget: s.l2Budget };
    if (s.path === "simt") kernels.push({ kind: "fused", ...at, path: "simt", ...printFusedSimt(name, program, d, slots, s) });
    else if (s.path === "wgmma") {
      const kernel = (s.producer ? printFusedWgmmaWs : printFusedWgmma)(name, program, fast, slots, ctype, s);
      for (const f of kernel.forms) forms.set(wgmmaName(f), f);
      kernels.push({ kind: "fused", ...at, path: "wgmma", ...kernel });
    } else kernels.push({ kind: "fused", ...at, path: "mma", ...printFusedMma(name, program, fast, slots, ctype, s) });
  });
  const pathNote = { wgmma: "tensor cores, wgmma", mma: "tensor cores", simt: "SIMT" };

  const w = new CodeWriter();
  w.line(`// Generated by attnc from kernel \`${commentText(k.name)}\`: ${plan.schedule} schedule, ${schedule.arch}.`);
  w.line(`// Stages: ${plan.stages.map((s, i) => (s.kind === "naive" ? `${i}: naive ${commentText(s.statement.target)}` : `${i}: fused ${commentText(s.chain.output.name)} (${pathNote[(kernels[i] as Fused).path]})`)).join("; ")}.`);
  w.line("// Do not edit: regenerate with `attnc compile --target cuda`.");
  for (const line of cudaPrelude.split("\n")) w.line(line);
  if (kernels.some((x) => x.kind === "fused" && x.path !== "simt")) for (const line of mmaPrelude.split("\n")) w.line(line);
  if (forms.size > 0) {
    for (const line of wgmmaPrelude.split("\n")) w.line(line);
    w.line("namespace attnc_rt {");
    for (const f of forms.values()) for (const line of printWgmma(f).split("\n")) w.line(line);
    w.line("}  // namespace attnc_rt");
  }
  w.line("namespace {");
  w.line("");
  w.block("struct Params", () => {
    w.line(`const void* t[${Math.max(1, tensors.length)}];`);
    w.line(`long long st[${Math.max(1, strideCount)}];`);
    w.line(`long long dim[${Math.max(1, strideCount)}];`);
    w.line(`int sz[${Math.max(1, k.sizes.length)}];`);
    w.line(`float sf[${Math.max(1, k.scalars.length)}];`);
    w.line(`int si[${Math.max(1, k.scalars.length)}];`);
  }, "};");
  w.line("");
  // Element loaders for tensors read inside expressions; indices are clamped, which is free where they are in range.
  const kernelCode = kernels.map((x) => x.code).join("\n");
  tensors.forEach((t, index) => {
    if (!kernelCode.includes(`ld_${index}(`)) return;
    const slot = slots.get(t.name)!;
    const args = t.dims.map((_, x) => `int x${x}`).join(", ");
    const ret = t.dtype === "i32" ? "int" : "float";
    w.block(`__device__ __forceinline__ ${ret} ld_${index}(const Params& p${args ? `, ${args}` : ""})`, () => {
      if (t.dims.length > 0) w.line(`if (${t.dims.map((_, x) => `p.dim[${slot.strideOffset + x}] == 0`).join(" || ")}) return 0;`);
      const offset = t.dims.map((_, x) => `attnc_clamp_index(x${x}, p.dim[${slot.strideOffset + x}]) * p.st[${slot.strideOffset + x}]`).join(" + ") || "0";
      const read = `static_cast<const ${slot.ctype}*>(p.t[${index}])[${offset}]`;
      w.line(`return ${t.dtype === "i32" ? read : `attnc_to_float(${read})`};`);
    });
  });
  w.line("");
  for (const kernel of kernels) for (const line of kernel.code.trimEnd().split("\n")) w.line(line);
  w.line("");
  w.line("}  // namespace");
  w.line("");

  // The launch function.
  const dimCode = (e: Extent): string =>
    e.kind === "const" ? `${e.value}LL` : e.kind === "size" ? `(long long)sizes[${names.sizeIndex.get(e.name)}]` : `(${e.factors.map(dimCode).join(" * ")})`;
  w.block(`extern "C" int ${fn}_launch(void* const* tensors, const int64_t* strides, const int64_t* sizes, const double* scalars, cudaStream_t stream)`, () => {
    w.line("Params p = {};");
    if (k.sizes.length > 0) w.line("if (sizes == nullptr) return (int)cudaErrorInvalidValue;");
    w.line(`for (int x = 0; x < ${k.sizes.length}; ++x) { if (sizes[x] < 0 || sizes[x] > 2147483647LL) return (int)cudaErrorInvalidValue; p.sz[x] = (int)sizes[x]; }`);
    if (manifestTensors.length > 0) w.line("if (tensors == nullptr || strides == nullptr) return (int)cudaErrorInvalidValue;");
    if (k.scalars.length > 0) w.line("if (scalars == nullptr) return (int)cudaErrorInvalidValue;");
    tensors.forEach((t, index) => {
      const slot = slots.get(t.name)!;
      t.dims.forEach((dim, x) => w.line(`p.dim[${slot.strideOffset + x}] = ${dimCode(dim)};`));
      if (index < manifestTensors.length) {
        w.line(`p.t[${index}] = tensors[${index}];`);
        t.dims.forEach((_, x) => w.line(`p.st[${slot.strideOffset + x}] = strides[${slot.strideOffset + x}];`));
        const numel = t.dims.map((_, x) => `p.dim[${slot.strideOffset + x}]`).join(" * ") || "1";
        w.line(`if (p.t[${index}] == nullptr && ${numel} > 0) return (int)cudaErrorInvalidValue;`);
      } else {
        // Intermediates are contiguous, row-major.
        for (let x = t.dims.length - 1; x >= 0; x--) {
          w.line(`p.st[${slot.strideOffset + x}] = ${x === t.dims.length - 1 ? "1" : `p.st[${slot.strideOffset + x + 1}] * p.dim[${slot.strideOffset + x + 1}]`};`);
        }
      }
    });
    // The kernels compute extents in int: a product of sizes (`HKV * G`) past the int range is refused here.
    for (const e of productExtents(plan.kernel)) w.line(`if (${dimCode(e)} > 2147483647LL) return (int)cudaErrorInvalidValue;  // ${commentText(showExtent(e))}`);
    k.scalars.forEach((_, x) => w.line(`p.sf[${x}] = (float)scalars[${x}]; p.si[${x}] = (int)scalars[${x}];`));
    w.line("cudaError_t err = cudaSuccess;");
    if (plan.buffers.length > 0) w.line(`void* scratch[${plan.buffers.length}] = {};`);
    // Resident kernels take their work from a counter of this launch's own (printQueryTileLoop).
    const resident = kernels.some((x) => x.kind === "fused" && x.persistent);
    if (resident) w.line("unsigned long long* counter = nullptr;");
    plan.buffers.forEach((t, x) => {
      const slot = slots.get(t.name)!;
      const numel = t.dims.map((_, y) => `p.dim[${slot.strideOffset + y}]`).join(" * ") || "1";
      w.line(`if (err == cudaSuccess) err = cudaMallocAsync(&scratch[${x}], (size_t)(${numel} > 0 ? ${numel} : 1) * ${elementBytes(t.dtype)}, stream);`);
      w.line(`p.t[${slot.index}] = scratch[${x}];`);
    });
    for (const kernel of kernels) {
      const stage = plan.stages[kernel.stage];
      w.block("if (err == cudaSuccess)", () => {
        if (kernel.kind === "naive" && stage.kind === "naive") {
          const total = stage.statement.vars.map((v) => `(long long)${dimCode(v.extent)}`).join(" * ") || "1LL";
          w.line(`const long long total = ${total};`);
          w.block("if (total > 0)", () => {
            w.line(`const long long blocks = (total + ${kernel.threads - 1}) / ${kernel.threads};`);
            w.line(`${kernel.name}<<<(unsigned)(blocks < 1048576LL ? blocks : 1048576LL), ${kernel.threads}, 0, stream>>>(p);`);
            w.line("err = cudaGetLastError();");
          });
        } else if (kernel.kind === "fused" && stage.kind === "fused") {
          const c = stage.chain;
          w.line(`const long long n = ${dimCode(c.queryVar.extent)};`);
          w.line(`const long long rows = ${c.rowVars.map((r) => dimCode(r.extent)).join(" * ") || "1LL"};`);
          w.block("if (n > 0 && rows > 0)", () => {
            w.line("int vec = 0;");
            const vecCheck = (load: typeof c.q, inner: string, bit: number) => {
              const slot = slots.get(load.tensor)!;
              const dp = load.indices.findIndex((x) => x.kind === "var" && x.name === inner);
              const others = load.indices.map((_, x) => x).filter((x) => x !== dp).map((x) => ` && p.st[${slot.strideOffset + x}] % 8 == 0`).join("");
              w.line(`if (p.st[${slot.strideOffset + dp}] == 1 && reinterpret_cast<uintptr_t>(p.t[${slot.index}]) % 16 == 0${others}) vec |= ${bit};`);
            };
            vecCheck(c.q, c.headVar.name, 1);
            vecCheck(c.k, c.headVar.name, 2);
            vecCheck(c.v, c.valueVar.name, 4);
            // Rows in groups whose K and V fit the L2 budget (one row at least), a group's query tiles along x.
            const kv = `${dimCode(c.keyVar.extent)} * (${dimCode(c.headVar.extent)} * ${elementBytes(dtypeOf(c.k.tensor))} + ${dimCode(c.valueVar.extent)} * ${elementBytes(dtypeOf(c.v.tensor))})`;
            const budget = kernel.l2Budget;
            // Without a budget (0), rows run one after another and K and V's bytes are not needed.
            w.line(`const long long tiles = (n + ${kernel.blockQ - 1}) / ${kernel.blockQ}${budget > 0 ? `, kv_bytes = ${kv}` : ""};`);
            w.line(`long long group = ${budget > 0 ? `kv_bytes > 0 && kv_bytes < ${budget}LL ? ${budget}LL / kv_bytes : 1` : "1"};`);
            w.line("if (group > rows) group = rows;");
            w.line("if (group > 2147483647LL / tiles) group = 2147483647LL / tiles > 0 ? 2147483647LL / tiles : 1;");
            if (kernel.persistent) {
              w.line("int device = 0, sms = 0;");
              w.line("err = cudaGetDevice(&device);");
              w.line("if (err == cudaSuccess) err = cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device);");
              w.line("const long long work = tiles * rows;");
              w.line("const dim3 grid((unsigned)(work < sms ? work : sms), 1);");
              w.line("if (err == cudaSuccess) err = cudaMallocAsync((void**)&counter, sizeof(unsigned long long), stream);");
              w.line("if (err == cudaSuccess) err = cudaMemsetAsync(counter, 0, sizeof(unsigned long long), stream);");
            } else {
              w.line("const long long groups = (rows + group - 1) / group;");
              // blockIdx.z: the slice of the value columns (mmaValueSlice), where the kernel has several.
              w.line(`const dim3 grid((unsigned)(tiles * group), (unsigned)(groups < 65535LL ? groups : 65535LL)${(kernel.valueSlices ?? 1) > 1 ? `, ${kernel.valueSlices}` : ""});`);
            }
            if (kernel.smemBytes > 48 * 1024) {
              w.line(`if (err == cudaSuccess) err = cudaFuncSetAttribute(${kernel.name}, cudaFuncAttributeMaxDynamicSharedMemorySize, ${kernel.smemBytes});`);
            }
            w.block("if (err == cudaSuccess)", () => {
              w.line(`${kernel.name}<<<grid, ${kernel.threads}, ${kernel.smemBytes}, stream>>>(p, vec, (int)group${kernel.persistent ? ", counter" : ""});`);
              w.line("err = cudaGetLastError();");
            });
          });
        }
      });
    }
    if (resident) w.line("if (counter != nullptr) { cudaError_t e2 = cudaFreeAsync(counter, stream); if (err == cudaSuccess) err = e2; }");
    plan.buffers.forEach((_, x) => w.line(`if (scratch[${x}] != nullptr) { cudaError_t e2 = cudaFreeAsync(scratch[${x}], stream); if (err == cudaSuccess) err = e2; }`));
    w.line("return (int)err;");
  });
  return { source: w.toString(), header: printHeader(plan, fn) };
}

function printHeader(plan: KernelPlan, fn: string): string {
  const k = plan.kernel;
  const w = new CodeWriter();
  const tensors = [...k.inputs, ...k.outputs];
  const dims = (t: TensorInfo) => t.dims.map(dimOf).join(", ");
  w.line(`// Generated by attnc from kernel \`${commentText(k.name)}\` (${plan.schedule} schedule): the launch ABI and a typed wrapper.`);
  w.line("#pragma once");
  w.line("#include <stdint.h>");
  w.line("#include <cuda_runtime.h>");
  w.line("");
  w.line("#ifdef __cplusplus");
  w.line('extern "C" {');
  w.line("#endif");
  w.line("");
  w.line(`// tensors: ${commentText(tensors.map((t) => `${t.name} [${dims(t)}] ${t.dtype}`).join("; "))}`);
  w.line(`// sizes: ${commentText(k.sizes.join(", ")) || "none"}; scalars: ${commentText(k.scalars.map((s) => `${s.name} ${s.dtype}`).join(", ")) || "none"}`);
  w.line("// Strides are in elements, per tensor and dimension in the order above. Returns a cudaError_t value.");
  w.line(`int ${fn}_launch(void* const* tensors, const int64_t* strides, const int64_t* sizes, const double* scalars, cudaStream_t stream);`);
  w.line("");
  w.line("// The arguments by name, for " + `${fn}_run. Each group is a struct of its own, so no name meets another`);
  w.line("// group's or a generated one. A member is the program's name where that is a C++ identifier no header");
  w.line("// reserves (not a keyword, no leading `_` or `__`, not ending in `_t`, not one of the C and CUDA macros or");
  w.line("// types); any other name is `_x` followed by its name text (`_x0_u0` for `_0`, `_xfloat` for `float`).");
  w.block(`struct ${fn}_args`, () => {
    const group = (name: string, members: string[]) => {
      if (members.length > 0) w.block("struct", () => members.forEach((m) => w.line(m)), `} ${name};`);
    };
    group("tensors", tensors.map((t) => `${t.role === "input" ? "const void*" : "void*"} ${memberName(t.name)};  // ${t.dtype}[${commentText(dims(t))}]`));
    group("strides", tensors.filter((t) => t.dims.length > 0).map((t) => `int64_t ${memberName(t.name)}[${t.dims.length}];`));
    group("sizes", k.sizes.map((s) => `int64_t ${memberName(s)};`));
    group("scalars", k.scalars.map((s) => `${s.dtype === "f32" ? "float" : "int32_t"} ${memberName(s.name)};`));
  }, "};");
  w.line("");
  w.block(`static inline int ${fn}_run(const struct ${fn}_args* a, cudaStream_t stream)`, () => {
    w.line(`void* tensors[${Math.max(1, tensors.length)}] = {${tensors.map((t) => `(void*)a->tensors.${memberName(t.name)}`).join(", ")}};`);
    const strides = tensors.flatMap((t) => t.dims.map((_, x) => `a->strides.${memberName(t.name)}[${x}]`));
    w.line(`int64_t strides[${Math.max(1, strides.length)}] = {${strides.join(", ")}};`);
    w.line(`int64_t sizes[${Math.max(1, k.sizes.length)}] = {${k.sizes.map((s) => `a->sizes.${memberName(s)}`).join(", ")}};`);
    w.line(`double scalars[${Math.max(1, k.scalars.length)}] = {${k.scalars.map((s) => `(double)a->scalars.${memberName(s.name)}`).join(", ")}};`);
    w.line(`return ${fn}_launch(tensors, strides, sizes, scalars, stream);`);
  });
  w.line("");
  w.line("#ifdef __cplusplus");
  w.line("}");
  w.line("#endif");
  return w.toString();
}

/** The distinct products of sizes among a kernel's dims and index extents. */
function productExtents(k: CheckedKernel): Extent[] {
  const out = new Map<string, Extent>();
  const note = (e: Extent) => e.kind === "product" && out.set(showExtent(e), e);
  const visit = (e: Expr): void => {
    if (e.kind === "reduce" || e.kind === "softmax") e.vars.forEach((v) => note(v.extent));
    children(e).forEach(visit);
  };
  for (const t of tensorsOf(k)) t.dims.forEach(note);
  for (const st of k.statements) {
    st.vars.forEach((v) => note(v.extent));
    visit(st.value);
  }
  return [...out.values()];
}
