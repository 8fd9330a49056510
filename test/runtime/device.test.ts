// Runtime: the WebGPU device (Dawn on lavapipe without a GPU) runs real WGSL compute shaders and reads results back.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readBuffer, releaseDevice, requestDevice, type DeviceInfo } from "../../src/runtime/device.js";

let gpu: DeviceInfo;
beforeAll(async () => {
  gpu = await requestDevice();
  console.log(`webgpu: ${gpu.description}; shader-f16 ${gpu.features.shaderF16}, subgroups ${gpu.features.subgroups}; limits ${JSON.stringify(gpu.limits)}`);
});
afterAll(() => releaseDevice());

/** A storage buffer holding `data`, readable back. */
function storage(data: ArrayBufferView & { byteLength: number }): GPUBuffer {
  const buffer = gpu.device.createBuffer({ size: data.byteLength, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST });
  gpu.device.queue.writeBuffer(buffer, 0, data.buffer, data.byteOffset, data.byteLength);
  return buffer;
}

/** Runs `main` of `code` over `workgroups` workgroups with `buffers` at @group(0) @binding(0..), failing on any WGSL or validation error. */
async function dispatch(code: string, buffers: GPUBuffer[], workgroups: number): Promise<void> {
  const { device } = gpu;
  device.pushErrorScope("validation");
  const module = device.createShaderModule({ code });
  const messages = (await module.getCompilationInfo()).messages.filter((m) => m.type === "error");
  expect(messages.map((m) => `${m.lineNum}:${m.linePos} ${m.message}`)).toEqual([]);
  const pipeline = device.createComputePipeline({ layout: "auto", compute: { module, entryPoint: "main" } });
  const bindGroup = device.createBindGroup({
    layout: pipeline.getBindGroupLayout(0),
    entries: buffers.map((buffer, binding) => ({ binding, resource: { buffer } })),
  });
  const encoder = device.createCommandEncoder();
  const pass = encoder.beginComputePass();
  pass.setPipeline(pipeline);
  pass.setBindGroup(0, bindGroup);
  pass.dispatchWorkgroups(workgroups);
  pass.end();
  device.queue.submit([encoder.finish()]);
  expect((await device.popErrorScope())?.message).toBeUndefined();
}

describe("requestDevice", () => {
  it("gives one device per process, with at least WebGPU's default compute limits", async () => {
    expect(await requestDevice()).toBe(gpu);
    expect(gpu.limits.maxComputeWorkgroupStorageSize).toBeGreaterThanOrEqual(16384);
    expect(gpu.limits.maxComputeInvocationsPerWorkgroup).toBeGreaterThanOrEqual(256);
    expect(gpu.limits.maxStorageBufferBindingSize).toBeGreaterThanOrEqual(128 << 20);
    expect(gpu.limits.maxStorageBuffersPerShaderStage).toBeGreaterThanOrEqual(8);
  });

  it("runs y[i] = x[i] * 2 + 1 over 1000 elements and leaves the tail past n alone", async () => {
    const n = 1000;
    const x = Float32Array.from({ length: n }, (_, i) => i - 500.25);
    const y = new Float32Array(1024).fill(-7); // 24 spare elements: the guard must keep threads 1000..1023 out
    const xs = storage(x);
    const ys = storage(y);
    await dispatch(
      /* wgsl */ `
      @group(0) @binding(0) var<storage, read> x: array<f32>;
      @group(0) @binding(1) var<storage, read_write> y: array<f32>;
      const n = ${n}u;
      @compute @workgroup_size(64)
      fn main(@builtin(global_invocation_id) id: vec3u) {
        if (id.x >= n) { return; }
        y[id.x] = x[id.x] * 2.0 + 1.0;
      }`,
      [xs, ys],
      Math.ceil(y.length / 64),
    );
    const out = new Float32Array(await readBuffer(gpu.device, ys, y.byteLength));
    expect(Array.from(out.subarray(0, n))).toEqual(Array.from(x, (v) => v * 2 + 1));
    expect(Array.from(out.subarray(n))).toEqual(new Array(24).fill(-7));
    xs.destroy();
    ys.destroy();
  });

  it("unpacks f16 pairs from u32 words with unpack2x16float", async () => {
    // Half-precision bit patterns, low half first: 1, -2.5, 0.5, 65504 (the largest half), 2^-14 (the smallest normal), 0.333251953125.
    const halves = [0x3c00, 0xc100, 0x3800, 0x7bff, 0x0400, 0x3555];
    const expected = [1, -2.5, 0.5, 65504, 2 ** -14, 0.333251953125];
    const words = new Uint32Array(halves.length / 2).map((_, i) => halves[2 * i] | (halves[2 * i + 1] << 16));
    const packed = storage(words);
    const out = storage(new Float32Array(halves.length));
    await dispatch(
      /* wgsl */ `
      @group(0) @binding(0) var<storage, read> packed: array<u32>;
      @group(0) @binding(1) var<storage, read_write> out: array<vec2f>;
      @compute @workgroup_size(4)
      fn main(@builtin(global_invocation_id) id: vec3u) {
        if (id.x >= arrayLength(&packed)) { return; }
        out[id.x] = unpack2x16float(packed[id.x]);
      }`,
      [packed, out],
      1,
    );
    expect(Array.from(new Float32Array(await readBuffer(gpu.device, out, expected.length * 4)))).toEqual(expected);
    packed.destroy();
    out.destroy();
  });

  it("computes in f16 where the adapter has shader-f16", async (ctx) => {
    if (!gpu.features.shaderF16) ctx.skip();
    const out = storage(new Float32Array(4));
    await dispatch(
      /* wgsl */ `
      enable f16;
      @group(0) @binding(0) var<storage, read_write> out: array<f32>;
      @compute @workgroup_size(4)
      fn main(@builtin(local_invocation_index) i: u32) {
        let h = f16(i) * 1.5h + 0.25h;
        out[i] = f32(h);
      }`,
      [out],
      1,
    );
    expect(Array.from(new Float32Array(await readBuffer(gpu.device, out, 16)))).toEqual([0.25, 1.75, 3.25, 4.75]);
    out.destroy();
  });
});
