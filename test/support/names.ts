// Test support: names a user may give a tensor, index, size, scalar or kernel that the targets treat specially
// (keywords, reserved words, builtins, macros, globals, the generated code's own identifiers), and renaming a program.
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { compile } from "../../src/compile.js";

const words = (text: string): string[] => text.split(/\s+/).filter((w) => w !== "");

/** C and C++ keywords, alternative tokens, contextual keywords, standard types, macros and library names. */
export const cppNames = words(`
  alignas alignof and and_eq asm auto bitand bitor bool break case catch char char8_t char16_t char32_t class compl
  concept const_cast consteval constexpr constinit continue co_await co_return co_yield decltype default delete do
  double dynamic_cast else enum explicit export extern false float for friend goto if inline int long mutable namespace
  new noexcept not not_eq nullptr operator or or_eq private protected public register reinterpret_cast requires return
  short signed sizeof static static_assert static_cast struct switch template this thread_local throw true try typedef
  typeid typename union unsigned using virtual void volatile wchar_t while xor xor_eq final override import module
  restrict _Bool _Complex _Alignas _Static_assert _Pragma __asm__ __attribute__ __restrict__ __inline__ __cplusplus
  __LINE__ __FILE__ __func__ __COUNTER__ __DATE__ _GNU_SOURCE
  NULL INFINITY NAN HUGE_VAL HUGE_VALF FLT_MAX FLT_MIN DBL_MAX INT_MAX INT_MIN UINT_MAX INT64_MAX EOF M_PI M_LN2 M_LOG2E
  assert errno offsetof va_list va_start size_t ssize_t ptrdiff_t nullptr_t int8_t int16_t int32_t int64_t uint8_t
  uint16_t uint32_t uint64_t intptr_t uintptr_t main std printf fprintf malloc free memcpy memset exit abort stdin
  stdout stderr isnan isinf isfinite fmaxf fminf fmaf expf exp2f logf log2f sqrtf tanhf fabsf floorf ceilf powf
`);

/** CUDA's qualifiers, built-in variables and types, runtime API, intrinsics and the names its headers define. */
export const cudaNames = words(`
  __global__ __device__ __host__ __shared__ __constant__ __managed__ __launch_bounds__ __forceinline__ __noinline__
  __syncthreads __syncwarp __shfl_sync __shfl_xor_sync __ldg __expf __exp2f __fdividef __frcp_rn __fmaf_rn __CUDA_ARCH__
  __CUDACC__ __half __half2 __nv_bfloat16 __nv_bfloat162 __float2half __half2float __float2bfloat16 __bfloat162float
  __hmax __hadd __cvta_generic_to_shared __nanosleep __activemask __ballot_sync
  threadIdx blockIdx blockDim gridDim warpSize dim3 half half2 nv_bfloat16 nv_bfloat162 float2 float4 int2 int4 uint2
  uint4 char4 make_float2 make_float4 cudaStream_t cudaError_t cudaSuccess cudaMalloc cudaMallocAsync cudaFreeAsync
  cudaMemsetAsync cudaMemcpyAsync cudaFree cudaGetLastError cudaLaunchKernel cudaFuncSetAttribute cudaDeviceProp
  cudaGetDevice cudaDeviceGetAttribute atomicAdd atomicMax atomicCAS clock64 texture surface wmma nvcuda cuda
  cooperative_groups mma ldmatrix cp_async ptx CUTLASS cute
`);

/** WGSL: keywords, reserved words, predeclared types, enumerants, attributes, builtin values and functions. */
export const wgslNames = words(`
  alias break case const_assert continue continuing default diagnostic discard else enable false fn for if let loop
  override requires return struct switch true var while
  NULL Self abstract active alignas alignof as asm asm_fragment async attribute auto await become cast catch class
  co_await co_return co_yield coherent column_major common compile compile_fragment concept const_cast consteval
  constexpr constinit crate debugger decltype delete demote demote_to_helper do dynamic_cast enum explicit export
  extends extern external fallthrough filter final finally friend from fxgroup get goto groupshared highp impl
  implements import inline instanceof interface layout lowp macro macro_rules match mediump meta mod module move mut
  mutable namespace new nil noexcept noinline nointerpolation non_coherent noncoherent noperspective null nullptr of
  operator package packoffset partition pass patch pixelfragment precise precision premerge priv protected pub public
  readonly ref regardless register reinterpret_cast require resource restrict self set shared sizeof smooth snorm
  static static_assert static_cast std subroutine super target template this thread_local throw trait try type typedef
  typeid typename typeof union unless unorm unsafe unsized use using varying virtual volatile wgsl with writeonly yield
  _ __ __x
  bool f16 f32 i32 u32 vec2 vec3 vec4 vec2f vec3f vec4f vec2i vec3i vec4i vec2u vec3u vec4u vec2h vec4h mat2x2 mat3x3
  mat4x4 mat2x2f mat4x4f mat4x4h array atomic ptr sampler sampler_comparison texture_2d texture_storage_2d
  function private workgroup uniform storage read write read_write
  align binding builtin compute const group id interpolate invariant location must_use size vertex fragment
  workgroup_size local_invocation_id local_invocation_index global_invocation_id workgroup_id num_workgroups
  subgroup_invocation_id subgroup_size position frag_depth
  select bitcast acos acosh all any arrayLength asin atan atan2 cos cosh countOneBits countLeadingZeros cross degrees
  determinant distance dot extractBits faceForward firstLeadingBit fma fract frexp insertBits inverseSqrt ldexp length
  mix modf normalize pow quantizeToF16 radians reflect refract reverseBits round saturate sign sin sinh smoothstep step
  tan transpose trunc pack2x16float unpack2x16float pack4x8snorm unpack4x8unorm pack2x16unorm workgroupBarrier
  storageBarrier textureBarrier workgroupUniformLoad atomicLoad atomicStore atomicSub atomicExchange
  atomicCompareExchangeWeak subgroupAdd subgroupMax subgroupShuffleXor subgroupBroadcast dpdx textureLoad textureStore
`);

