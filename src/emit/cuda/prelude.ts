// Emit stage (CUDA): the device helpers every translation unit starts with (printed verbatim).
export const cudaPrelude = String.raw`#include <cuda_runtime.h>
#include <cuda_fp16.h>
#include <cuda_bf16.h>
#include <stdint.h>

// Helpers shared by every attnc translation unit: identical in each, so inline (not internal) linkage is safe.
namespace attnc_rt {

__device__ inline __attribute__((always_inline)) int attnc_floordiv(int a, int b) {
  if (b == 0) return 0;
  int q = a / b;
  return (q * b != a && ((a < 0) != (b < 0))) ? q - 1 : q;
}

__device__ inline __attribute__((always_inline)) int attnc_floormod(int a, int b) {
  if (b == 0) return 0;
  int r = a % b;
  return (r != 0 && ((r < 0) != (b < 0))) ? r + b : r;
}

// tanh.approx.f32 (sm_75 and later, one MUFU operation): relative error below 2^-10.9, used by kernels whose
// inputs are 16-bit floats anyway; tanhf is a polynomial of some twenty instructions.
__device__ inline __attribute__((always_inline)) float attnc_tanh_fast(float x) {
  float y;
  asm("tanh.approx.f32 %0, %1;" : "=f"(y) : "f"(x));
  return y;
}

__device__ inline __attribute__((always_inline)) long long attnc_clamp_index(long long i, long long n) {
  return i < 0 ? 0 : (i >= n ? (n > 0 ? n - 1 : 0) : i);
}

__device__ inline __attribute__((always_inline)) float attnc_to_float(__half x) { return __half2float(x); }
__device__ inline __attribute__((always_inline)) float attnc_to_float(__nv_bfloat16 x) { return __bfloat162float(x); }
__device__ inline __attribute__((always_inline)) float attnc_to_float(float x) { return x; }
__device__ inline __attribute__((always_inline)) float attnc_to_float(int x) { return (float)x; }
__device__ inline __attribute__((always_inline)) void attnc_store(__half* p, float x) { *p = __float2half_rn(x); }
__device__ inline __attribute__((always_inline)) void attnc_store(__nv_bfloat16* p, float x) { *p = __float2bfloat16_rn(x); }
__device__ inline __attribute__((always_inline)) void attnc_store(float* p, float x) { *p = x; }
__device__ inline __attribute__((always_inline)) void attnc_store(int* p, int x) { *p = x; }
__device__ inline __attribute__((always_inline)) int attnc_to_int(float x) {
  // Saturating, NaN to 0, as the language defines a float stored to i32 and i32(x).
  return x != x ? 0 : (x >= 2147483647.0f ? 2147483647 : (x <= -2147483648.0f ? (int)0x80000000 : (int)truncf(x)));
}
__device__ inline __attribute__((always_inline)) void attnc_store(int* p, float x) { *p = attnc_to_int(x); }

// The online softmax keeps its base below +inf (language.md section 7): x, or the largest finite float for +inf.
__device__ inline __attribute__((always_inline)) float attnc_below_inf(float x) { return fminf(x, 3.40282347e+38f); }

__device__ inline __attribute__((always_inline)) float attnc_exp2(float x) {
  float y;
  asm("ex2.approx.ftz.f32 %0, %1;" : "=f"(y) : "f"(x));
  return y;
}

}  // namespace attnc_rt
using namespace attnc_rt;
`;

/** mma.sync m16n8k16 with f32 accumulators on operands of `ctype` (PTX `ptx`), and two floats packed as a `pair`. */
const mmaSpecialisation = (ctype: string, ptx: string, pair: string, convert: string) => String.raw`template <> struct attnc_mma<${ctype}> {
  static __device__ inline __attribute__((always_inline)) void run(float (&d)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1) {
    asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.${ptx}.${ptx}.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, {%0, %1, %2, %3};\n"
                 : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]) : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
  }
  static __device__ inline __attribute__((always_inline)) uint32_t pack(float lo, float hi) {
    ${pair} h = ${convert}(lo, hi);
    return *reinterpret_cast<uint32_t*>(&h);
  }
};`;

/** Tensor-core helpers for the fused kernel: cp.async, ldmatrix and mma.sync m16n8k16 (sm_80 and later). */
export const mmaPrelude = String.raw`namespace attnc_rt {

__device__ inline __attribute__((always_inline)) uint32_t attnc_smem(const void* p) {
  return static_cast<uint32_t>(__cvta_generic_to_shared(p));
}

__device__ inline __attribute__((always_inline)) void attnc_cp_async16(void* dst, const void* src) {
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16;\n" :: "r"(attnc_smem(dst)), "l"(src));
}
__device__ inline __attribute__((always_inline)) void attnc_cp_commit() { asm volatile("cp.async.commit_group;\n" ::); }
template <int N> __device__ inline __attribute__((always_inline)) void attnc_cp_wait() { asm volatile("cp.async.wait_group %0;\n" :: "n"(N)); }

__device__ inline __attribute__((always_inline)) void attnc_ldmatrix_x4(uint32_t (&r)[4], const void* p) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3]) : "r"(attnc_smem(p)));
}
__device__ inline __attribute__((always_inline)) void attnc_ldmatrix_x4_trans(uint32_t (&r)[4], const void* p) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0, %1, %2, %3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3]) : "r"(attnc_smem(p)));
}

template <typename T> struct attnc_mma;
${mmaSpecialisation("__half", "f16", "__half2", "__floats2half2_rn")}
${mmaSpecialisation("__nv_bfloat16", "bf16", "__nv_bfloat162", "__floats2bfloat162_rn")}

// Copies a ROWS x COLS tile (row r at g + r * row_stride, columns at col_stride) into shared memory with row pitch
// PITCH; rows at or past valid_rows are zero-filled. 16-byte cp.async where the layout allows, element copies otherwise.
// UNROLL: how many of a thread's copies of a whole tile are unrolled (all of them, up to 32, unless given; wide head
// dims take 8, which keeps fewer addresses live beside a large accumulator).
template <typename T, int ROWS, int COLS, int PITCH, int THREADS, int UNROLL = 32>
__device__ inline __attribute__((always_inline)) void attnc_load_tile(T* s, const T* g, long long row_stride, long long col_stride, int valid_rows, bool vec) {
  constexpr int CHUNKS = COLS / 8;
  constexpr int TOTAL = ROWS * CHUNKS;
  if (vec && valid_rows >= ROWS) {
    // The common case, a whole tile of contiguous rows: unrolled 16-byte copies, no per-chunk checks.
#pragma unroll UNROLL
    for (int it = 0; it < (TOTAL + THREADS - 1) / THREADS; ++it) {
      const int c = threadIdx.x + it * THREADS;
      if (TOTAL % THREADS == 0 || c < TOTAL) {
        const int r = c / CHUNKS;
        const int col = (c % CHUNKS) * 8;
        attnc_cp_async16(s + r * PITCH + col, g + r * row_stride + col);
      }
    }
    return;
  }
  for (int c = threadIdx.x; c < TOTAL; c += THREADS) {
    const int r = c / CHUNKS;
    const int col = (c % CHUNKS) * 8;
    T* dst = s + r * PITCH + col;
    if (r < valid_rows) {
      const T* src = g + r * row_stride + col * col_stride;
      if (vec) {
        attnc_cp_async16(dst, src);
      } else {
#pragma unroll
        for (int x = 0; x < 8; ++x) dst[x] = src[x * col_stride];
      }
    } else {
      *reinterpret_cast<uint4*>(dst) = make_uint4(0, 0, 0, 0);
    }
  }
}

}  // namespace attnc_rt
`;
