// Emit stage (TypeScript): the typed wrapper NAME.ts of a WebGPU kernel. (Being written: see issue 4.)
import type { Manifest } from "../../manifest.js";

export function emitTsWrapper(manifest: Manifest, wgsl: string): string | undefined {
  void manifest;
  void wgsl;
  return undefined;
}
