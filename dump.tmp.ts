import { readFileSync, readdirSync, writeFileSync, mkdirSync } from "node:fs";
import { compile } from "./src/compile.js";
const out = process.argv[2]; mkdirSync(out, { recursive: true });
const files = [...readdirSync("examples").map((f) => "examples/" + f), ...readdirSync("bench/cuda/programs").map((f) => "bench/cuda/programs/" + f)].filter((f) => f.endsWith(".attn"));
for (const f of files) for (const arch of ["sm_80", "sm_90a"] as const) for (const D of [undefined, 128]) {
  const r = compile(readFileSync(f, "utf8"), { fileName: f, arch, defines: D ? { D } : {} });
  for (const k of r.kernels) {
    const tag = `${f.replace(/\//g, "_")}.${k.name}.${arch}.${D ?? ""}`;
    if (arch === "sm_80") { writeFileSync(`${out}/${tag}.wgsl`, k.wgsl ?? ""); writeFileSync(`${out}/${tag}.ts`, k.ts ?? ""); writeFileSync(`${out}/${tag}.json`, JSON.stringify(k.manifest)); }
    writeFileSync(`${out}/${tag}.cu`, k.cuda ?? ""); writeFileSync(`${out}/${tag}.h`, k.header ?? "");
  }
}
