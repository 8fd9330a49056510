// Emit stage (CUDA): user names as members of the header's argument struct: readable where they can be.
import { nameText } from "../names.js";

/** C++ and C keywords (the GNU extensions nvcc's host compilers take included) and alternative tokens: no member. */
const keywords = new Set(`alignas alignof and and_eq asm auto bitand bitor bool break case catch char char8_t char16_t
char32_t class compl concept const consteval constexpr constinit const_cast continue co_await co_return co_yield decltype
default delete do double dynamic_cast else enum explicit export extern false float for friend goto if inline int long
mutable namespace new noexcept not not_eq nullptr operator or or_eq private protected public register reinterpret_cast
requires return short signed sizeof static static_assert static_cast struct switch template this thread_local throw true
try typedef typeid typename union unsigned using virtual void volatile wchar_t while xor xor_eq restrict final override
import module typeof typeof_unqual reflexpr synchronized atomic_cancel atomic_commit atomic_noexcept`.split(/\s+/));

/** Macros and types of the C, C++ and CUDA headers the header and its users include, which a member would meet. */
const headerNames = new Set(`NULL EOF BUFSIZ FILENAME_MAX errno assert offsetof va_arg va_start va_end va_list setjmp
longjmp stdin stdout stderr INFINITY NAN HUGE_VAL HUGE_VALF HUGE_VALL FLT_MAX FLT_MIN FLT_EPSILON DBL_MAX DBL_MIN
DBL_EPSILON CHAR_BIT CHAR_MAX CHAR_MIN SCHAR_MAX SCHAR_MIN UCHAR_MAX SHRT_MAX SHRT_MIN USHRT_MAX INT_MAX INT_MIN UINT_MAX
LONG_MAX LONG_MIN ULONG_MAX LLONG_MAX LLONG_MIN ULLONG_MAX SIZE_MAX PTRDIFF_MAX PTRDIFF_MIN RAND_MAX EXIT_SUCCESS
EXIT_FAILURE MB_LEN_MAX WCHAR_MAX WCHAR_MIN WINT_MAX WINT_MIN SIG_ATOMIC_MAX SIG_ATOMIC_MIN M_PI M_E FP_NAN FP_INFINITE
FP_ZERO FP_NORMAL FP_SUBNORMAL isnan isinf isfinite signbit fpclassify isnormal I complex imaginary bool true false
static_assert alignas alignof noreturn thread_local linux unix i386 dim3 int1 int2 int3 int4 float1 float2 float3 float4
double1 double2 double3 double4 uint1 uint2 uint3 uint4 char1 char2 char3 char4 uchar1 uchar2 uchar3 uchar4 short1 short2
short3 short4 ushort1 ushort2 ushort3 ushort4 long1 long2 long3 long4 ulong1 ulong2 ulong3 ulong4 longlong1 longlong2
longlong3 longlong4 ulonglong1 ulonglong2 ulonglong3 ulonglong4 std`.split(/\s+/));

/**
 * Families of names the headers reserve or define: `_t` types, stdint's and inttypes' macros, math.h's `M_` constants,
 * float.h's `FLT_`, `DBL_`, errno's `E...` codes, signals, locale macros, CUDA's `cuda`, `CU` and `CUDA` names, and
 * every name the standard reserves (`_X`, `__x`).
 */
const headerFamily =
  /(?:_t$|^U?INT(?:8|16|32|64|PTR|MAX)?_|^U?INT(?:_LEAST|_FAST)(?:8|16|32|64)_|^(?:PRI|SCN)[a-zA-Z]|^M_|^(?:FLT|DBL|LDBL|FP|DECIMAL|SIG|SA|LC|WCHAR|WINT|PTRDIFF|SIZE|MATH|TIME|CLOCKS|RAND|TMP|L|SEEK|FOPEN|IO)_|^E[A-Z0-9]+$|^cuda|^CUDA|^CU_|^CUB|^NV|^nv|^__|^_[A-Z])/;

/** Whether a name may be a member as it is: a plain name (names.ts) that no header reserves. */
export const readableMember = (name: string): boolean =>
  nameText(name) === name && !keywords.has(name) && !headerNames.has(name) && !headerFamily.test(name);

/** A user name as a member of the argument struct: itself where readable, `_x` and its name text otherwise. */
export const memberName = (name: string): string => (readableMember(name) ? name : `_x${nameText(name)}`);
