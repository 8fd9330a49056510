import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { compare, planned, randomArgs, rng } from "../support/programs.js";
import { interpret } from "../../src/interp/interpret.js";
import { executePlan } from "../../src/interp/execute-plan.js";
import { readFileSync, readdirSync } from "node:fs";
import { frontEnd } from "../../src/frontend.js";
import { planKernel } from "../../src/plan/plan.js";

const masks = [
  "j <= i", "j <= i && j > i - W", "i / 8 == j / 8", "j < klen[b]", "j >= i", "(i + j) % 3 != 0",
  "abs(i - j) <= W", "j <= i + M - N", "j < klen[b] && j <= i", "j > i - W || j < 2",
];
const scoreMods = [
  "s", "s * 0.5", "s + slopes[h] * (j - i)", "cap * tanh(s / cap)", "s + rel[h, clamp(j - i + 4, 0, 8)]", "s - 0.01 * abs(i - j)",
];

type Variant = { mask?: string; mod: string; normaliser: "softmax" | "sink" | "sigmoid"; lse: boolean; gqa: boolean; scale: number };

function program(v: Variant): string {
  const kv = v.gqa ? "h / G" : "h";
  const heads = v.gqa ? "HK" : "H";
  const score = `sum[d](q[b, h, i, d] * k[b, ${kv}, j, d])`;
  const modded = v.mod.replaceAll(/\bs\b/g, "s0[b, h, i, j]");
  const masked = v.mask ? `where(${v.mask}, ${modded}, -inf)` : modded;
  const p = v.normaliser === "sigmoid" ? `sigmoid(a[b, h, i, j])` : v.normaliser === "sink" ? `softmax[j](a[b, h, i, j], sink: sinks[h])` : `softmax[j](a[b, h, i, j])`;
  const lse = v.lse && v.normaliser !== "sigmoid";
  return `const D = 8
kernel variant(q: f32[B, H, N, D], k: f32[B, ${heads}, M, D], v: f32[B, ${heads}, M, D], slopes: f32[H], rel: f32[H, 9], sinks: f32[H],
               klen: i32[B], W: i32, ${v.gqa ? "G: i32, " : ""}cap: f32)
    -> (o: f32[B, H, N, D]${lse ? ", lse: f32[B, H, N]" : ""}) {
  s0[b, h, i, j] = ${score}
  a[b, h, i, j] = ${masked}
  o[b, h, i, e] = sum[j](${p} * v[b, ${kv}, j, e])
  ${lse ? "lse[b, h, i] = logsumexp[j](a[b, h, i, j])" : ""}
}`;
}

describe("the fused CPU executor", () => {
  it("equals the float64 interpreter on property-generated variants, sizes and tile shapes", () => {
    fc.assert(
      fc.property(
        fc.record({
          mask: fc.option(fc.constantFrom(...masks), { nil: undefined }),
          mod: fc.constantFrom(...scoreMods),
          normaliser: fc.constantFrom("softmax" as const, "sink" as const, "sigmoid" as const),
          lse: fc.boolean(),
          gqa: fc.boolean(),
          scale: fc.constantFrom(1, 30),
        }),
        fc.integer({ min: 1, max: 2 ** 30 }),
        fc.boolean(),
        (variant, seed, deferScale) => {
          const random = rng(seed);
          const plan = planned(program(variant));
          expect(plan.schedule).toBe("fused");
          const HK = 1 + Math.floor(random() * 2);
          const G = variant.gqa ? 1 + Math.floor(random() * 2) : 1;
          const sizes = { B: 1 + Math.floor(random() * 2), H: variant.gqa ? HK * G : HK, HK, N: 1 + Math.floor(random() * 40), M: 1 + Math.floor(random() * 40) };
          const args = randomArgs(plan.kernel, sizes, random, { scale: variant.scale, scalars: { G, W: 1 + Math.floor(random() * 10), cap: 1 + random() * 20 } });
          const tile = { blockQ: 1 + Math.floor(random() * 20), blockK: 1 + Math.floor(random() * 20) };
          const want = interpret(plan.kernel, args, sizes);
          // The tile program as CUDA lowers it (raw products scaled inside exp2) or as WGSL does.
          const got = executePlan(plan, args, sizes, { ...tile, deferScale }).outputs;
          for (const name of Object.keys(want)) {
            const c = compare(got[name], want[name]);
            expect(c.nan, name).toBe(0);
            expect(c.zeroMismatches, `${name}: exact zeros and infinities`).toBe(0);
            expect(c.maxRel, name).toBeLessThan(2e-4);
          }
        },
      ),
      { numRuns: 150, seed: 20261122 },
    );
  });

  it("gives exactly 0 for a fully masked row, and -inf for its logsumexp", () => {
    const plan = planned(program({ mask: "j < klen[b]", mod: "s", normaliser: "softmax", lse: true, gqa: false, scale: 1 }));
    const sizes = { B: 2, H: 1, HK: 1, N: 5, M: 9 };
    const args = randomArgs(plan.kernel, sizes, rng(5), { scalars: { G: 1, W: 1, cap: 1 } });
    (args.klen as Float64Array).set([0, 4]);
    const out = executePlan(plan, args, sizes, { blockQ: 2, blockK: 3 });
    expect([...out.outputs.o.slice(0, 5 * 8)].every((x) => x === 0)).toBe(true);
    expect([...out.outputs.lse.slice(0, 5)]).toEqual([-Infinity, -Infinity, -Infinity, -Infinity, -Infinity]);
    expect(out.outputs.o.slice(5 * 8).some((x) => x !== 0)).toBe(true);
    // Batch 0 sees no key, batch 1 keys 0..3: of 2 x 3 x 3 tiles, only batch 1's first two key tiles are visited.
    expect(out.tiles.full + out.tiles.partial + out.tiles.empty).toBe(6);
  });

  const examples = (() => {
    try {
      return readdirSync("examples").filter((f) => f.endsWith(".attn")).sort();
    } catch {
      return [];
    }
  })();
  it.each(examples.length > 0 ? examples : ["(none yet)"])("runs example %s fused, equal to the interpreter", (file) => {
    if (file === "(none yet)") return;
    const front = frontEnd(readFileSync(`examples/${file}`, "utf8"), { fileName: file, defines: { D: 8 } });
    expect(front.diagnostics.filter((d) => d.severity === "error")).toEqual([]);
    for (const kernel of front.kernels) {
      const plan = planKernel(kernel).plan;
      const random = rng(file.length * 31);
      const sizes: Record<string, number> = {};
      for (const s of kernel.sizes) sizes[s] = s === "G" ? 2 : s === "HKV" ? 2 : s === "H" ? 4 : 3 + Math.floor(random() * 30);
      const args = randomArgs(kernel, sizes, random, { scalars: { G: 2 } });
      const want = interpret(kernel, args, sizes);
      const got = executePlan(plan, args, sizes, { blockQ: 5, blockK: 7 }).outputs;
      for (const o of kernel.outputs) {
        const c = compare(got[o.name], want[o.name].map((x) => x));
        expect(c.nan).toBe(0);
        expect(c.maxRel, `${file} ${o.name}`).toBeLessThan(o.dtype === "f32" ? 2e-4 : o.dtype === "f16" ? 2e-3 : 1.6e-2);
      }
    }
  });
});
