// Runtime: `attnc/webgpu` — running a compiled kernel's WGSL on a GPUDevice, with its inputs checked first.
import type { BufferBinding, Manifest, WebGpuLayout } from "../manifest.js";
import type { TileScheduleOverride } from "../schedule/types.js";
import type { KernelPlan } from "../plan/plan.js";
import { emitWgsl } from "../emit/wgsl/index.js";
import { scheduleWgsl } from "../schedule/index.js";
import { roundTo, toBf16Bits, toHalfBits } from "../interp/dtype.js";
import { requestDevice } from "./device.js";
import { own, setOwn } from "../records.js";
import { bufferBytes, bufferWords, checkKernel, checkOptions, checkRun, dispatchSize } from "./validate.js";

export { requestDevice, releaseDevice, readBuffer, type DeviceInfo } from "./device.js";

/**
 * What a runner needs: a compiled kernel's manifest (with its "webgpu" layout) and WGSL, as compile() returns
 * them or as NAME.json and NAME.wgsl hold them. With the kernel's plan too (compile()'s kernels carry it), the
 * runner re-emits the WGSL with tiles chosen for the device's workgroup memory.
 */
export type RunnableKernel = { readonly manifest: Manifest; readonly wgsl?: string; readonly plan?: KernelPlan; readonly tileSchedule?: TileScheduleOverride };

export type RunnerOptions = {
  readonly device?: GPUDevice;
  /**
   * Testing only: place every tensor this many words (rounded up to 64) into a larger buffer, the guards on both
   * sides filled with a sentinel (NaN around inputs, so that a stray read shows), and fail if any output or
   * intermediate guard changed. Needs the kernel's plan (the WGSL is re-emitted with the offset).
   */
  readonly guardWords?: number;
};

/**
 * Tensors in row-major order of their declared dims: a Float32Array (f32, f16, bf16) or Int32Array (i32), taken as
 * they are; or a Float64Array or array of numbers, every element finite (and for i32 an integer in range).
 * Scalars as numbers: f32 ones finite, i32 ones integers. Anything else is a TypeError or RangeError naming it.
 * Each is read from an own property: one named `__proto__` is written `{ ["__proto__"]: x }` (in an object literal
 * `__proto__: x` sets the prototype); the outputs have an own property each, whatever their names.
 */
export type Inputs = Readonly<Record<string, ArrayLike<number> | number>>;
export type Sizes = Readonly<Record<string, number>>;
/** Float32Array for f32, f16 and bf16 outputs (values rounded to the dtype), Int32Array for i32 ones. */
export type Outputs = Record<string, Float32Array | Int32Array>;
export type Run = (inputs: Inputs, sizes: Sizes) => Promise<Outputs>;

/** A kernel bound to one set of inputs on the device, for running many times (benchmarks). */
export type BoundKernel = {
  /** Runs every stage `times` times in one submission; resolves with the wall time in milliseconds once done. */
  dispatch(times?: number): Promise<number>;
  read(): Promise<Outputs>;
  destroy(): void;
};

export type Runner = Run & {
  readonly layout: WebGpuLayout;
  readonly wgsl: string;
  bind(inputs: Inputs, sizes: Sizes): BoundKernel;
};

const sentinel = 0x7fbadbad;
const nanWord = 0x7fc00000;
const nanHalves = 0x7e007e00;
const nanBf16Halves = 0x7fc07fc0;

