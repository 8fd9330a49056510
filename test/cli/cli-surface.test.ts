// CLI: `compile` writes all of its files or none; names on the command line (--define, --kernel, --sizes,
// --scalars) that the file does not have are usage errors (exit 2) that list the names it has; a file without a
// kernel is an error for compile, explain and run (check only warns); explain stays quick at the largest sizes.
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { type CliRun } from "../support/cli.js";
import { cliFolder } from "../support/cli-folder.js";

const folder = cliFolder("attnc-cli-surface-");
const { file, attnc } = folder;
const example = (name: string) => readFileSync(join(import.meta.dirname, "../../examples", name), "utf8");
const usage = (run: CliRun, pattern: RegExp) => {
  expect(run.stderr).toMatch(pattern);
  expect(run.stderr).not.toMatch(/^ {4}at /m);
  expect(run.status).toBe(2);
};

/** Two kernels in one file: causal, then sliding_window. */
const twoKernels = () => `${example("causal.attn")}\n${example("sliding-window.attn").replace(/^const D = 64$/m, "")}`;

describe.concurrent("attnc compile writes all of its files or none", () => {
  it("writes nothing, of any kernel, where one file cannot be written, and keeps what was there", async () => {
    const out = folder.path("blocked");
    mkdirSync(join(out, "sliding_window.wgsl"), { recursive: true }); // the last kernel's file: a folder is in the way
    writeFileSync(join(out, "causal.json"), "old\n");
    const run = await attnc("compile", file("two.attn", twoKernels()), "--out", out);
    usage(run, /^attnc: cannot write to .*blocked \(nothing was written\): .*sliding_window\.wgsl is a directory$/m);
    expect(run.stdout).toBe("");
    expect(readdirSync(out).sort()).toEqual(["causal.json", "sliding_window.wgsl"]);
    expect(readFileSync(join(out, "causal.json"), "utf8")).toBe("old\n");
    expect(readdirSync(join(out, "sliding_window.wgsl"))).toEqual([]);
  });

  it("writes nothing where --out is below a file, and creates no folder", async () => {
    file("plain-file", "x");
    const run = await attnc("compile", file("two-b.attn", twoKernels()), "--out", "plain-file/out");
    usage(run, /^attnc: cannot write to plain-file\/out \(nothing was written\)/m);
    expect(readFileSync(folder.path("plain-file"), "utf8")).toBe("x");
  });

  it("replaces earlier outputs once all the new ones are written, leaving no temporary folder", async () => {
    const out = folder.path("replaced");
    mkdirSync(out);
    writeFileSync(join(out, "causal.json"), "old\n");
    const run = await attnc("compile", file("two-c.attn", twoKernels()), "--out", out, "--target", "wgsl");
    expect(run.status).toBe(0);
    expect(readdirSync(out).sort()).toEqual(["causal.json", "causal.ts", "causal.wgsl", "sliding_window.json", "sliding_window.ts", "sliding_window.wgsl"]);
    expect(JSON.parse(readFileSync(join(out, "causal.json"), "utf8"))).toMatchObject({ name: "causal" });
  });
});

