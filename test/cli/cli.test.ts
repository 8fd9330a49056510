// CLI: exit codes (0 clean, 1 program errors, 2 bad usage) and robustness on hostile input, through the built command.
import { existsSync, mkdirSync, readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { spawnSync } from "node:child_process";
import { repoRoot, runCliAsync, type CliRun } from "../support/cli.js";
import { cliFolder } from "../support/cli-folder.js";
import { alibiCausalSource, rng } from "../support/programs.js";
import { expectedPath, goldenDir } from "../golden/check-output.js";

const causalAlibi = alibiCausalSource(64);

const fiveMiB = 5 * 1024 * 1024;
/** What a user may wait for on a 5 MB file, even on a busy two-core machine. */
const patienceMs = 30_000;

const folder = cliFolder("attnc-cli-");
const { file, attnc } = folder;

/** No JavaScript stack trace ("    at f (file.js:1:2)") and no native crash report. */
function expectNoCrash(run: CliRun): void {
  expect(run.signal).toBeNull();
  expect(run.stderr).not.toMatch(/^ {4}at /m);
  expect(run.stderr).not.toMatch(/internal compiler error|FATAL ERROR|Maximum call stack/);
}

// Small runs, several at once; the large inputs below run one at a time so that their timings mean something.
describe.concurrent("exit codes", () => {
  it("exits 0 and prints nothing for a valid program", async () => {
    const run = await attnc("check", file("ok.attn", causalAlibi));
    expect(run.stderr).toBe("");
    expect(run.status).toBe(0);
  });

  it("exits 1 and prints the diagnostic for a program with an error", async () => {
    const run = await attnc("check", file("bad.attn", causalAlibi.replace("slopes[h]", "slope[h]")));
    expect(run.status).toBe(1);
    expect(run.stderr).toMatch(/^bad\.attn:11:\d+: error: unknown tensor `slope`$/m);
    expect(run.stderr).toContain("hint: did you mean `slopes`?");
    expectNoCrash(run);
  });

  it("exits 2 for an unknown flag", async () => {
    const run = await attnc("check", "--frobnicate", file("flag.attn", causalAlibi));
    expect(run.status).toBe(2);
    expect(run.stderr).toMatch(/unknown option/);
  });

  it("exits 2 for an unknown command", async () => {
    const run = await attnc("frobnicate", file("command.attn", causalAlibi));
    expect(run.status).toBe(2);
    expect(run.stderr).toMatch(/unknown command/);
  });

  it("exits 2 for a missing file", async () => {
    const run = await attnc("check", "no-such-file.attn");
    expect(run.status).toBe(2);
    expect(run.stderr).toMatch(/^attnc: no such file: no-such-file\.attn$/m);
  });

  it("exits 2 for a directory", async () => {
    mkdirSync(folder.path("folder.attn"), { recursive: true });
    const run = await attnc("check", "folder.attn");
    expect(run.status).toBe(2);
    expect(run.stderr).toMatch(/is a directory/);
  });

  it.each(["D=abc", "D=0", "=64", "D=99999999999"])("exits 2 for --define %s", async (define) => {
    const run = await attnc("check", "--define", define, file(`define-${define.replace(/\W/g, "_")}.attn`, causalAlibi));
    expect(run.status).toBe(2);
    expect(run.stderr).toMatch(/--define takes NAME=INT/);
  });

  it("accepts a good --define", async () => {
    const run = await attnc("check", "--define", "D=128", file("define-ok.attn", causalAlibi));
    expect(run.stderr).toBe("");
    expect(run.status).toBe(0);
  });

  it("exits 0 for an empty file, with one warning", async () => {
    const run = await attnc("check", file("empty.attn", ""));
    expect(run.status).toBe(0);
    expect(run.stderr).toBe(
      "empty.attn:1:1: warning: the file declares no kernel\n\n^\nhint: write `kernel NAME(q: f16[N, D], ...) -> (o: f16[N, D]) { ... }`\n",
    );
  });

  it("prints what the golden files expect (the in-process rendering is the CLI's)", async () => {
    const names = ["parse-recovery-several-errors", "index-two-extents", "unused-parameter", "crlf-line-endings"];
    const runs = await Promise.all(names.map((name) => runCliAsync(["check", `${name}.attn`], { cwd: goldenDir })));
    names.forEach((name, k) => {
      expect(runs[k].stderr, name).toBe(readFileSync(expectedPath(`${name}.attn`), "utf8"));
      expect(runs[k].status, name).toBe(name === "unused-parameter" ? 0 : 1);
    });
  });
});

describe("robustness", () => {
  it("reports a file that ends inside a UTF-8 sequence", async () => {
    const bytes = Buffer.concat([Buffer.from(causalAlibi), Buffer.from([0xe2, 0x82])]);
    const run = await attnc("check", file("truncated.attn", bytes));
    expect(run.status).toBe(1);
    expect(run.stderr).toMatch(/^truncated\.attn:15:1: error: the file is not UTF-8 text \(byte 0xe2 at byte offset \d+\)$/m);
    expectNoCrash(run);
  });

  it("does not echo terminal control sequences from the file", async () => {
    const run = await attnc("check", file("escape.attn", causalAlibi.replace("* rsqrt(D)", "* rsqrt(D) \x1b]0;owned\x07\x1b[2J")));
    expect(run.status).toBe(1);
    expect(run.stderr).toMatch(/unexpected character U\+001B/);
    expect(run.stderr).not.toMatch(/[\x00-\x08\x0b-\x1f\x7f]/);
    expectNoCrash(run);
  });

  it("checks a valid kernel followed by 5 MB of comments", async () => {
    let text = causalAlibi;
    for (let line = 0; text.length < fiveMiB; line++) text += `# comment ${line}: the quick brown fox jumps over the lazy dog\n`;
    const run = await attnc("check", file("comments.attn", text));
    expect(run.stderr).toBe("");
    expect(run.status).toBe(0);
    expect(run.ms).toBeLessThan(patienceMs);
  });

  it("reports 5 MB of valid statements as too long, quickly", async () => {
    const statements: string[] = [];
    for (let k = 0, size = 0; size < fiveMiB; k++) {
      const s = `  t${k}[b, h, i, j] = s[b, h, i, j] * ${k % 7}\n`;
      statements.push(s);
      size += s.length;
    }
    const text = causalAlibi.replace(/\n}\n$/, `\n${statements.join("")}}\n`);
    const run = await attnc("check", file("statements.attn", text));
    expect(run.status).toBe(1);
    expect(run.stderr).toMatch(/^statements\.attn:\d+:\d+: error: the program is longer than 100000 tokens$/m);
    expectNoCrash(run);
    expect(run.ms).toBeLessThan(patienceMs);
  });

  it("reports 5 MB of random bytes", async () => {
    const random = rng(20240501);
    const bytes = Uint8Array.from({ length: fiveMiB }, () => Math.floor(random() * 256));
    const run = await attnc("check", file("random.attn", bytes));
    expect(run.status).toBe(1);
    expect(run.stderr).toMatch(/^random\.attn:\d+:\d+: error: the file is not UTF-8 text/m);
    expectNoCrash(run);
    expect(run.ms).toBeLessThan(patienceMs);
  });

  it("reports 5 MB of random printable characters", async () => {
    const random = rng(7);
    const alphabet = "abcijkxyz_019 \n\t()[]{},:=+-*/%<>!&|?#.@$";
    const text = Array.from({ length: fiveMiB }, () => alphabet[Math.floor(random() * alphabet.length)]).join("");
    const run = await attnc("check", file("random-text.attn", text));
    expect(run.status).toBe(1);
    expect(run.stderr).toMatch(/: error: /);
    expectNoCrash(run);
    expect(run.ms).toBeLessThan(patienceMs);
  });
});

