// CLI: the files `attnc compile` writes for one compiled kernel.
import type { CompiledKernel, Target } from "../compile.js";

export function outputFiles(k: CompiledKernel, target: Target): { name: string; text: string }[] {
  const files = [{ name: `${k.name}.json`, text: `${JSON.stringify(k.manifest, null, 2)}\n` }];
  if (target !== "cuda") {
    if (k.wgsl !== undefined) files.push({ name: `${k.name}.wgsl`, text: k.wgsl });
    if (k.ts !== undefined) files.push({ name: `${k.name}.ts`, text: k.ts });
  }
  if (target !== "wgsl") {
    if (k.cuda !== undefined) files.push({ name: `${k.name}.cu`, text: k.cuda });
    if (k.header !== undefined) files.push({ name: `${k.name}.h`, text: k.header });
  }
  return files;
}
