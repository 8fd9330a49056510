// Runtime: a GPUDevice from Dawn for Node (the `webgpu` package), with the adapter's largest limits and optional features.
import { create, globals } from "webgpu";

export type DeviceInfo = {
  readonly device: GPUDevice;
  readonly adapter: GPUAdapter;
  /** The adapter in words, e.g. "mesa software llvmpipe: Mesa 25.0.7 (LLVM 15.0.6)". */
  readonly description: string;
  readonly features: { readonly shaderF16: boolean; readonly subgroups: boolean };
  readonly limits: {
    readonly maxComputeWorkgroupStorageSize: number;
    readonly maxComputeInvocationsPerWorkgroup: number;
    readonly maxStorageBufferBindingSize: number;
    readonly maxStorageBuffersPerShaderStage: number;
  };
};

const optionalFeatures: GPUFeatureName[] = ["shader-f16", "subgroups"];
const maxedLimits = [
  "maxComputeWorkgroupStorageSize",
  "maxComputeInvocationsPerWorkgroup",
  "maxComputeWorkgroupSizeX",
  "maxStorageBufferBindingSize",
  "maxStorageBuffersPerShaderStage",
  "maxBufferSize",
] as const;

let gpu: GPU | undefined;
let shared: Promise<DeviceInfo> | undefined;

/**
 * The process's device, created once on Dawn's default adapter (lavapipe where there is no GPU), with its largest limits.
 * With `adapter`, a new device on that adapter instead, which the caller owns (and destroys).
 */
export function requestDevice(options: { adapter?: GPUAdapter } = {}): Promise<DeviceInfo> {
  installGlobals();
  if (options.adapter !== undefined) return openDevice(options.adapter);
  if (shared === undefined) {
    const opening = openDevice();
    shared = opening;
    opening.then(
      (info) => info.device.lost.then(() => { if (shared === opening) shared = undefined; }),
      () => { if (shared === opening) shared = undefined; },
    );
  }
  return shared;
}

/** Destroys the process's device (tests and the CLI call it when done); a later requestDevice() opens a new one. */
export async function releaseDevice(): Promise<void> {
  const opening = shared;
  shared = undefined;
  gpu = undefined;
  const info = await opening?.catch(() => undefined);
  info?.device.destroy();
}

/** Copies `byteLength` bytes (from offset 0) of a COPY_SRC buffer into a fresh ArrayBuffer. */
export async function readBuffer(device: GPUDevice, buffer: GPUBuffer, byteLength: number): Promise<ArrayBuffer> {
  const size = Math.max(4, Math.ceil(byteLength / 4) * 4);
  const staging = device.createBuffer({ size, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST, label: "readBuffer staging" });
  try {
    const encoder = device.createCommandEncoder();
    encoder.copyBufferToBuffer(buffer, 0, staging, 0, size);
    device.queue.submit([encoder.finish()]);
    await staging.mapAsync(GPUMapMode.READ);
    return staging.getMappedRange(0, size).slice(0, byteLength);
  } finally {
    staging.destroy();
  }
}

async function openDevice(given?: GPUAdapter): Promise<DeviceInfo> {
  const adapter = given ?? (await defaultAdapter());
  const requiredFeatures = optionalFeatures.filter((f) => adapter.features.has(f));
  const requiredLimits: Record<string, number> = {};
  for (const name of maxedLimits) requiredLimits[name] = adapter.limits[name];
  const device = await adapter.requestDevice({ requiredFeatures, requiredLimits, label: "attnc" });
  const { vendor, architecture, description } = adapter.info;
  const limits = device.limits;
  return {
    device,
    adapter,
    description: [vendor, architecture, description].filter((s) => s).join(" ") || "unknown adapter",
    features: { shaderF16: device.features.has("shader-f16"), subgroups: device.features.has("subgroups") },
    limits: {
      maxComputeWorkgroupStorageSize: limits.maxComputeWorkgroupStorageSize,
      maxComputeInvocationsPerWorkgroup: limits.maxComputeInvocationsPerWorkgroup,
      maxStorageBufferBindingSize: limits.maxStorageBufferBindingSize,
      maxStorageBuffersPerShaderStage: limits.maxStorageBuffersPerShaderStage,
    },
  };
}

/** GPUBufferUsage, GPUMapMode, GPUShaderStage and the rest, which Node lacks, from Dawn onto globalThis. */
function installGlobals(): void {
  for (const [name, value] of Object.entries(globals)) {
    if (!(name in globalThis)) Object.defineProperty(globalThis, name, { value, configurable: true, writable: true });
  }
}

async function defaultAdapter(): Promise<GPUAdapter> {
  gpu ??= create([]);
  const adapter = await gpu.requestAdapter({ powerPreference: "high-performance" });
  if (adapter === null) {
    throw new Error("no WebGPU adapter: without a GPU, Dawn needs Mesa's lavapipe >= 25 (run scripts/provision-lavapipe.sh as root)");
  }
  return adapter;
}
