// Golden diagnostics: each test/golden/diagnostics/NAME.attn beside NAME.expected, the exact stderr of `attnc check`.
// To change an expected file, run `npx tsx scripts/update-golden.ts NAME` and review the diff; CI never rewrites them.
import { existsSync, readFileSync, readdirSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { checkOutput, expectedPath, goldenCases, goldenDir } from "./check-output.js";

/** The cases that only warn: `attnc check` exits 0 for them. Every other case must fail with exit code 1. */
const warningOnly = new Set(["empty-file", "index-unprovable-clamped", "unused-intermediate", "unused-parameter"]);

const cases = goldenCases();

describe("golden diagnostics", () => {
  it("has a case for at least 26 diagnostics, each with its expected output", () => {
    expect(cases.length).toBeGreaterThanOrEqual(26);
    for (const name of cases) expect(existsSync(expectedPath(name)), `${name} has no .expected file`).toBe(true);
    const orphans = readdirSync(goldenDir).filter((f) => f.endsWith(".expected") && !cases.includes(f.replace(/\.expected$/, ".attn")));
    expect(orphans).toEqual([]);
  });

  it("covers at least 26 distinct messages", () => {
    // A message with its names and numbers left out: `x` is assigned twice and `t` is assigned twice are one kind.
    const kinds = new Set<string>();
    for (const name of cases) {
      for (const line of readFileSync(expectedPath(name), "utf8").split("\n")) {
        const header = /^[^:\n]+:\d+:\d+: (error|warning): (.*)$/.exec(line);
        if (header !== null) kinds.add(header[2].replace(/`[^`]*`/g, "`…`").replace(/\d+/g, "#"));
      }
    }
    expect(kinds.size).toBeGreaterThanOrEqual(26);
  });

  it.each(cases)("%s", (name) => {
    const expected = readFileSync(expectedPath(name), "utf8");
    const { stderr, exitCode } = checkOutput(name);
    expect(stderr).toBe(expected);
    expect(exitCode).toBe(warningOnly.has(name.replace(/\.attn$/, "")) ? 0 : 1);
  });
});
