// Emit: any expression the front end accepts prints as WGSL that Dawn (Tint) parses and CUDA that nvcc compiles:
// deeply nested expressions are bound to temporaries (expr.ts), whatever the nesting of the source.
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";
import { compile } from "../../src/compile.js";
import { releaseDevice, requestDevice } from "../../src/runtime/index.js";
import { runCase } from "../exec/support.js";

const run = promisify(execFile);
afterAll(() => releaseDevice());

const nested = (n: number, wrap: (inner: string) => string, leaf: string) => Array.from({ length: n }).reduce<string>((acc) => wrap(acc), leaf);
/** Right-hand sides past Tint's parser limits (124 chained `+`, 64 unary minuses, 126 nested calls) within the front end's
 * (brackets nested at most 100 deep, src/syntax/parse.ts): the WGSL printer's own parentheses take them past Tint's. */
const bodies: Record<string, string> = {
  sums: Array.from({ length: 300 }, (_, k) => `x[i] * ${k % 7}`).join(" + "),
  minuses: nested(95, (a) => `-(${a})`, "x[i]"),
  exps: nested(98, (a) => `tanh(${a})`, "x[i]"),
  wheres: nested(90, (a) => `where(x[i] > 0.5, ${a}, x[i] * 2)`, "x[i]"),
  mixed: nested(32, (a) => `sigmoid(-(${a} + max(x[i], 1, ${a === "x[i]" ? "2" : "x[i]"})))`, "x[i]"),
  indices: `x[${nested(95, (a) => `(${a} + 1) % N`, "i")}]`,
};
const program = (name: string, body: string) => `kernel ${name}(x: f32[N]) -> (y: f32[N]) {\n  y[i] = ${body}\n}\n`;
const attention = (body: string) => `const D = 8
kernel deep_score(q: f32[B, N, D], k: f32[B, N, D], v: f32[B, N, D]) -> (o: f32[B, N, D]) {
  s[b, i, j] = sum[d](q[b, i, d] * k[b, j, d])
  o[b, i, e] = sum[j](softmax[j](${body.replace(/x\[i\]/g, "s[b, i, j]")}) * v[b, j, e])
}
`;
const sources = [...Object.entries(bodies).map(([name, body]) => program(name, body)), attention(bodies.sums), attention(bodies.wheres)];

describe("deeply nested expressions", () => {
  it("give WGSL that Dawn accepts, and run like the interpreter", async () => {
    const { device } = await requestDevice();
    for (const source of sources) {
      const result = compile(source, { target: "wgsl" });
      expect(result.diagnostics.filter((d) => d.severity === "error")).toEqual([]);
      for (const k of result.kernels) {
        const info = await device.createShaderModule({ code: k.wgsl! }).getCompilationInfo();
        expect(info.messages.filter((m) => m.type === "error").map((m) => `${k.name} ${m.lineNum}:${m.linePos} ${m.message}`)).toEqual([]);
      }
    }
    for (const source of [sources[0], sources[1], sources[3], sources[5], sources[6]]) {
      await runCase({ source, sizes: { N: 37, B: 1 }, tolerance: 1e-4 }, "naive");
      if (source.includes("softmax")) await runCase({ source, sizes: { N: 37, B: 1 }, tolerance: 1e-4 }, "fused");
    }
  }, 300_000);

  it("give CUDA that nvcc compiles for sm_80 without warnings", async () => {
    const dir = mkdtempSync(join(tmpdir(), "attnc-deep-"));
    try {
      // The naive kernels and one fused kernel (the fused ones take nvcc a while).
      const files = sources.slice(0, -1).map((source, x) => {
        const file = `deep${x}.cu`;
        writeFileSync(join(dir, file), compile(source, { target: "cuda", arch: "sm_80" }).kernels[0].cuda!);
        return file;
      });
      const { stderr } = await run("nvcc", ["-c", "-gencode=arch=compute_80,code=sm_80", ...files], { cwd: dir, maxBuffer: 1 << 24 });
      expect(stderr.split("\n").filter((l) => /warning|error/i.test(l))).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 600_000);
});