/** TypeScript and JavaScript: reserved and contextual words, and globals and properties every object or module has. */
export const tsNames = words(`
  break case catch class const continue debugger default delete do else enum export extends false finally for function
  if import in instanceof new null return super switch this throw true try typeof var void while with as implements
  interface let package private protected public static yield any boolean constructor declare get module require number
  set string symbol type from of async await never unknown object bigint undefined keyof readonly infer is asserts
  satisfies accessor out override unique abstract global namespace using
  NaN Infinity eval arguments globalThis window self prototype __proto__ __defineGetter__ __defineSetter__ __lookupGetter__
  __lookupSetter__ toString valueOf hasOwnProperty isPrototypeOf propertyIsEnumerable toLocaleString then length name
  caller callee apply call
  bind Object Array Function Promise Error TypeError Symbol JSON Math Number String Boolean BigInt Map Set WeakMap Proxy
  Reflect Date RegExp Float32Array Float64Array Int32Array Uint32Array Uint16Array DataView ArrayBuffer
  SharedArrayBuffer GPUDevice GPUBuffer GPUBufferUsage GPUMapMode GPUShaderStage navigator console process exports
  __dirname __filename performance setTimeout structuredClone webgpu Record Partial Readonly ReadonlyArray Awaited
  PromiseLike ArrayLike
`);

/** Names with digits after an underscore, the shape of the generated code's numbered temporaries. */
export const numberedNames = words(`
  _0 _1 _9 _00 _12 a_0 a_1 b_0 h_1 i_0 j_0 i_1 j_1 d_0 e_0 o_0 o_1 o0_0 o1_1 q_0 k_0 v_0 s_0 s_1 m_0 l_0 x_0 x_1 t_0
  t_1 p_0 r_0 size_0 stage0_0 q_slot0_0 tile_0 acc_0 row_0 _a_0 __0 x__1 m0_0 l0_1 s0_0 k_slot0 v_slot0 q_slot0
`);

/** Very long names (10k to 40k characters): the limits of identifiers, file names and PTX symbols. */
export const longNames = [
  "a".repeat(10_000),
  `x_${"0123456789".repeat(2_000)}`,
  `_${"q".repeat(30_000)}`,
  `L${"_1".repeat(20_000)}`.slice(0, 40_000),
];

/** The names the language reserves (keywords, built-in functions and reductions, `inf`): declaring one is an error. */
export const languageReserved = new Set(
  words("kernel const exp exp2 log log2 sqrt rsqrt tanh sigmoid floor ceil abs min max clamp where sum logsumexp softmax inf"),
);

/** A valid name, by the lexer's rule. */
export const isName = (s: string) => /^[A-Za-z_][A-Za-z0-9_]*$/.test(s);

const examplesDir = join(import.meta.dirname, "../../examples");

/** Every identifier in the code emitted today for examples/*.attn, for both CUDA archs, WGSL and its TypeScript wrapper. */
export function generatedIdentifiers(): string[] {
  const ids = new Set<string>();
  for (const file of readdirSync(examplesDir).filter((f) => f.endsWith(".attn")).sort()) {
    const source = readFileSync(join(examplesDir, file), "utf8");
    for (const arch of ["sm_80", "sm_90a"] as const) {
      for (const schedule of ["auto", "naive"] as const) {
        for (const k of compile(source, { target: "all", arch, schedule, fileName: file }).kernels) {
          for (const text of [k.wgsl, k.cuda, k.header, k.ts]) for (const m of (text ?? "").matchAll(/[A-Za-z_][A-Za-z0-9_]*/g)) ids.add(m[0]);
        }
      }
    }
  }
  return [...ids].sort();
}

/** Every name of the lists above and of the generated code, each once, without the language's reserved names. */
export function hazardousNames(): string[] {
  const all = [...cppNames, ...cudaNames, ...wgslNames, ...tsNames, ...numberedNames, ...generatedIdentifiers(), ...longNames];
  return [...new Set(all)].filter((n) => isName(n) && !languageReserved.has(n));
}

/** Identifiers that are part of the language's syntax rather than the user's: dtypes, labels, and the reserved names. */
const fixedWords = new Set(["f16", "bf16", "f32", "i32", "f64", "sink", ...languageReserved]);

const tokenPattern = /#[^\n\r]*|[A-Za-z_][A-Za-z0-9_]*|\d+(?:\.\d*)?(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?|[^]/g;

/** The user's names in a program (kernel, tensors, indices, sizes, scalars, consts), in order of first use. */
export function userNames(source: string): string[] {
  const names = new Set<string>();
  for (const [tok] of source.matchAll(tokenPattern)) if (isName(tok) && !fixedWords.has(tok)) names.add(tok);
  return [...names];
}

/** The program with its comments removed and each name in `renames` replaced. Dtype words in type position stay. */
export function renameProgram(source: string, renames: ReadonlyMap<string, string>): string {
  const tokens = [...source.matchAll(tokenPattern)].map((m) => m[0]);
  return tokens
    .map((tok) => {
      if (tok.startsWith("#")) return "";
      if (!isName(tok) || fixedWords.has(tok)) return tok;
      return renames.get(tok) ?? tok;
    })
    .join("")
    .replace(/^\s*\n/, "")
    .replace(/\n\s*\n(\s*\n)+/g, "\n\n");
}

/** Shows a name in a message: long ones shortened with their length. */
export const showName = (n: string) => (n.length > 40 ? `${n.slice(0, 16)}…(${n.length} chars)` : n);