export async function createRunner(kernel: RunnableKernel, options: RunnerOptions = {}): Promise<Runner> {
  checkKernel(kernel);
  checkOptions(options);
  const { manifest } = kernel;
  const device = options.device ?? (await requestDevice()).device;
  const wantGuard = options.guardWords ? Math.ceil(options.guardWords / 64) * 64 : 0;
  let wgsl = kernel.wgsl;
  let layout = manifest.webgpu;
  const limit = device.limits.maxComputeWorkgroupStorageSize;
  if (kernel.plan !== undefined && (wantGuard > 0 || layout === undefined || layout.workgroupStorageLimit !== limit)) {
    // A pinned tile schedule stays pinned on this device, or says why it cannot.
    const scheduled = scheduleWgsl(kernel.plan, { maxWorkgroupStorageBytes: limit }, kernel.tileSchedule?.wgsl);
    if (scheduled.errors.length > 0) throw new Error(`${manifest.name}: ${scheduled.errors.join("; ")}`);
    ({ code: wgsl, layout } = emitWgsl(scheduled.plan, scheduled.schedule, { guardWords: wantGuard }));
  }
  if (wgsl === undefined || layout === undefined) throw new Error(`${manifest.name}: no WGSL: compile it with target "wgsl" or "all"`);
  const guard = layout.guardWords;
  if (wantGuard > 0 && guard === 0) throw new Error(`${manifest.name}: guard regions need the kernel's plan (a kernel from compile()) or WGSL emitted with them`);
  const kernelLayout = layout;

  device.pushErrorScope("validation");
  const module = device.createShaderModule({ code: wgsl, label: manifest.name });
  const messages = (await module.getCompilationInfo()).messages.filter((m) => m.type === "error");
  if (messages.length > 0) {
    await device.popErrorScope();
    throw new Error(`${manifest.name}: the WGSL does not compile on this device: ${messages.map((m) => `${m.lineNum}:${m.linePos} ${m.message}`).join("; ")}`);
  }
  const pipelines = await Promise.all(
    layout.stages.map((s) => device.createComputePipelineAsync({ layout: "auto", compute: { module, entryPoint: s.entryPoint }, label: `${manifest.name}.${s.entryPoint}` })),
  );
  const failure = await device.popErrorScope();
  if (failure !== null) throw new Error(`${manifest.name}: the pipelines were not created: ${failure.message}`);

  const bind = (inputs: Inputs, sizes: Sizes): BoundKernel => bindKernel(device, manifest, kernelLayout, pipelines, inputs, sizes, guard);
  const run = async (inputs: Inputs, sizes: Sizes): Promise<Outputs> => {
    const bound = bind(inputs, sizes);
    try {
      await bound.dispatch(1);
      return await bound.read();
    } finally {
      bound.destroy();
    }
  };
  return Object.assign(run, { layout: kernelLayout, wgsl, bind });
}

type Placed = { binding: BufferBinding; buffer: GPUBuffer; count: number; words: number };

