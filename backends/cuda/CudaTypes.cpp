// Element types in emitted CUDA C: their spellings, literals, numpy's conversions between them,
// and the few lines of device code (headers, wrapping integer helpers) that some types need.
#include "backends/cuda/CudaInternal.h"

#include "support/Error.h"

#include <charconv>
#include <cmath>
#include <optional>

namespace einfuse::cuda_backend::detail {

namespace {

/** A literal of a float type that reads back as the same value: 0.5f, 1e+20, and bit patterns
 * for inf and nan (INFINITY would need <math.h>, which NVRTC does not have). */
std::string float_literal(DType t, double v) {
    bool f32 = t == DType::F32;
    if (std::isnan(v)) return f32 ? "__int_as_float(0x7fffffff)" : "__longlong_as_double(0x7ff8000000000000LL)";
    if (std::isinf(v)) {
        std::string inf = f32 ? "__int_as_float(0x7f800000)" : "__longlong_as_double(0x7ff0000000000000LL)";
        return v < 0 ? "(-" + inf + ")" : inf;
    }
    char buf[64];
    auto end = f32 ? std::to_chars(buf, buf + sizeof buf, static_cast<float>(v)).ptr
                   : std::to_chars(buf, buf + sizeof buf, v).ptr;
    std::string text(buf, end);
    if (text.find_first_of(".e") == std::string::npos) text += ".0"; // "2" would be an int
    if (f32) text += "f";
    return v < 0 ? "(" + text + ")" : text; // "a - -1.0" reads badly; "a - (-1.0)" does not
}

/** An integer literal of exactly type t, so that overloads such as max(long long, long long) and
 * einfuse_wrap_add resolve: 7 for i32, 7LL for i64, 7u, 7ULL, and a cast for the types C has no
 * literal of: ((signed char)7). +-inf mean the type's max and min (the identities of max and min
 * reductions). The most negative value cannot be written as one literal (-2147483648 is minus a
 * long long), hence (-2147483647 - 1). bool is false or true. */
std::string int_literal(DType t, double v) {
    if (t == DType::Bool) {
        if (std::isinf(v)) return v > 0 ? "true" : "false";
        if (v != 0 && v != 1) throw InternalError("the bool constant " + std::to_string(v) + " is not 0 or 1");
        return v != 0 ? "true" : "false";
    }
    const int bits = dtype_bits(t);
    const bool no_sign = is_unsigned(t);
    if (std::isinf(v)) {
        if (t == DType::U64 && v > 0) return "18446744073709551615ULL"; // 2^64 - 1 and 2^63 - 1: no doubles
        if (t == DType::I64 && v > 0) return "9223372036854775807LL";
        if (no_sign) v = v > 0 ? std::ldexp(1.0, bits) - 1 : 0;
        else v = v > 0 ? std::ldexp(1.0, bits - 1) - 1 : -std::ldexp(1.0, bits - 1);
    }
    if (std::isnan(v) || v != std::trunc(v) || wrap_to(t, v) != v)
        throw InternalError("the " + std::string(dtype_name(t)) + " constant " + std::to_string(v) +
                            " is not an integer of its type");
    std::string text;
    switch (t) {
    case DType::I64:
        if (v == -0x1p63) return "(-9223372036854775807LL - 1)";
        text = std::to_string(static_cast<long long>(v)) + "LL";
        break;
    case DType::I32:
        if (v == -0x1p31) return "(-2147483647 - 1)";
        text = std::to_string(static_cast<long long>(v));
        break;
    case DType::U64:
        return std::to_string(static_cast<unsigned long long>(v)) + "ULL";
    case DType::U32:
        return std::to_string(static_cast<unsigned long long>(v)) + "u";
    default: // i8, i16, u8, u16: a cast of an int literal
        return "((" + c_type(t) + ")" + std::to_string(static_cast<long long>(v)) + ")";
    }
    return v < 0 ? "(" + text + ")" : text;
}

/** One of numpy's conversions as CUDA C; `%` stands for the operand. CUDA's intrinsics name the
 * rounding: _rn (to nearest even) for float->float and integer->float, _rz (toward zero) for
 * float->integer; the _rz ones saturate where C's (int)x would be undefined behaviour for
 * out-of-range values. f16 <-> bf16 widens to f32 first, exactly, then rounds once. A pattern
 * starting with a C cast needs an infix operand parenthesised. */
struct Conversion {
    DType from, to;
    const char *pattern;
};

using D = DType;
constexpr Conversion kConversions[] = {
    {D::BF16, D::F16, "__float2half_rn(__bfloat162float(%))"},
    {D::F32, D::F16, "__float2half_rn(%)"},
    {D::F64, D::F16, "__double2half(%)"}, // one rounding: via float could round twice
    {D::I32, D::F16, "__int2half_rn(%)"},
    {D::I64, D::F16, "__ll2half_rn(%)"},

    {D::F16, D::BF16, "__float2bfloat16_rn(__half2float(%))"},
    {D::F32, D::BF16, "__float2bfloat16_rn(%)"},
    {D::F64, D::BF16, "__double2bfloat16(%)"},
    {D::I32, D::BF16, "__int2bfloat16_rn(%)"},
    {D::I64, D::BF16, "__ll2bfloat16_rn(%)"},

    {D::F16, D::F32, "__half2float(%)"},
    {D::BF16, D::F32, "__bfloat162float(%)"},
    {D::F64, D::F32, "__double2float_rn(%)"},
    {D::I32, D::F32, "__int2float_rn(%)"},
    {D::I64, D::F32, "__ll2float_rn(%)"},

    {D::F16, D::F64, "(double)__half2float(%)"}, // exact: every f16 is an f32
    {D::BF16, D::F64, "(double)__bfloat162float(%)"},
    {D::F32, D::F64, "(double)%"},
    {D::I32, D::F64, "__int2double_rn(%)"},
    {D::I64, D::F64, "__ll2double_rn(%)"},

    {D::F16, D::I32, "__half2int_rz(%)"},
    {D::BF16, D::I32, "__bfloat162int_rz(%)"},
    {D::F32, D::I32, "__float2int_rz(%)"},
    {D::F64, D::I32, "__double2int_rz(%)"},
    {D::I64, D::I32, "(int)%"}, // keeps the low 32 bits, like numpy's astype (modular in nvcc)

    {D::F16, D::I64, "__half2ll_rz(%)"},
    {D::BF16, D::I64, "__bfloat162ll_rz(%)"},
    {D::F32, D::I64, "__float2ll_rz(%)"},
    {D::F64, D::I64, "__double2ll_rz(%)"},
    {D::I32, D::I64, "(long long)%"},
};

} // namespace

std::string c_type(DType t) {
    switch (t) {
    case DType::F16:
        return "__half";
    case DType::BF16:
        return "__nv_bfloat16";
    case DType::F32:
        return "float";
    case DType::F64:
        return "double";
    case DType::I32:
        return "int"; // NVRTC has no <stdint.h>; every CUDA target has 32-bit int
    case DType::I64:
        return "long long";
    case DType::Bool:
        return "bool"; // one byte, 0 or 1 (numpy's and DLPack's bool)
    case DType::I8:
        return "signed char";
    case DType::I16:
        return "short";
    case DType::U8:
        return "unsigned char";
    case DType::U16:
        return "unsigned short";
    case DType::U32:
        return "unsigned int";
    case DType::U64:
        return "unsigned long long";
    case DType::C64:
    case DType::C128:
        break; // passes/SplitComplex gives kernels the real parts only
    }
    throw InternalError("no CUDA type for " + std::string(dtype_name(t)));
}

std::string literal(DType t, double v) {
    switch (t) {
    case DType::F32:
    case DType::F64:
        return float_literal(t, v);
    case DType::I32:
    case DType::I64:
    case DType::Bool:
    case DType::I8:
    case DType::I16:
    case DType::U8:
    case DType::U16:
    case DType::U32:
    case DType::U64:
        return int_literal(t, v);
    // Rounded once from the exact double; the frontend only makes f16/bf16 constants that fit.
    case DType::F16:
        return "__double2half(" + float_literal(DType::F64, v) + ")";
    case DType::BF16:
        return "__double2bfloat16(" + float_literal(DType::F64, v) + ")";
    case DType::C64:
    case DType::C128:
        break; // split into real parts before any backend (passes/SplitComplex)
    }
    throw InternalError("unknown DType");
}

/** Conversions the table does not list, for bool and the 8/16-bit and unsigned types, through the
 * ones it does (the same values as backends/llvm/TypeLowering.cpp's convert and the reference):
 *   X -> bool                    (x != 0): NaN is true
 *   integer -> integer           a C cast: zero- or sign-extends, or keeps the low bits (modular
 *                                in nvcc), as numpy
 *   8/16-bit or bool -> float    through int (exact)
 *   u32 -> float, u64 -> float   __uint2float_rn, __ull2double_rn, ...: rounded once
 *   float -> 8/16-bit            through i32 (truncate, saturate), then the low bits
 *   float -> u32                 through i64, then the low bits
 *   float -> u64                 x >= 2^63 ? __double2ull_rz(x) : (unsigned long long)__double2ll_rz(x) */
namespace {
std::optional<std::string> convert_more(DType from, DType to, const std::string &value, bool infix) {
    const std::string x = infix ? "(" + value + ")" : value;
    if (to == DType::Bool) {
        if (from == DType::F16 || from == DType::BF16) return "(" + convert(from, DType::F32, value, infix) + " != 0.0f)";
        return "(" + x + " != " + literal(from, 0) + ")";
    }
    if (is_integer(from) && is_integer(to)) return "((" + c_type(to) + ")" + x + ")";
    bool narrow_from = is_integer(from) && dtype_bits(from) < 32, narrow_to = is_integer(to) && dtype_bits(to) < 32;
    if (narrow_from) return convert(DType::I32, to, "(int)" + x, false);
    if (narrow_to) return "((" + c_type(to) + ")" + convert(from, DType::I32, value, infix) + ")";
    if (from == DType::U32 || from == DType::U64) {
        const char *stem = from == DType::U32 ? "__uint2" : "__ull2";
        switch (to) {
        case DType::F32: return std::string(stem) + "float_rn(" + value + ")";
        case DType::F64: return std::string(stem) + "double_rn(" + value + ")";
        case DType::F16: return std::string(stem) + "half_rn(" + value + ")";
        case DType::BF16: return std::string(stem) + "bfloat16_rn(" + value + ")";
        default: return std::nullopt;
        }
    }
    if (to == DType::U32) return "((unsigned int)" + convert(from, DType::I64, value, infix) + ")";
    if (to == DType::U64) {
        if (from == DType::F16 || from == DType::BF16) // below 2^63 always
            return "((unsigned long long)" + convert(from, DType::I64, value, infix) + ")";
        const std::string d = from == DType::F32 ? "(double)" + x : value;
        return "einfuse_to_u64(" + d + ")";
    }
    return std::nullopt;
}
} // namespace

std::string convert(DType from, DType to, const std::string &value, bool infix) {
    if (from == to) return value;
    for (const auto &c : kConversions) {
        if (c.from != from || c.to != to) continue;
        std::string pattern = c.pattern;
        std::string operand = infix && pattern[0] == '(' ? "(" + value + ")" : value;
        return pattern.replace(pattern.find('%'), 1, operand);
    }
    if (auto more = convert_more(from, to, value, infix)) return *more;
    throw InternalError("no conversion from " + std::string(dtype_name(from)) + " to " + std::string(dtype_name(to)));
}

std::string device_prelude(const std::set<DType> &types, const std::set<ir::UnaryOp> &ops) {
    std::string out;
    if (types.count(DType::F16)) out += "#include <cuda_fp16.h> // __half and its conversions\n";
    if (types.count(DType::BF16)) out += "#include <cuda_bf16.h> // __nv_bfloat16 and its conversions\n";
    if (types.count(DType::I32) || types.count(DType::I64))
        out += std::string(out.empty() ? "" : "\n") +
               R"(// Integer + - * wrap around on overflow, as numpy's do. Signed overflow is undefined behaviour in
// C++ (the compiler may assume it never happens), so they compute in the unsigned type of the same
// width, where wrapping is defined, and convert back (two's complement). Not static: nvcc warns
// about unused static functions, and inline functions may be defined in several files.
#ifndef EINFUSE_WRAP_1
#define EINFUSE_WRAP_1
__device__ __forceinline__ int einfuse_wrap_add(int a, int b) { return (int)((unsigned)a + (unsigned)b); }
__device__ __forceinline__ int einfuse_wrap_sub(int a, int b) { return (int)((unsigned)a - (unsigned)b); }
__device__ __forceinline__ int einfuse_wrap_mul(int a, int b) { return (int)((unsigned)a * (unsigned)b); }
__device__ __forceinline__ long long einfuse_wrap_add(long long a, long long b) {
    return (long long)((unsigned long long)a + (unsigned long long)b);
}
__device__ __forceinline__ long long einfuse_wrap_sub(long long a, long long b) {
    return (long long)((unsigned long long)a - (unsigned long long)b);
}
__device__ __forceinline__ long long einfuse_wrap_mul(long long a, long long b) {
    return (long long)((unsigned long long)a * (unsigned long long)b);
}
#endif // EINFUSE_WRAP_1
)";
    bool small = types.count(DType::I8) || types.count(DType::I16) || types.count(DType::U8) || types.count(DType::U16);
    bool wide_unsigned = types.count(DType::U32) || types.count(DType::U64);
    if (small || wide_unsigned)
        out += std::string(out.empty() ? "" : "\n") +
               R"(// The 8- and 16-bit integers and the wide unsigned ones. C promotes 8- and 16-bit operands to
// int, where a u16 product can overflow (undefined behaviour): they compute in unsigned int, and
// the cast back keeps the low bits (modular in nvcc), as numpy's wrapping does. unsigned int and
// unsigned long long wrap by themselves; the helpers give every type the same spelling. max and
// min of the narrow types compare as int (exact). A float at or above 2^63 converts to u64
// unsigned, below through long long: -1.0 gives 2^64 - 1, as numpy on x86.
#ifndef EINFUSE_WRAP_2
#define EINFUSE_WRAP_2
#define EINFUSE_WRAP_OPS(T, U)                                                                                    \
    __device__ __forceinline__ T einfuse_wrap_add(T a, T b) { return (T)((U)a + (U)b); }                    \
    __device__ __forceinline__ T einfuse_wrap_sub(T a, T b) { return (T)((U)a - (U)b); }                    \
    __device__ __forceinline__ T einfuse_wrap_mul(T a, T b) { return (T)((U)a * (U)b); }                    \
    __device__ __forceinline__ T einfuse_max(T a, T b) { return a > b ? a : b; }                            \
    __device__ __forceinline__ T einfuse_min(T a, T b) { return a < b ? a : b; }
EINFUSE_WRAP_OPS(signed char, unsigned)
EINFUSE_WRAP_OPS(short, unsigned)
EINFUSE_WRAP_OPS(unsigned char, unsigned)
EINFUSE_WRAP_OPS(unsigned short, unsigned)
EINFUSE_WRAP_OPS(unsigned int, unsigned)
EINFUSE_WRAP_OPS(unsigned long long, unsigned long long)
#undef EINFUSE_WRAP_OPS
__device__ __forceinline__ unsigned long long einfuse_to_u64(double x) {
    return x >= 9223372036854775808.0 ? __double2ull_rz(x) : (unsigned long long)__double2ll_rz(x);
}
#endif // EINFUSE_WRAP_2
)";
    if (types.count(DType::F32) && (ops.count(ir::UnaryOp::Exp) || ops.count(ir::UnaryOp::Sigmoid)))
        out += std::string(out.empty() ? "" : "\n") +
               R"(// exp in f32: the hardware's exp2 of x * log2(e), one instruction. Its error is 2 ulps plus up
