// Names that every JavaScript object answers to (`__proto__`, `constructor`, `toString`, `hasOwnProperty`, ...) as a
// kernel's index variables, sizes, consts, tensors and scalars: the front end accepts them, so the interpreter, the
// WebGPU runtime and `attnc run` must read each input by its own property, return an own property for every output
// (one named `__proto__` included), and report a missing one as missing.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { compile, type CompiledKernel } from "../../src/compile.js";
import { interpret } from "../../src/interp/interpret.js";
import { jsonLiteral } from "../../src/emit/ts/index.js";
import { explainPlan } from "../../src/explain.js";
import { sourceFile } from "../../src/diagnostics/source.js";
import { createRunner, releaseDevice } from "../../src/runtime/index.js";
import { ensureBuilt, runCliAsync } from "../support/cli.js";
import { disagreement } from "../support/property.js";
import { randomArgs, rng } from "../support/programs.js";
import { renameProgram } from "../support/names.js";

/** Object.prototype's members, each a name of the program below. */
const prototypeWords = [
  "__proto__", "constructor", "toString", "valueOf", "hasOwnProperty", "isPrototypeOf", "propertyIsEnumerable",
  "toLocaleString", "__defineGetter__", "__defineSetter__", "__lookupGetter__", "__lookupSetter__",
];

// An attention (fused) with a second output, a naive kernel with a size `__proto__` and an i32 input, and one with an
// input tensor `__proto__` and a const `valueOf` among its dims.
const hostile = `const valueOf = 16

kernel prototype(hasOwnProperty: f32[toString, valueOf], isPrototypeOf: f32[toString, valueOf], propertyIsEnumerable: f32[toString, valueOf], __defineGetter__: f32) -> (__proto__: f32[toString, valueOf], constructor: f32[toString]) {
  __proto__[__lookupGetter__, __lookupSetter__] = sum[__defineSetter__](softmax[__defineSetter__](sum[toLocaleString](hasOwnProperty[__lookupGetter__, toLocaleString] * isPrototypeOf[__defineSetter__, toLocaleString]) * __defineGetter__) * propertyIsEnumerable[__defineSetter__, __lookupSetter__])
  constructor[__lookupGetter__] = sum[toLocaleString](hasOwnProperty[__lookupGetter__, toLocaleString]) * __defineGetter__
}

kernel __lookupGetter__(toString: f32[__proto__, constructor], hasOwnProperty: i32[constructor], isPrototypeOf: f32) -> (propertyIsEnumerable: f32[__proto__, constructor]) {
  propertyIsEnumerable[__defineGetter__, __lookupSetter__] = toString[__defineGetter__, constructor - 1 - __lookupSetter__] * isPrototypeOf + f32(hasOwnProperty[__lookupSetter__])
}

kernel __defineSetter__(__proto__: f32[valueOf], constructor: f32) -> (toString: f32[valueOf]) {
  toString[hasOwnProperty] = __proto__[valueOf - 1 - hasOwnProperty] * constructor
}
`;
/** The same program with plain names: what every result is checked against. */
const plain = renameProgram(hostile, new Map(prototypeWords.map((w, x) => [w, `plain${x}`])));
const plainName = (w: string) => `plain${prototypeWords.indexOf(w)}`;

const sizes = Object.fromEntries([["toString", 37], ["__proto__", 5], ["constructor", 9]]);
const scalars = Object.fromEntries([["__defineGetter__", 0.5], ["isPrototypeOf", 2], ["constructor", -1.5]]);
const sizesOf = (k: CompiledKernel) => Object.fromEntries(k.checked.sizes.map((s) => [s, sizes[s]]));

function compiled(source: string, schedule: "auto" | "naive" = "auto"): readonly CompiledKernel[] {
  const result = compile(source, { target: "all", schedule, fileName: "names.attn" });
  expect(result.diagnostics.filter((d) => d.severity === "error").map((d) => d.message)).toEqual([]);
  return result.kernels;
}

/** The arguments by the plain program's names: the same arrays, renamed. */
const renamedArgs = (args: Record<string, unknown>) => Object.fromEntries(Object.entries(args).map(([n, v]) => [plainName(n), v])) as Record<string, Float64Array | number>;

afterAll(() => releaseDevice());

