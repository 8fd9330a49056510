// Writes the emitted CUDA, WGSL and headers of every example and bench program (D unset, 64, 128, 512; sm_80 and
// sm_90a) into OUT, from the compiler in ROOT: `npx tsx scripts/snapshot-emitted.ts ROOT OUT`, before and after a change,
// then `diff -r` the two folders (docs/design/tile-ir.md, "Checking a change").
import { readdirSync, readFileSync, writeFileSync, mkdirSync } from "node:fs";
import { join, basename } from "node:path";
const [root, out] = process.argv.slice(2);
const { compile } = await import(`${root}/src/compile.js`);
mkdirSync(out, { recursive: true });
const files = [...readdirSync(`${root}/examples`).filter((f) => f.endsWith(".attn")).map((f) => `${root}/examples/${f}`),
  ...readdirSync(`${root}/bench/cuda/programs`).filter((f) => f.endsWith(".attn")).map((f) => `${root}/bench/cuda/programs/${f}`)];
let n = 0;
for (const f of files) {
  const src = readFileSync(f, "utf8");
  for (const D of [undefined, 64, 128, 512]) for (const arch of ["sm_80", "sm_90a"] as const) {
    const defines = D === undefined ? {} : { D };
    const r = compile(src, { fileName: basename(f), target: "all", arch, defines });
    r.kernels.forEach((k: any, x: number) => {
      for (const key of ["cuda", "wgsl", "header"]) if (k[key]) { writeFileSync(join(out, `${basename(f)}-${D}-${arch}-${x}.${key}`), k[key]); n++; }
    });
  }
}
console.log(n, "outputs");
