// Emit stage (CUDA): Hopper warpgroup matrix products (wgmma.mma_async, sm_90a) as device helpers, one for each
// operand form, element type and width a kernel uses. The accumulator is the warp's m16n8 tiles in order, so
// d[nt][cc] is the same element as in the mma.sync kernels.

/** A helper a kernel needs: S = Q K^T with both operands in shared memory ("ss"), or O += P V with P in registers ("rs"). */
export type WgmmaForm = { readonly operands: "ss" | "rs"; readonly ptxType: "f16" | "bf16"; readonly n: number };

export const wgmmaName = (f: WgmmaForm): string => `attnc_wgmma_${f.operands}_${f.ptxType}_n${f.n}`;

/** The helper's definition: an inline-asm wgmma m64nNk16 with f32 accumulators. */
export function printWgmma(f: WgmmaForm): string {
  const regs = f.n / 2;
  const d = Array.from({ length: regs }, (_, x) => `%${x}`).join(", ");
  const outs = Array.from({ length: regs }, (_, x) => `"+f"(d[${x >> 2}][${x & 3}])`).join(", ");
  const instr = `wgmma.mma_async.sync.aligned.m64n${f.n}k16.f32.${f.ptxType}.${f.ptxType}`;
  // ss: A (Q) K-major and B (K) K-major; rs: B (V) is MN-major, so transposed (imm-trans-b = 1).
  const [params, operands, inputs] = f.operands === "ss"
    ? ["uint64_t desc_a, uint64_t desc_b, int scale_d", `%${regs}, %${regs + 1}, p, 1, 1, 0, 0`, `"l"(desc_a), "l"(desc_b), "r"(scale_d)`]
    : ["const uint32_t (&a)[4], uint64_t desc_b, int scale_d", `{%${regs}, %${regs + 1}, %${regs + 2}, %${regs + 3}}, %${regs + 4}, p, 1, 1, 1`, `"r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(desc_b), "r"(scale_d)`];
  const scale = f.operands === "ss" ? regs + 2 : regs + 5;
  return [
    `__device__ inline __attribute__((always_inline)) void ${wgmmaName(f)}(float (&d)[${f.n / 8}][4], ${params}) {`,
    `  asm volatile("{\\n.reg .pred p;\\nsetp.ne.b32 p, %${scale}, 0;\\n"`,
    `               "${instr} {${d}}, ${operands};\\n}\\n"`,
    `               : ${outs}`,
    `               : ${inputs});`,
    "}",
  ].join("\n");
}