describe.concurrent("names the file does not have", () => {
  it("exits 2 for a --define that names no const or size, listing those it has", async () => {
    const source = file("define.attn", example("sliding-window.attn"));
    for (const command of ["check", "compile", "explain", "run"]) {
      const out = command === "compile" ? ["--out", "define-out"] : [];
      usage(await attnc(command, "--define", "DD=32", source, ...out), /^attnc: --define: `DD` names no const or size of the file \(did you mean `D`\?\); its consts: D; its sizes: B, H, N$/m);
      usage(await attnc(command, "--define", "D=32", "--define", "E=3", source, ...out), /^attnc: --define: `E` names no const or size of the file; its consts: D; its sizes: B, H, N$/m);
    }
    expect(existsSync(folder.path("define-out"))).toBe(false);
  });

  it("accepts a --define of a const, or of a size (which it makes a const)", async () => {
    const source = file("define-ok.attn", example("causal.attn"));
    for (const define of ["D=128", "N=256", "H=8"]) {
      const run = await attnc("check", "--define", define, source);
      expect(run.stderr, define).toBe("");
      expect(run.status, define).toBe(0);
    }
    const explained = await attnc("explain", "--define", "N=256", source);
    expect(explained.status).toBe(0);
    expect(explained.stdout).toMatch(/at N = 256 with 64 x 64 tiles: 6 full, 4 partial, 6 empty of 16/);
  });

  it("exits 2 for a --kernel the file does not have, in compile, explain and run, naming its kernels", async () => {
    const source = file("kernel.attn", twoKernels());
    for (const command of ["compile", "explain", "run"]) {
      const args = command === "compile" ? ["--out", "kernel-out"] : [];
      usage(await attnc(command, source, "--kernel", "sliding", ...args), /^attnc: --kernel: the file has no kernel named `sliding`; its kernels: causal, sliding_window$/m);
    }
    usage(await attnc("compile", source, "--kernel", "casual", "--out", "kernel-out"), /no kernel named `casual` \(did you mean `causal`\?\)/);
    expect(existsSync(folder.path("kernel-out"))).toBe(false);
    const one = await attnc("explain", source, "--kernel", "sliding_window", "--scalars", "W=100");
    expect(one.status).toBe(0);
    expect(one.stdout).toContain("kernel sliding_window:");
    expect(one.stdout).not.toContain("kernel causal:");
  });

  it("exits 2 for --sizes and --scalars the kernel does not have, in explain and run", async () => {
    const source = file("sizes.attn", example("sliding-window.attn"));
    for (const command of ["explain", "run"]) {
      usage(await attnc(command, source, "--sizes", "B=1,NN=64"), /^attnc: --sizes: `NN` is not a run-time size of the kernel \(did you mean `N`\?\); its sizes: B, H, N$/m);
      usage(await attnc(command, source, "--sizes", "D=32"), /^attnc: --sizes: `D` is a compile-time const, not a run-time size \(give --define D=32 instead\)$/m);
      usage(await attnc(command, source, "--scalars", "w=4"), /^attnc: --scalars: `w` is not a scalar parameter of the kernel \(did you mean `W`\?\); its scalars: W$/m);
      usage(await attnc(command, source, "--sizes", "N=2147483648"), /^attnc: --sizes takes NAME=INT,\.\.\. with 0 <= INT < 2\^31, got `N=2147483648`$/m);
    }
    usage(await attnc("explain", source, "--tile", "99999999999x64"), /^attnc: --tile takes QxK with integers from 1 to 2\^31 - 1/m);
  });
});

describe.concurrent("a file without a kernel", () => {
  it.each([
    ["empty.attn", ""],
    ["consts-only.attn", "const D = 64\n"],
  ])("is an error for compile, explain and run (%s), which write nothing", async (name, text) => {
    const source = file(name, text);
    for (const command of ["compile", "explain", "run"]) {
      const run = await attnc(command, source, ...(command === "compile" ? ["--out", `${name}-out`] : []));
      expect(run.stderr, command).toMatch(new RegExp(`^${name.replace(".", "\\.")}:1:1: error: the file declares no kernel: nothing to ${command}$`, "m"));
      expect(run.status, command).toBe(1);
      expect(run.stdout, command).toBe("");
    }
    expect(existsSync(folder.path(`${name}-out`))).toBe(false);
    const check = await attnc("check", source);
    expect(check.status).toBe(0);
    expect(check.stderr).toMatch(/warning: the file declares no kernel$/m);
  });
});

describe("run at sizes too large", () => {
  it("fails quickly, naming the limit, before making inputs: the device's buffers, then the reference's work", async () => {
    const source = file("large.attn", example("causal.attn"));
    const device = await attnc("run", source, "--sizes", "B=1,H=1,N=3000000");
    expect(device.stdout).toMatch(/^causal: tensor `q` \(f16\[B=1, H=1, N=3000000, D=64\], 192000000 elements\) needs 384000000 bytes, more than this device's maxStorageBufferBindingSize \(\d+ bytes\): lower the sizes$/m);
    expect(device.status).toBe(1);
    expect(device.stderr).not.toMatch(/FATAL ERROR|^ {4}at /m);
    const reference = await attnc("run", source, "--sizes", "B=1,H=1,N=20000");
    expect(reference.stdout).toMatch(/^causal: the float64 reference would visit about 5\.2e\+10 index points at these sizes, more than attnc run checks \(2\^28\): give smaller --sizes$/m);
    expect(reference.status).toBe(1);
    expect(Math.max(device.ms, reference.ms)).toBeLessThan(30_000);
  }, 60_000);
});

describe("explain at the largest sizes", () => {
  it("answers for N = 2^31 - 1 within seconds, with the counts it estimates marked as estimates", async () => {
    const run = await attnc("explain", file("huge.attn", example("sliding-window.attn")), "--sizes", "N=2147483647", "--scalars", "W=1000", "--tile", "1x1");
    expect(run.status).toBe(0);
    expect(run.ms).toBeLessThan(20_000);
    expect(run.stdout).toMatch(/tiles: +at N = 2147483647, W = 1000 with 1 x 1 tiles: about \d+ full, \d+ partial, \d+ empty of 4611686014132420609 .*estimated/);
  });
});
