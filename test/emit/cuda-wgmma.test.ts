// The sm_90a kernel on warpgroup matrix products: where it applies, its tile shapes, its shared memory, the wgmma
// helpers' operand lists, and the softmax's deferred score scale. (nvcc builds every emitted file in
// cuda-compile.test.ts; the GPU checks are bench/cuda/harness.py's.)
import { describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import { compile } from "../../src/compile.js";
import { lowerFused } from "../../src/tile/lower.js";
import { printFusedWgmma } from "../../src/emit/cuda/fused-wgmma.js";
import { wgmmaRecord, wsRegisters } from "../../src/schedule/choose-cuda.js";
import { scheduleCuda } from "../../src/schedule/index.js";
import type { KernelPlan } from "../../src/plan/plan.js";
import { printWgmma } from "../../src/emit/cuda/wgmma.js";
import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { cudaDialect } from "../../src/emit/cuda/dialect.js";
import type { FusedStage } from "../../src/plan/plan.js";
import { pinnedCuda } from "../../src/compile.js";
import { planKernel } from "../../src/plan/plan.js";
import { checked, planned } from "../support/programs.js";

const cuda = (path: string, arch: "sm_80" | "sm_90a", D?: number) =>
  compile(readFileSync(path, "utf8"), { fileName: path, target: "cuda", arch, defines: D === undefined ? {} : { D } }).kernels[0].cuda!;

const fusedStage = (source: string, D: number): FusedStage => {
  const stage = planned(source, { D }).stages.find((s) => s.kind === "fused");
  if (stage === undefined || stage.kind !== "fused") throw new Error("no fused stage");
  return stage;
};

const plain = (scale: string, normaliser = "softmax[j](s[b, h, i, j])") => `kernel k(q: bf16[B, H, N, D], k: bf16[B, H, N, D], v: bf16[B, H, N, D]) -> (o: bf16[B, H, N, D]) {
  s[b, h, i, j] = ${scale}
  o[b, h, i, e] = sum[j](${normaliser} * v[b, h, j, e])
}`;

/** The plan as sm_90a CUDA, with `pin`'s schedule fields pinned. */
const sm90 = (plan: KernelPlan, pin?: Readonly<Record<string, unknown>>) => pinnedCuda(plan, "sm_90a", pin);
/** A wgmma shape with every field given (false, or 2 stages, where absent). */
const wg = (s: Readonly<Record<string, unknown>>) => ({ path: "wgmma", producer: false, stages: 2, pingpong: false, persistent: false, ...s });

describe("the sm_90a wgmma kernel", () => {
  it("is chosen for sm_90a at head dims in 64-wide slabs, and mma.sync otherwise", () => {
    for (const D of [64, 128]) {
      const hopper = cuda("bench/cuda/programs/causal.attn", "sm_90a", D);
      // S = Q K^T is m64nBCk16 and O += P V m64nDk16: BC is 64 at D = 64 and 128 at D = 128.
      expect(hopper).toContain(`wgmma.mma_async.sync.aligned.m64n${D}k16.f32.bf16.bf16`);
      expect(hopper).toContain("(tensor cores, wgmma)");
      expect(hopper).not.toContain("attnc_mma<T>::run(");
      const ampere = cuda("bench/cuda/programs/causal.attn", "sm_80", D);
      expect(ampere).toContain("attnc_mma<T>::run(");
      expect(ampere).not.toContain("wgmma");
    }
    // D = 96 is a whole number of k16 steps but not of 128-byte slabs: mma.sync on sm_90a too.
    const d96 = cuda("bench/cuda/programs/causal.attn", "sm_90a", 96);
    expect(d96).toContain("attnc_mma<T>::run(");
    expect(d96).not.toContain("wgmma");
  });

  it("refuses to build for a target without wgmma, with a message naming the flag", () => {
    expect(cuda("bench/cuda/programs/full.attn", "sm_90a", 128)).toContain(
      '#if defined(__CUDA_ARCH__) && !defined(__CUDA_ARCH_FEAT_SM90_ALL)\n#error "this translation unit uses wgmma (generated for sm_90a): compile it with -gencode=arch=compute_90a,code=sm_90a"',
    );
  });

  it("takes the persistent warp-specialised kernel (overlap and ping-pong for masks at D = 128 without column reads), one warpgroup and 64-key tiles for chains that read tensors per score", () => {
    const shape = (path: string, D: number) => {
      const r = scheduleCuda(planned(readFileSync(path, "utf8"), { D }), "sm_90a").schedule.stages.find((x) => x.kind === "fused")!;
      if (r.kind !== "fused" || r.path !== "wgmma") throw new Error(`not wgmma: ${JSON.stringify(r)}`);
      const { path: _path, warpgroups, blockK, overlap, producer, stages, pingpong, persistent } = r;
      return { path: _path, warpgroups, blockK, overlap, producer, stages, pingpong, persistent };
    };
    const overlapped = wg({ warpgroups: 2, blockK: 128, overlap: true, producer: true, pingpong: true, persistent: true });
    const persistent = wg({ warpgroups: 2, blockK: 128, overlap: false, producer: true, persistent: true });
    const narrow = wg({ warpgroups: 1, blockK: 64, overlap: false });
    expect(shape("bench/cuda/programs/full.attn", 128)).toEqual(persistent);
    expect(shape("bench/cuda/programs/full.attn", 64)).toEqual(persistent);
    expect(shape("bench/cuda/programs/causal.attn", 128)).toEqual(overlapped);
    expect(shape("bench/cuda/programs/alibi.attn", 128)).toEqual(overlapped);
    expect(shape("bench/cuda/programs/sliding.attn", 128)).toEqual(overlapped);
    expect(shape("bench/cuda/programs/causal.attn", 64)).toEqual(persistent);
    expect(shape("bench/cuda/programs/document.attn", 64)).toEqual(persistent);
    expect(shape("bench/cuda/programs/document.attn", 128)).toEqual(persistent);
    expect(shape("examples/relative-bias.attn", 128)).toEqual(narrow);
  });

  it("fits an H100 block's shared memory at every shape, with the third V buffer only when P V overlaps", () => {
    const stage = fusedStage(readFileSync("bench/cuda/programs/full.attn", "utf8"), 128);
    const d = cudaDialect({ tensorIndex: new Map([["q", 0], ["k", 1], ["v", 2], ["o", 3]]), sizeIndex: new Map(), scalarIndex: new Map() }, { fastMath: true });
    const slots = new Map(["q", "k", "v", "o"].map((name, index) => [name, { index, strideOffset: 4 * index, ctype: "__nv_bfloat16" }]));
    const bytes = (warpgroups: number, blockK: number, overlap: boolean) =>
      printFusedWgmma("k", lowerFused(stage, { deferScale: true }), d, slots, "__nv_bfloat16", wgmmaRecord({ arch: "sm_90a", output: "o" }, { d: 128, dv: 128 }, { warpgroups, blockK, overlap, producer: false, stages: 2, pingpong: false, persistent: false, l2Budget: 0 })).smemBytes;
    // Q (64 rows a warpgroup), two K buffers and two or three V buffers of BC x 128 bf16, and 1024 bytes of alignment.
    expect(bytes(2, 128, true)).toBe(1024 + 2 * 64 * 256 + 2 * 128 * 256 + 3 * 128 * 256);
    expect(bytes(2, 128, false)).toBe(1024 + 2 * 64 * 256 + 4 * 128 * 256);
    for (const [g, b, o] of [[1, 64, true], [2, 64, true], [2, 128, true], [3, 128, true]] as const) expect(bytes(g, b, o)).toBeLessThanOrEqual(227 * 1024);
  });

  it("classifies 32 key tiles a round and keeps their classes, so a run-time table is read once a window", () => {
    const plan = planKernel(checked(readFileSync("bench/cuda/programs/document.attn", "utf8"), { D: 128 })).plan;
    const source = sm90(plan).source;
    const next = source.slice(source.indexOf("auto next_tile"), source.indexOf("auto tile_full ="));
    // The tables are read inside the refill of the window only, and tile_full answers from the window.
    expect(next).toContain("if (kt < window || kt >= window + 32) {");
    expect(next).toContain("window_live = __ballot_sync(0xffffffffu, inside && !tile_empty(candidate));");
    expect(next).toContain("window_full = __ballot_sync(0xffffffffu, inside && tile_full_at(candidate));");
    expect(source).toContain("return kt >= window && kt < window + 32 ? ((window_full >> (kt - window)) & 1u) != 0u : tile_full_at(kt);");
    const loop = source.slice(source.indexOf("while (kt >= 0)"));
    expect(loop).not.toContain("tile_full_at(");
    expect(loop).not.toContain("ld_5(");
  });

  it("reads a column value that only the mask uses (doc[b, j]) in guarded tiles alone, while S is computed", () => {
    const plan = planKernel(checked(readFileSync("bench/cuda/programs/document.attn", "utf8"), { D: 128 })).plan;
    // The default (warp-specialised) kernel's consumer loop, and the one-warpgroup kernel's.
    for (const loop of [
      sm90(plan).source.split("for (;; ++it)")[1],
      sm90(plan, wg({ warpgroups: 1, blockK: 64, overlap: false })).source.split("while (kt >= 0)")[1],
    ]) {
      const guardedPass = loop.indexOf("if (guarded) {");
      const columnRead = loop.indexOf("hoisted_h1[nt][c1] = ld_3(p, ix_b, ix_j);");
      const sIssued = loop.indexOf("attnc_wgmma_commit();");
      const sWaited = loop.indexOf("attnc_wgmma_wait<0>();");
      expect(guardedPass).toBeGreaterThan(sIssued);
      expect(columnRead).toBeGreaterThan(guardedPass);
      expect(columnRead).toBeLessThan(sWaited);
      expect(loop.match(/hoisted_h1\[nt\]\[c1\] = /g)).toHaveLength(1);
      expect(loop.slice(sWaited)).toContain("if (j_raw >= M || !(((ix_j <= ix_i) && (r_h0 == r_h1)))) s[mt][nt][cc] = NEG_INF;");
    }
  });

  it("runs a softmax's mask in a pass of its own over guarded tiles: no mask code in the score pass", () => {
    for (const [program, D] of [["causal", 64], ["sliding", 128], ["alibi", 128], ["document", 128]] as const) {
      const source = sm90(planKernel(checked(readFileSync(`bench/cuda/programs/${program}.attn`, "utf8"), { D })).plan).source;
      const kernel = source.slice(source.lastIndexOf("__global__"));
      // One guarded pass a tile, over every score, and no test of `guarded` inside a per-score loop.
      expect(kernel.match(/if \(guarded\) \{\n\s*#pragma unroll\n\s*for \(int mt = 0; mt < MT; \+\+mt\)/g), program).toHaveLength(1);
      expect(kernel, program).not.toMatch(/for \(int cc = 0; cc < 4; \+\+cc\) \{[^}]*if \(guarded\)/);
    }
  });

  it("warp-specialised: asks setmaxnreg for no more registers than the block was launched with", () => {
    expect(wsRegisters(2)).toEqual({ launch: 168, producer: 56, consumer: 224 });
    expect(wsRegisters(2, true)).toEqual({ launch: 168, producer: 72, consumer: 216 });
    for (const [groups, tables] of [[1, false], [2, false], [2, true], [3, false], [3, true]] as const) {
      const r = wsRegisters(groups, tables);
      const threads = 128 * (groups + 1);
      expect(r.launch * threads).toBeLessThanOrEqual(65536);
      expect(128 * r.producer + 128 * groups * r.consumer).toBeLessThanOrEqual(r.launch * threads);
      for (const n of [r.producer, r.consumer]) expect(n % 8 === 0 && n >= 24 && n <= 256).toBe(true);
    }
  });

  it("warp-specialised (the D = 128 default): a producer warpgroup, mbarrier stages, ping-pong consumers, no block-wide barrier in the key loop", () => {
    const plan = planKernel(checked(readFileSync("bench/cuda/programs/causal.attn", "utf8"), { D: 128 })).plan;
    const source = sm90(plan).source;
    expect(source).toContain("__launch_bounds__(384, 1)");
    // full_k counts the producer's 128 copies and its thread 0's arrival after writing the tile code; the consumers
    // learn the tiles from it.
    expect(source).toContain("attnc_mbar_init(full_k + b, 129); attnc_mbar_init(full_v + b, 128);");
    expect(source).toContain("attnc_mbar_init(empty_k + b, 256); attnc_mbar_init(empty_v + b, 256);");
    expect(source).toContain("if (threadIdx.x == 0) { tile[b] = 2 * kt + (tile_full(kt) ? 1 : 0); attnc_mbar_arrive(full_k + b); }");
    expect(source).toContain("if (threadIdx.x == 0) { tile[b] = -1; attnc_mbar_arrive(full_k + b); }");
    const consumer = source.slice(source.indexOf("attnc_regs_inc<"));
    expect(consumer).toContain("const int code = tile[b];");
    expect(consumer).not.toMatch(/next_tile\(/);
    // The producer copies 4 chunks at a time in 56 registers; the consumers get 224.
    expect(source).toContain("attnc_regs_dec<56>();");
    expect(source).toContain("attnc_regs_inc<224>();");
    expect(source).toContain("attnc_load_tile_sw128<T, BC, D, 128, 4>(sK(b)");
    // The producer waits for a stage to be released one use after the consumers waited for it to be filled.
    expect(source).toContain("const uint32_t parity = ((it / STAGES) & 1) ^ 1;");
    expect(source).toContain("const uint32_t parity = (it / STAGES) & 1;");
    // Ping-pong: consumer 1 lets consumer 0 go first; each waits for its turn before S and hands it over after P V.
    expect(source).toContain("if (cg == 1) attnc_named_arrive(3, 256);");
    expect(source.match(/attnc_named_sync\(3 \+ cg, 256\);/g)).toHaveLength(1);
    expect(source.match(/attnc_named_arrive\(4 - cg, 256\);/g)).toHaveLength(2);
    const kernel = source.slice(source.indexOf("__global__"));
    expect(kernel.match(/__syncthreads\(\)/g)).toHaveLength(1);
    // Built with nvcc without spills (the producer spills at fewer than 64 registers).
    const dir = mkdtempSync(join(tmpdir(), "attnc-ws-"));
    // The non-overlapped form at 64-key tiles, and documents (tiles classified from the id tables: the producer
    // takes 72 registers).
    const narrow = sm90(plan, wg({ warpgroups: 2, blockK: 64, overlap: false, producer: true })).source;
    const documents = sm90(planKernel(checked(readFileSync("bench/cuda/programs/document.attn", "utf8"), { D: 128 })).plan, wg({ warpgroups: 2, blockK: 64, overlap: true, producer: true })).source;
    expect(documents).toContain("attnc_regs_dec<72>();");
    expect(documents).toContain("attnc_regs_inc<216>();");
    for (const [name, code] of [["causal_ws.cu", source], ["causal_ws64.cu", narrow], ["document_ws.cu", documents]]) {
      const file = join(dir, name);
      writeFileSync(file, code);
      const nvcc = spawnSync("nvcc", ["-c", "-gencode=arch=compute_90a,code=sm_90a", "-Xptxas", "-v", "-o", `${file}.o`, file], { encoding: "utf8" });
      expect(nvcc.status, nvcc.stderr).toBe(0);
      const spills = [...nvcc.stderr.matchAll(/(\d+) bytes spill stores, (\d+) bytes spill loads/g)];
      expect(spills.length).toBeGreaterThan(0);
      expect(spills.filter((m) => m[1] !== "0" || m[2] !== "0").map((m) => m[0])).toEqual([]);
    }
  }, 120_000);

  it("gives persistent blocks, one an SM, that take their query tiles from a counter of the launch's own, in the grid's order", () => {
    for (const program of ["full", "causal", "document"]) {
      const plan = planKernel(checked(readFileSync(`bench/cuda/programs/${program}.attn`, "utf8"), { D: 128 })).plan;
      const source = sm90(plan).source;
      expect(source).toContain("err = cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device);");
      expect(source).toContain("const long long work = tiles * rows;");
      expect(source).toContain("const dim3 grid((unsigned)(work < sms ? work : sms), 1);");
      // A zeroed counter for each launch, freed after it on the same stream.
      const launch = source.slice(source.indexOf('extern "C" int'));
      const [malloc, memset, kernel, free] = ["cudaMallocAsync((void**)&counter", "cudaMemsetAsync(counter, 0,", ", counter);", "cudaFreeAsync(counter, stream)"].map((x) => launch.indexOf(x));
      expect(malloc).toBeGreaterThan(0);
      expect(memset).toBeGreaterThan(malloc);
      expect(kernel).toBeGreaterThan(memset);
      expect(free).toBeGreaterThan(kernel);
      // The producer's thread 0 takes an item when a Q buffer frees up and hands it on; the consumers read it once
      // its Q buffer is full. Both decode it the same way: row group, a group's tiles longest first, rows fastest.
      const producer = source.slice(source.indexOf("attnc_regs_dec<"), source.indexOf("attnc_regs_inc<"));
      const consumer = source.slice(source.indexOf("attnc_regs_inc<"));
      expect(producer).toContain("if (threadIdx.x == 0) { q_item[qb] = (long long)atomicAdd(counter, 1ULL); attnc_mbar_arrive(full_q + qb); }");
      expect(producer.indexOf("attnc_mbar_wait(empty_q + qb, ((qi / Q_STAGES) & 1) ^ 1);")).toBeLessThan(producer.indexOf("atomicAdd"));
      expect(consumer).toContain("attnc_mbar_wait(full_q + qb, (qi / Q_STAGES) & 1);\n      const long long item = q_item[qb];");
      for (const role of [producer, consumer]) {
        expect(role).toContain("if (item >= work) break;");
        expect(role).toContain("const long long row = g * group + x % size;");
        expect(role).toContain("const int i0 = (tiles - 1 - (int)(x / size)) * BR;");
      }
      // The producer copies Q into the buffer; the consumers copy nothing and release it once their last S is done.
      expect(producer).toContain("attnc_load_tile_sw128<T, 64, D, 128, 4>(sQ_at(qb) + h * (64 * D * 2), gQ");
      expect(consumer).not.toContain("attnc_load_tile_sw128");
      expect(consumer).not.toContain("attnc_cp_");
      expect(consumer.indexOf("attnc_mbar_arrive(empty_q + qb);")).toBeGreaterThan(consumer.lastIndexOf("const int code = tile[b];"));
    }
    // The work items decoded as the kernel does, over a short last row group: each query tile of each row once.
    for (const [rows, tiles, group] of [[7, 5, 3], [6, 4, 3], [1, 9, 1], [5, 1, 8]]) {
      const seen = new Set<string>();
      const whole = Math.floor(rows / group);
      for (let item = 0; item < rows * tiles; item++) {
        const g = Math.min(Math.floor(item / (group * tiles)), whole);
        const size = g < whole ? group : rows - whole * group;
        const x = item - g * group * tiles;
        seen.add(`${g * group + (x % size)},${tiles - 1 - Math.floor(x / size)}`);
      }
      expect(seen.size).toBe(rows * tiles);
      for (const key of seen) {
        const [row, tile] = key.split(",").map(Number);
        expect(row >= 0 && row < rows && tile >= 0 && tile < tiles).toBe(true);
      }
    }
    // Kernels without a producer keep one block a query tile.
    const narrow = sm90(planKernel(checked(readFileSync("bench/cuda/programs/causal.attn", "utf8"), { D: 128 })).plan, wg({ warpgroups: 1, blockK: 64, overlap: false })).source;
    expect(narrow).not.toContain("cudaDevAttrMultiProcessorCount");
    expect(narrow).toContain("const dim3 grid((unsigned)(tiles * group), (unsigned)(groups < 65535LL ? groups : 65535LL));");
  });

  it("launches rows in groups whose K and V fit the L2 budget, a group's query tiles longest first", () => {
    const plan = planKernel(checked(readFileSync("bench/cuda/programs/causal.attn", "utf8"), { D: 128 })).plan;
    const source = (l2Budget?: number) => sm90(plan, { ...wg({ warpgroups: 2, blockK: 128, overlap: true, producer: true, pingpong: true }), ...(l2Budget !== undefined ? { l2Budget } : {}) }).source;
    // K and V of one row: M keys of 128 + 128 bf16 values; 8 MB by default, and rows one after another with 0.
    expect(source()).toContain("kv_bytes = (long long)sizes[3] * (128LL * 2 + 128LL * 2);");
    expect(source()).toContain("long long group = kv_bytes > 0 && kv_bytes < 8388608LL ? 8388608LL / kv_bytes : 1;");
    expect(source(0)).toContain("long long group = 1;");
    expect(source()).toContain("const dim3 grid((unsigned)(tiles * group), (unsigned)(groups < 65535LL ? groups : 65535LL));");
    // blockIdx.x: rows of the group fastest, then query tiles from the last; blockIdx.y: the groups.
    expect(source()).toContain("const int i0 = (gridDim.x / group - 1 - blockIdx.x / group) * BR;");
    expect(source()).toContain("for (long long row = blockIdx.y * (long long)group + in_group; row < rows; row += gridDim.y * (long long)group)");
  });

  it("keeps document ids in ints in the tile tables, and reads 16 of them at a time", () => {
    const plan = planKernel(checked(readFileSync("bench/cuda/programs/document.attn", "utf8"), { D: 128 })).plan;
    const source = sm90(plan).source;
    // min and max over each 64-key granule, as ints (a float merges ids above 2^24), with loads in flight together.
    expect(source).toContain("int red_0 = 2147483647;\n    #pragma unroll 16\n    for (int ix_0x_p3 = 0; ix_0x_p3 < 64; ++ix_0x_p3) {\n      red_0 = min(red_0, ld_3(");
    expect(source).toContain("int red_0 = ((-2147483647) - 1);");
    expect(source).not.toContain("(float)ld_3(");
  });

  it("double-buffers Q where it fits (the producer copies the next query tile during this one)", () => {
    const plan = planKernel(checked(readFileSync("bench/cuda/programs/causal.attn", "utf8"), { D: 128 })).plan;
    const kernel = (stages?: number) => sm90(plan, wg({ warpgroups: 2, blockK: 128, overlap: true, producer: true, pingpong: true, persistent: true, stages: stages ?? 2 }));
    // 1024 alignment + 2 Q buffers (128 x 128 bf16) + 2 stages of K and V + 12 mbarriers + 2 items + 2 tile codes.
    expect(kernel().source).toContain("STAGES = 2, Q_STAGES = 2;");
    expect(kernel().source).toContain(", 384, 197752, stream>>>");
    expect(1024 + 2 * 32768 + 2 * 65536 + 8 * 12 + 16 + 8).toBe(197752);
    // With three K/V stages, two Q buffers would not fit 227 KB: one.
    expect(kernel(3).source).toContain("STAGES = 3, Q_STAGES = 1;");
  });

  it("prints wgmma helpers whose operand numbers follow the accumulator count", () => {
    const ss = printWgmma({ operands: "ss", ptxType: "bf16", n: 128 });
    expect(ss).toContain("float (&d)[16][4], uint64_t desc_a, uint64_t desc_b, int scale_d");
    expect(ss).toContain("setp.ne.b32 p, %66, 0;");
    expect(ss).toContain("{%0, %1, ");
    expect(ss).toContain("%63}, %64, %65, p, 1, 1, 0, 0;");
    expect(ss).toContain('"+f"(d[15][3])\n');
    const rs = printWgmma({ operands: "rs", ptxType: "f16", n: 64 });
    expect(rs).toContain("wgmma.mma_async.sync.aligned.m64n64k16.f32.f16.f16 {%0,");
    expect(rs).toContain("%31}, {%32, %33, %34, %35}, %36, p, 1, 1, 1;");
    expect(rs).toContain("setp.ne.b32 p, %37, 0;");
    expect(rs.match(/"\+f"/g)).toHaveLength(32);
  });
});

describe("the softmax's deferred score scale", () => {
  const scaleOf = (source: string) => lowerFused(fusedStage(source, 64), { deferScale: true }).scale;

  it("is c log2(e) for a score times a positive constant", () => {
    expect(scaleOf(plain("sum[d](q[b, h, i, d] * k[b, h, j, d]) * rsqrt(D)"))).toBeCloseTo(Math.LOG2E / 8, 12);
    expect(scaleOf(plain("0.25 * sum[d](q[b, h, i, d] * k[b, h, j, d])"))).toBeCloseTo(0.25 * Math.LOG2E, 12);
  });

  it("is not taken for a negative scale, a bias, a capped score or an element-wise normaliser", () => {
    expect(scaleOf(plain("sum[d](q[b, h, i, d] * k[b, h, j, d]) * -0.125"))).toBeUndefined();
    expect(scaleOf(plain("sum[d](q[b, h, i, d] * k[b, h, j, d]) * 0.125 + 1.0"))).toBeUndefined();
    expect(scaleOf(plain("30.0 * tanh(sum[d](q[b, h, i, d] * k[b, h, j, d]) / 30.0)"))).toBeUndefined();
    expect(scaleOf(plain("sum[d](q[b, h, i, d] * k[b, h, j, d]) * 0.125", "sigmoid(s[b, h, i, j])"))).toBeUndefined();
  });

  it("leaves raw products in the tensor-core kernels and scales inside exp2, but not in the f32 SIMT kernel", () => {
    const hopper = cuda("bench/cuda/programs/full.attn", "sm_90a", 128);
    expect(hopper).toContain("float x = r_score;");
    expect(hopper).toMatch(/attnc_exp2\(fmaf\(s\[mt\]\[nt\]\[cc\], 0\.127517\d*f, -base\[cc >> 1\]\)\)/);
    const simt = cuda("bench/cuda/programs/sigmoid-f32.attn", "sm_90a", 32);
    expect(simt).not.toContain("float x = r_score;");
  });
});