// to 2|x| ulps from rounding x * log2(e), about what rounding x itself to f32 costs; results
// below 2^-126 flush to 0 (an absolute error under 1.2e-38). expf takes 8 instructions, __expf 5 (it rescales
// subnormal results), and the Gaussian kernel sum is bound by them.
#ifndef EINFUSE_EXP_1
#define EINFUSE_EXP_1
__device__ __forceinline__ float einfuse_exp(float x) {
    float y;
    asm("ex2.approx.ftz.f32 %0, %1;" : "=f"(y) : "f"(x * 1.4426950408889634f));
    return y;
}
#endif // EINFUSE_EXP_1
)";
    if (ops.count(ir::UnaryOp::Sign) || ops.count(ir::UnaryOp::Gelu) || ops.count(ir::UnaryOp::Abs))
        out += std::string(out.empty() ? "" : "\n") +
               R"(// sign, gelu and integer |x| are functions because they use their operand more than once: a
// call prints (and evaluates) a nested operand once, where a macro-like expansion would double it.
// gelu(x) = x * Phi(x) = x/2 * erfc(-x/sqrt2); the textbook x/2 * (1 + erf(x/sqrt2)) cancels for
// negative x (at x = -3 it keeps only erf's absolute error). |MIN| wraps to MIN, as numpy's does.
#ifndef EINFUSE_MATH_1
#define EINFUSE_MATH_1
__device__ __forceinline__ float einfuse_sign(float x) { return (float)((x > 0.0f) - (x < 0.0f)); }
__device__ __forceinline__ double einfuse_sign(double x) { return (double)((x > 0.0) - (x < 0.0)); }
__device__ __forceinline__ int einfuse_sign(int x) { return (x > 0) - (x < 0); }
__device__ __forceinline__ long long einfuse_sign(long long x) { return (long long)((x > 0) - (x < 0)); }
__device__ __forceinline__ float einfuse_gelu(float x) { return 0.5f * x * erfcf(-x * 0.707106781f); }
__device__ __forceinline__ double einfuse_gelu(double x) { return 0.5 * x * erfc(-x * 0.7071067811865476); }
__device__ __forceinline__ int einfuse_wrap_abs(int x) { return x < 0 ? (int)(0u - (unsigned)x) : x; }
__device__ __forceinline__ long long einfuse_wrap_abs(long long x) {
    return x < 0 ? (long long)(0ull - (unsigned long long)x) : x;
}
#endif // EINFUSE_MATH_1
)";
    return out;
}

} // namespace einfuse::cuda_backend::detail