describe("names of Object.prototype's members", () => {
  it("are accepted by the front end as indices, sizes, consts, tensors and scalars, and reach the manifest as own properties", () => {
    const [attention, sized, constant] = compiled(hostile);
    expect(attention.plan.schedule).toBe("fused");
    expect(attention.checked.sizes).toEqual(["toString"]);
    expect(attention.checked.outputs.map((t) => t.name)).toEqual(["__proto__", "constructor"]);
    expect(sized.checked.sizes).toEqual(["__proto__", "constructor"]);
    expect(constant.checked.inputs.map((t) => t.name)).toEqual(["__proto__"]);
    expect(Object.keys(constant.manifest.defines)).toEqual(["valueOf"]);
  });

  it("index ranges over sizes of such names are judged as over any size", () => {
    const diagnostics = (n: string) =>
      compile(`kernel k(x: f32[${n}]) -> (y: f32[${n}]) {\n  y[i] = x[i + 1] + x[${n} - 1 - i] + x[i + ${n}]\n}\n`, { target: "wgsl" }).diagnostics.map((d) => `${d.severity}: ${d.message.replaceAll(n, "N")}`);
    const want = diagnostics("N");
    expect(want).toContain("error: index 1 of `x` is out of range: it takes values in [N, 2*N - 1], but the dimension is N");
    for (const n of ["__proto__", "toString", "valueOf", "constructor"]) expect(diagnostics(n), n).toEqual(want);
  });

  it("explain counts tiles at sizes of such names (4096 where none is given)", () => {
    const causal = (n: string) => `const D = 16\nkernel c(q: f16[${n}, D], k: f16[${n}, D], v: f16[${n}, D]) -> (o: f16[${n}, D]) {\n  o[i, e] = sum[j](softmax[j](where(j <= i, sum[d](q[i, d] * k[j, d]), -inf)) * v[j, e])\n}\n`;
    const tiles = (n: string, at: Record<string, number>) => {
      const k = compiled(causal(n))[0];
      return explainPlan(k.plan, sourceFile("c.attn", causal(n)), { blockQ: 64, blockK: 64, sizes: at, scalars: {} }).match(/tiles: .*/)![0].replaceAll(n, "N");
    };
    expect(tiles("N", {})).toContain("at N = 4096 with 64 x 64 tiles: 2016 full, 64 partial, 2016 empty of 4096");
    for (const n of ["__proto__", "toString", "valueOf"]) {
      expect(tiles(n, {}), n).toEqual(tiles("N", {}));
      expect(tiles(n, Object.fromEntries([[n, 1000]])), n).toEqual(tiles("N", { N: 1000 }));
    }
  });

  it("a call of `constructor(x)` or `toString(x)` is an unknown function, not an internal error", () => {
    for (const fn of ["constructor", "toString", "hasOwnProperty", "__proto__"]) {
      const result = compile(`kernel k(x: f32[N]) -> (y: f32[N]) {\n  y[i] = ${fn}(x[i])\n}\n`, { target: "wgsl" });
      expect(result.diagnostics.map((d) => d.message), fn).toEqual([`unknown function \`${fn}\``]);
    }
  });

  it("a const `__proto__`, also given with --define semantics, is an own property of the manifest and the wrapper's literal", () => {
    const source = `const __proto__ = 8\nkernel k(x: f32[__proto__, toString]) -> (y: f32[__proto__, toString]) {\n  y[i, j] = x[__proto__ - 1 - i, j]\n}\n`;
    const [k] = compiled(source);
    expect(Object.hasOwn(k.manifest.defines, "__proto__")).toBe(true);
    expect(k.manifest.defines.__proto__).toBe(8);
    const [redefined] = compile(source, { target: "wgsl", defines: Object.fromEntries([["__proto__", 3]]) }).kernels;
    expect(Object.entries(redefined.manifest.defines)).toEqual([["__proto__", 3]]);
    // The wrapper's manifest is a JavaScript object literal, where `"__proto__": 8` would set a prototype.
    const literal = new Function(`return ${jsonLiteral(k.manifest)};`)() as typeof k.manifest;
    expect(Object.hasOwn(literal.defines, "__proto__")).toBe(true);
    expect(literal).toEqual(k.manifest);
    expect(k.ts).toContain(`["__proto__"]: 8`);
  });

  it("run in the interpreter: inputs read by own property, an own property for every output, missing ones named", () => {
    const hostileKernels = compiled(hostile);
    const plainKernels = compiled(plain);
    hostileKernels.forEach((k, x) => {
      const args = randomArgs(k.checked, sizesOf(k), rng(x + 1), { scalars });
      expect(Object.keys(args)).toEqual([...k.checked.inputs, ...k.checked.scalars].map((t) => t.name));
      const got = interpret(k.checked, args, sizesOf(k));
      expect(Object.keys(got)).toEqual(k.checked.outputs.map((t) => t.name));
      const want = interpret(plainKernels[x].checked, renamedArgs(args), Object.fromEntries(Object.entries(sizesOf(k)).map(([n, v]) => [plainName(n), v])));
      for (const t of k.checked.outputs) {
        expect(Object.hasOwn(got, t.name), t.name).toBe(true);
        expect([...got[t.name]], t.name).toEqual([...want[plainName(t.name)]]);
      }
      for (const size of k.checked.sizes) {
        const others = Object.fromEntries(Object.entries(sizesOf(k)).filter(([n]) => n !== size));
        expect(() => interpret(k.checked, args, others), size).toThrow(`size \`${size}\` is missing`);
      }
      const input = k.checked.inputs[0].name;
      const without = Object.fromEntries(Object.entries(args).filter(([n]) => n !== input));
      expect(() => interpret(k.checked, without, sizesOf(k)), input).toThrow(`tensor \`${input}\` is missing`);
    });
  });

  it("run on WebGPU, fused and naive: equal to the interpreter, an own property for every output, missing ones named", async () => {
    for (const schedule of ["auto", "naive"] as const) {
      for (const [x, k] of compiled(hostile, schedule).entries()) {
        const args = randomArgs(k.checked, sizesOf(k), rng(x + 1), { scalars });
        const want = interpret(k.checked, args, sizesOf(k));
        const run = await createRunner(k, { guardWords: 64 });
        const got = await run(args, sizesOf(k));
        expect(Object.keys(got), `${k.name} ${k.plan.schedule}`).toEqual(k.checked.outputs.map((t) => t.name));
        for (const t of k.checked.outputs) {
          expect(Object.hasOwn(got, t.name), t.name).toBe(true);
          expect(disagreement(got[t.name], want[t.name], 1e-4), `${k.name} ${k.plan.schedule}: ${t.name}`).toBeUndefined();
        }
        for (const size of k.checked.sizes) {
          const others = Object.fromEntries(Object.entries(sizesOf(k)).filter(([n]) => n !== size));
          await expect(run(args, others), size).rejects.toThrow(`size \`${size}\` is missing`);
        }
        const input = k.checked.inputs[0].name;
        const without = Object.fromEntries(Object.entries(args).filter(([n]) => n !== input));
        await expect(run(without, sizesOf(k)), input).rejects.toThrow(`tensor \`${input}\` is missing`);
      }
    }
    // The attention ran fused: the test covers the fused WGSL, not only the naive one.
    expect(compiled(hostile)[0].manifest.webgpu?.schedule).toMatch(/fused/);
  });

  describe("attnc run and compile", () => {
    let dir = "";
    beforeAll(() => {
      ensureBuilt();
      dir = mkdtempSync(join(tmpdir(), "attnc-names-"));
    });
    afterAll(() => {
      if (dir !== "") rmSync(dir, { recursive: true, force: true });
    });

    it("runs every kernel with sizes and scalars given by such names, each output ok", async () => {
      writeFileSync(join(dir, "names.attn"), hostile);
      const run = await runCliAsync(["run", "names.attn", "--sizes", "toString=37,__proto__=5,constructor=9", "--scalars", "__defineGetter__=0.5,isPrototypeOf=2,constructor=-1.5"], { cwd: dir, timeoutMs: 120_000 });
      expect(run.stderr).not.toMatch(/^ {4}at /m);
      expect(run.stdout).toMatch(/^prototype: fused on /m);
      expect(run.stdout).toContain("sizes toString=37; scalars __defineGetter__=0.5;");
      expect(run.stdout).toContain("sizes __proto__=5, constructor=9; scalars isPrototypeOf=2;");
      expect(run.stdout).toContain("; scalars constructor=-1.5;");
      for (const output of ["__proto__", "constructor", "propertyIsEnumerable", "toString"]) expect(run.stdout).toMatch(new RegExp(`^ {2}${output} \\(f32\\): max error .*: ok$`, "m"));
      expect(run.stdout).not.toMatch(/FAILED/);
      expect(run.status).toBe(0);
    }, 180_000);

    it("takes --define __proto__=N for a const of that name", async () => {
      writeFileSync(join(dir, "const.attn"), `const __proto__ = 8\nkernel flip(x: f32[__proto__, toString]) -> (y: f32[__proto__, toString]) {\n  y[i, j] = x[__proto__ - 1 - i, j]\n}\n`);
      const run = await runCliAsync(["compile", "const.attn", "--target", "wgsl", "--define", "__proto__=3", "--out", "out"], { cwd: dir });
      expect(run.stderr).toBe("");
      expect(run.status).toBe(0);
      const manifest = JSON.parse(readFileSync(join(dir, "out", "flip.json"), "utf8"));
      expect(Object.entries(manifest.defines)).toEqual([["__proto__", 3]]);
    }, 60_000);
  });
});