/** Descriptors, fences and the swizzled tile copy every wgmma kernel uses. */
export const wgmmaPrelude = String.raw`namespace attnc_rt {

#if defined(__CUDA_ARCH__) && !defined(__CUDA_ARCH_FEAT_SM90_ALL)
#error "this translation unit uses wgmma (generated for sm_90a): compile it with -gencode=arch=compute_90a,code=sm_90a"
#endif

// A shared-memory matrix descriptor with the 128-byte swizzle: start address, leading and stride byte offsets.
__device__ inline __attribute__((always_inline)) uint64_t attnc_desc(const void* p, uint32_t leading, uint32_t stride) {
  return (uint64_t)((attnc_smem(p) & 0x3FFFFu) >> 4) | ((uint64_t)(leading >> 4) << 16) | ((uint64_t)(stride >> 4) << 32) | (1ull << 62);
}
__device__ inline __attribute__((always_inline)) void attnc_wgmma_fence() { asm volatile("wgmma.fence.sync.aligned;\n" ::: "memory"); }
__device__ inline __attribute__((always_inline)) void attnc_wgmma_commit() { asm volatile("wgmma.commit_group.sync.aligned;\n" ::: "memory"); }
template <int N> __device__ inline __attribute__((always_inline)) void attnc_wgmma_wait() { asm volatile("wgmma.wait_group.sync.aligned %0;\n" :: "n"(N) : "memory"); }
// Shared memory written through the generic proxy (cp.async, stores) and read next by wgmma (the async proxy).
__device__ inline __attribute__((always_inline)) void attnc_fence_async_smem() { asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory"); }
// Keeps the compiler from moving reads or writes of accumulators across an asynchronous matrix product.
template <int R> __device__ inline __attribute__((always_inline)) void attnc_fence_regs(float (&d)[R][4]) {
#pragma unroll
  for (int x = 0; x < R; ++x) asm volatile("" : "+f"(d[x][0]), "+f"(d[x][1]), "+f"(d[x][2]), "+f"(d[x][3]) :: "memory");
}
template <int R> __device__ inline __attribute__((always_inline)) void attnc_fence_regs(uint32_t (&a)[R][4]) {
#pragma unroll
  for (int x = 0; x < R; ++x) asm volatile("" : "+r"(a[x][0]), "+r"(a[x][1]), "+r"(a[x][2]), "+r"(a[x][3]) :: "memory");
}

// Copies a ROWS x COLS tile into shared memory in the layout wgmma reads with the 128-byte swizzle: COLS / 64 slabs
// of ROWS rows of 128 bytes, the 16-byte chunk c of row r stored at chunk c ^ (r % 8). The tile must start on a
// 1024-byte boundary. Rows at or past valid_rows are zero-filled. tid is the calling thread's index among the THREADS
// that copy the tile; whole tiles are copied with cp.async alone (vec and valid_rows >= ROWS), others also with stores.
// UNROLL: how many of a thread's copies are unrolled (all of them unless given; a producer warpgroup, which only
// copies, takes 4 and so keeps fewer addresses live).
template <typename T, int ROWS, int COLS, int THREADS, int UNROLL = 32>
__device__ inline __attribute__((always_inline)) void attnc_load_tile_sw128(unsigned char* s, const T* g, long long row_stride, long long col_stride, int valid_rows, bool vec, int tid) {
  constexpr int CHUNKS = COLS / 8;
  constexpr int TOTAL = ROWS * CHUNKS;
  auto at = [&](int r, int ch) { return s + (ch >> 3) * (ROWS * 128) + r * 128 + (((ch & 7) ^ (r & 7)) << 4); };
  if (vec && valid_rows >= ROWS) {
#pragma unroll UNROLL
    for (int it = 0; it < (TOTAL + THREADS - 1) / THREADS; ++it) {
      const int c = tid + it * THREADS;
      if (TOTAL % THREADS == 0 || c < TOTAL) attnc_cp_async16(at(c / CHUNKS, c % CHUNKS), g + (c / CHUNKS) * row_stride + (c % CHUNKS) * 8);
    }
    return;
  }
  for (int c = tid; c < TOTAL; c += THREADS) {
    const int r = c / CHUNKS, ch = c % CHUNKS;
    unsigned char* dst = at(r, ch);
    if (r < valid_rows) {
      const T* src = g + r * row_stride + ch * 8 * col_stride;
      if (vec) {
        attnc_cp_async16(dst, src);
      } else {
        T* d = reinterpret_cast<T*>(dst);
#pragma unroll
        for (int x = 0; x < 8; ++x) d[x] = src[x * col_stride];
      }
    } else {
      *reinterpret_cast<uint4*>(dst) = make_uint4(0, 0, 0, 0);
    }
  }
}

// mbarriers for the warp-specialised kernel: a producer warpgroup fills K/V stages, consumers wait on "full" and
// release on "empty". A parity wait returns once the phase of that parity has completed (at once, for parity 1, on
// a barrier that has not completed a phase yet).
__device__ inline __attribute__((always_inline)) void attnc_mbar_init(uint64_t* bar, int count) {
  asm volatile("mbarrier.init.shared::cta.b64 [%0], %1;\n" :: "r"(attnc_smem(bar)), "r"(count) : "memory");
}
__device__ inline __attribute__((always_inline)) void attnc_mbar_wait(uint64_t* bar, uint32_t parity) {
  asm volatile("{\n.reg .pred done;\nATTNC_WAIT:\nmbarrier.try_wait.parity.shared::cta.b64 done, [%0], %1;\n@!done bra ATTNC_WAIT;\n}\n"
               :: "r"(attnc_smem(bar)), "r"(parity) : "memory");
}
__device__ inline __attribute__((always_inline)) void attnc_mbar_arrive(uint64_t* bar) {
  asm volatile("mbarrier.arrive.shared::cta.b64 _, [%0];\n" :: "r"(attnc_smem(bar)) : "memory");
}
// Arrives on bar once this thread's earlier cp.async copies have landed (the barrier counts this arrival).
__device__ inline __attribute__((always_inline)) void attnc_cp_async_arrive(uint64_t* bar) {
  asm volatile("cp.async.mbarrier.arrive.noinc.shared::cta.b64 [%0];\n" :: "r"(attnc_smem(bar)) : "memory");
}
__device__ inline __attribute__((always_inline)) void attnc_named_sync(int id, int threads) {
  asm volatile("bar.sync %0, %1;\n" :: "r"(id), "r"(threads) : "memory");
}
__device__ inline __attribute__((always_inline)) void attnc_named_arrive(int id, int threads) {
  asm volatile("bar.arrive %0, %1;\n" :: "r"(id), "r"(threads) : "memory");
}
template <int N> __device__ inline __attribute__((always_inline)) void attnc_regs_dec() { asm volatile("setmaxnreg.dec.sync.aligned.u32 %0;\n" :: "n"(N)); }
template <int N> __device__ inline __attribute__((always_inline)) void attnc_regs_inc() { asm volatile("setmaxnreg.inc.sync.aligned.u32 %0;\n" :: "n"(N)); }

}  // namespace attnc_rt
`;