function bindKernel(device: GPUDevice, manifest: Manifest, layout: WebGpuLayout, pipelines: GPUComputePipeline[], inputs: Inputs, sizes: Sizes, guard: number): BoundKernel {
  const values = checkRun(manifest, layout, device.limits, guard, inputs, sizes);
  const created: GPUBuffer[] = [];
  const make = (bytes: number, usage: number, label: string) => {
    const b = device.createBuffer({ size: bufferBytes(bytes / 4), usage, label });
    created.push(b);
    return b;
  };
  try {
    const params = new DataView(new ArrayBuffer(Math.max(1, Math.ceil(layout.paramWords / 4)) * 16));
    manifest.sizes.forEach((s, k) => params.setInt32(k * 4, values[s], true));
    manifest.scalars.forEach((s, k) => {
      const x = own(inputs, s.name) as number;
      if (s.dtype === "f32") params.setFloat32((manifest.sizes.length + k) * 4, x, true);
      else params.setInt32((manifest.sizes.length + k) * 4, roundTo("i32", x), true);
    });
    const paramsBuffer = make(params.byteLength, GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST, "params");
    device.queue.writeBuffer(paramsBuffer, 0, params.buffer);

    const placed = new Map<number, Placed>();
    for (const { binding: b, count, words, total } of bufferWords(layout, manifest, values, guard)) {
      const buffer = make(total * 4, GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST, b.name);
      // New buffers start zeroed: only inputs and guarded buffers are written.
      if (b.role === "input" || guard > 0) {
        const contents = new Uint32Array(Math.ceil(total / 4) * 4);
        if (guard > 0) contents.fill(b.role !== "input" ? sentinel : b.storage === "f16x2" ? nanHalves : b.storage === "bf16x2" ? nanBf16Halves : b.storage === "i32" ? sentinel : nanWord);
        if (b.role === "input") encode(b, own(inputs, b.name) as ArrayLike<number>, new Uint32Array(contents.buffer, guard * 4, words));
        device.queue.writeBuffer(buffer, 0, contents.buffer, 0, Math.min(contents.byteLength, buffer.size));
      }
      placed.set(b.binding, { binding: b, buffer, count, words });
    }

    const groups = layout.stages.map((stage) => dispatchSize(stage.dispatch, manifest, values));
    const bindGroups = layout.stages.map((stage, index) =>
      device.createBindGroup({
        layout: pipelines[index].getBindGroupLayout(0),
        entries: stage.bindings.map((binding) => ({ binding, resource: { buffer: binding === 0 ? paramsBuffer : placed.get(binding)!.buffer } })),
      }),
    );
    const encodeStages = (pass: GPUComputePassEncoder) => {
      layout.stages.forEach((_, index) => {
        const size = groups[index];
        if (size === undefined) return;
        pass.setPipeline(pipelines[index]);
        pass.setBindGroup(0, bindGroups[index]);
        pass.dispatchWorkgroups(size[0], size[1]);
      });
    };

    return {
      async dispatch(times = 1) {
        const encoder = device.createCommandEncoder();
        const pass = encoder.beginComputePass();
        for (let t = 0; t < times; t++) encodeStages(pass);
        pass.end();
        device.pushErrorScope("validation");
        const start = performance.now();
        device.queue.submit([encoder.finish()]);
        await device.queue.onSubmittedWorkDone();
        const elapsed = performance.now() - start;
        const failure = await device.popErrorScope();
        if (failure !== null) throw new Error(`${manifest.name}: dispatch failed: ${failure.message}`);
        return elapsed;
      },
      async read() {
        const reads = [...placed.values()].filter((p) => p.binding.role === "output" || (guard > 0 && p.binding.role === "scratch"));
        const encoder = device.createCommandEncoder();
        const staging = reads.map((p) => {
          const s = device.createBuffer({ size: p.buffer.size, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST, label: `${p.binding.name} staging` });
          created.push(s);
          encoder.copyBufferToBuffer(p.buffer, 0, s, 0, p.buffer.size);
          return s;
        });
        device.queue.submit([encoder.finish()]);
        // An own property for every output, one named `__proto__` or `toString` included.
        const out: Outputs = {};
        for (const [x, p] of reads.entries()) {
          await staging[x].mapAsync(GPUMapMode.READ);
          const words = new Uint32Array(staging[x].getMappedRange().slice(0));
          staging[x].unmap();
          if (guard > 0) {
            const stray = [...words.subarray(0, guard), ...words.subarray(guard + p.words, guard * 2 + p.words)].findIndex((w) => w !== sentinel);
            if (stray >= 0) throw new Error(`${manifest.name}: out-of-bounds write: the guard region around \`${p.binding.name}\` was overwritten`);
          }
          if (p.binding.role !== "output") continue;
          const body = new Uint32Array(words.buffer, guard * 4, p.count);
          if (p.binding.storage === "i32") setOwn<Float32Array | Int32Array>(out, p.binding.name, new Int32Array(body.slice().buffer));
          else {
            const values = new Float32Array(body.slice().buffer);
            const dtype = p.binding.dtype;
            setOwn<Float32Array | Int32Array>(out, p.binding.name, dtype === "f16" || dtype === "bf16" ? values.map((x) => roundTo(dtype, x)) : values);
          }
        }
        return out;
      },
      destroy() {
        for (const b of created) b.destroy();
      },
    };
  } catch (e) {
    for (const b of created) b.destroy();
    throw e;
  }
}

function encode(b: BufferBinding, values: ArrayLike<number>, into: Uint32Array): void {
  if (b.storage === "f32") new Float32Array(into.buffer, into.byteOffset, into.length).set(values);
  else if (b.storage === "i32") {
    const out = new Int32Array(into.buffer, into.byteOffset, into.length);
    for (let x = 0; x < values.length; x++) out[x] = roundTo("i32", values[x]);
  } else {
    const halves = new Uint16Array(into.buffer, into.byteOffset, into.length * 2);
    const bits = b.storage === "f16x2" ? toHalfBits : toBf16Bits;
    for (let x = 0; x < values.length; x++) halves[x] = bits(values[x]);
    if (values.length % 2 === 1) halves[values.length] = 0;
  }
}