describe("compile and run", () => {
  it("runs as the README's quick start calls it: `npx attnc` from the project", () => {
    const run = spawnSync("npx", ["--no-install", "attnc", "--version"], { cwd: repoRoot, encoding: "utf8", timeout: 60_000 });
    expect(run.stderr).not.toMatch(/Permission denied|not found/);
    expect(run.stdout.trim()).toBe("0.1.0");
  });

  it("writes every file of every target, and the wrapper and manifest describe the kernel", async () => {
    const out = folder.path("out-all");
    const run = await attnc("compile", file("alibi.attn", causalAlibi), "--out", out);
    expectNoCrash(run);
    expect(run.status).toBe(0);
    for (const ext of ["cu", "h", "wgsl", "ts", "json"]) expect(run.stdout).toContain(join(out, `alibi_causal.${ext}`));
    const manifest = JSON.parse(readFileSync(join(out, "alibi_causal.json"), "utf8")) as { name: string; schedule: string; sizes: string[] };
    expect(manifest).toMatchObject({ name: "alibi_causal", schedule: "fused", sizes: ["B", "H", "N", "M"] });
    expect(readFileSync(join(out, "alibi_causal.ts"), "utf8")).toMatch(/export async function createAlibiCausal\(\s*device: GPUDevice/);
    expect(readFileSync(join(out, "alibi_causal.cu"), "utf8")).toContain('extern "C" int attnc_alibi_causal_launch(');
  });

  it("writes only the target asked for, and nothing at all for a program with errors", async () => {
    const wgslOnly = folder.path("out-wgsl");
    expect((await attnc("compile", file("alibi2.attn", causalAlibi), "--target", "wgsl", "--out", wgslOnly)).status).toBe(0);
    expect(readdirSync(wgslOnly).sort()).toEqual(["alibi_causal.json", "alibi_causal.ts", "alibi_causal.wgsl"]);
    const none = folder.path("out-none");
    const bad = await attnc("compile", file("bad.attn", causalAlibi.replace("v[b, h, j, e]", "w[b, h, j, e]")), "--out", none);
    expect(bad.status).toBe(1);
    expect(bad.stderr).toMatch(/^bad\.attn:\d+:\d+: error: /m);
    expect(existsSync(none)).toBe(false);
  });

  it("runs a kernel on the WebGPU adapter and prints its error against the reference", async () => {
    const run = await attnc("run", file("alibi3.attn", causalAlibi), "--sizes", "B=1,H=2,N=45,M=61", "--seed", "3");
    expectNoCrash(run);
    expect(run.status).toBe(0);
    expect(run.stdout).toMatch(/^alibi_causal: fused on .+\n {2}sizes B=1, H=2, N=45, M=61; /);
    expect(run.stdout).toMatch(/^ {2}o \(f16\): max error \d\.\d\de-\d+ of max \|reference\| \(tolerance 4e-3\): ok$/m);
  }, 60_000);

  it("exits 2 for malformed --sizes, --scalars and --seed", async () => {
    const source = file("alibi4.attn", causalAlibi);
    for (const args of [["--sizes", "N=-3"], ["--sizes", "N"], ["--scalars", "cap=x"], ["--seed", "one"]]) {
      const run = await attnc("run", source, ...args);
      expect(run.status, args.join(" ")).toBe(2);
      expect(run.stderr).toMatch(/^attnc: --(sizes|scalars|seed) takes /);
    }
  });
});
