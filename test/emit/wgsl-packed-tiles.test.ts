// WGSL fused kernel: tiles of packed-half tensors stay packed in workgroup memory, so larger tiles fit; the kernel
// stays exact and in bounds at the head dims the benchmarks use.
import { afterAll, describe, expect, it } from "vitest";
import { chooseTileShape } from "../../src/schedule/choose-wgsl.js";
import { releaseDevice } from "../../src/runtime/index.js";
import type { DType } from "../../src/syntax/ast.js";
import { compileOne, exampleSource, reference, runCase, withDtype, type Case } from "../exec/support.js";

afterAll(() => releaseDevice());

const h100 = { maxWorkgroupStorageBytes: 49152 };
const halves = { q: "f16x2", k: "f16x2", v: "f16x2", pInUnitRange: true } as const;
const floats = { q: "f32", k: "f32", v: "f32", pInUnitRange: true } as const;

describe("tile shapes by storage", () => {
  it("fits 64 x 64 tiles of 256 invocations at D=64 in 48 KiB where Q, K and V are packed halves", () => {
    const s = chooseTileShape(64, 64, h100, halves)!;
    expect([s.blockQ, s.blockK, s.threads]).toEqual([64, 64, 256]);
    expect(s.forms).toEqual({ q: "f16x2", k: "f16x2", v: "f16x2", p: "f32" });
    expect(s.bytes).toBeLessThanOrEqual(49152);
  });

  it("keeps f32 tiles, and the tile that fits them, for f32 storage", () => {
    const s = chooseTileShape(64, 64, h100, floats)!;
    expect(s.forms).toEqual({ q: "f32", k: "f32", v: "f32", p: "f32" });
    expect(s.threads).toBeLessThan(256);
    expect(s).toEqual(chooseTileShape(64, 64, h100));
  });

  it("rounds P to f16 only for a softmax over half-stored V, and only where that buys invocations", () => {
    const d128 = chooseTileShape(128, 128, h100, halves)!;
    expect([d128.threads, d128.forms.p]).toEqual([256, "f16x2"]);
    expect(chooseTileShape(128, 128, h100, { ...halves, pInUnitRange: false })!.forms.p).toBe("f32");
    expect(chooseTileShape(128, 128, h100, { ...halves, v: "f32" })!.forms.p).toBe("f32");
  });

  it("never goes past the limit, and fits wherever f32 tiles would, whatever the dims and storage", () => {
    const storages = [halves, floats, { ...halves, q: "f32" as const }, { ...halves, v: "bf16x2" as const }, { ...floats, k: "f16x2" as const }, { ...halves, v: "f32" as const }];
    for (const limit of [16384, 32768, 49152]) {
      for (const d of [4, 8, 16, 24, 32, 48, 64, 80, 96, 128, 256]) {
        for (const dv of [d, 2 * d]) {
          const unknown = chooseTileShape(d, dv, { maxWorkgroupStorageBytes: limit });
          for (const storage of storages) {
            const s = chooseTileShape(d, dv, { maxWorkgroupStorageBytes: limit }, storage);
            if (unknown !== undefined) expect(s, `${limit} ${d} ${dv} ${JSON.stringify(storage)}`).toBeDefined();
            if (s !== undefined) expect(s.bytes).toBeLessThanOrEqual(limit);
          }
        }
      }
    }
  });

  it("declares packed tiles as vec2u words and f32 ones as vec4f", () => {
    const source = exampleSource("causal.attn");
    const packed = compileOne(withDtype(source, "bf16"), { defines: { D: 64 }, schedule: "fused" }).wgsl!;
    expect(packed).toMatch(/var<workgroup> stage0_q: array<vec2u, \d+>/);
    const plain = compileOne(withDtype(source, "f32"), { defines: { D: 64 }, schedule: "fused" }).wgsl!;
    expect(plain).toMatch(/var<workgroup> stage0_q: array<vec4f, \d+>/);
  });
});

// Several query and key tiles, none of them whole; guard regions around every buffer.
const sizes = { B: 1, H: 2, HKV: 1, G: 2, N: 90, M: 133 };
const cases: [string, DType, number][] = [
  ["causal.attn", "f16", 64], ["causal.attn", "bf16", 128], ["document-mask.attn", "f16", 64], ["sinks-lse.attn", "bf16", 64],
  ["sigmoid.attn", "f16", 128], ["gqa.attn", "f16", 128], ["sliding-window.attn", "f32", 64],
];

describe.each(cases)("%s, %s storage, D=%i", (file, dtype, D) => {
  it("runs fused, agrees with the interpreter and keeps the guard regions", async () => {
    const c: Case = { source: withDtype(exampleSource(file), dtype), defines: { D }, sizes, seed: 3 };
    const { schedule } = await runCase(c, "fused", reference(c), { guardWords: 64 });
    expect(schedule).toBe("fused");
  });
});
