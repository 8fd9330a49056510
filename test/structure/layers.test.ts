// The compiler's stages import only stages below them (type imports included), and no file imports itself back.
import { describe, expect, it } from "vitest";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";

/** The stages from the bottom up: a file may import its own stage's files and those of any stage before it. */
const order = [
  ["records", "random"], ["diagnostics"], ["syntax"], ["check"], ["frontend", "graph"], ["fuse"], ["plan"], ["schedule"], ["tile"],
  ["manifest"], ["emit"], ["interp"], ["runtime"], ["explain", "compile"], ["index", "cli"],
];
const rank = new Map(order.flatMap((names, k) => names.map((n) => [n, k] as const)));

const root = resolve("src");
const files: string[] = [];
const walk = (d: string): void => {
  for (const f of readdirSync(d)) {
    const p = join(d, f);
    if (statSync(p).isDirectory()) walk(p);
    else if (p.endsWith(".ts")) files.push(p);
  }
};
walk(root);
const stageOf = (p: string) => relative(root, p).split("/")[0].replace(/\.ts$/, "");
const importsOf = (f: string): string[] =>
  [...readFileSync(f, "utf8").matchAll(/^(?:import|export)\s[^;]*?from\s+"(\.[^"]+)"/gms)].map((m) => resolve(dirname(f), m[1].replace(/\.js$/, ".ts")));

describe("the structure of src/", () => {
  it("has a stage for every folder and top-level file", () => {
    expect(files.map(stageOf).filter((s) => !rank.has(s))).toEqual([]);
  });

  it("imports only from the same stage or a lower one", () => {
    const upward = files.flatMap((f) => importsOf(f).filter((t) => rank.get(stageOf(t))! > rank.get(stageOf(f))!).map((t) => `${relative(root, f)} -> ${relative(root, t)}`));
    expect(upward).toEqual([]);
  });

  it("has no import circle between files", () => {
    const graph = new Map(files.map((f) => [f, importsOf(f)]));
    const state = new Map<string, "open" | "done">();
    const circles: string[] = [];
    const visit = (f: string, path: string[]): void => {
      if (state.get(f) === "done") return;
      if (state.get(f) === "open") {
        circles.push([...path.slice(path.indexOf(f)), f].map((x) => relative(root, x)).join(" -> "));
        return;
      }
      state.set(f, "open");
      for (const t of graph.get(f) ?? []) visit(t, [...path, f]);
      state.set(f, "done");
    };
    for (const f of files) visit(f, []);
    expect(circles).toEqual([]);
  });
});
