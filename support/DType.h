#pragma once
// Element types of tensors: every type of the language. f16 and bf16 compute in f32; bool and the
// integers compute in their own type and wrap as numpy's do (bool: + is or, * is and); c64 and
// c128 are (re, im) pairs of f32 and f64, computed on their parts.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace einfuse {

// New types go at the end: the values are part of the kernel cache's keys.
enum class DType { F16, BF16, F32, F64, I32, I64, Bool, I8, I16, U8, U16, U32, U64, C64, C128 };

/** "f32" for DType::F32; the spelling of the CLI's --dtype. */
std::string_view dtype_name(DType t);
/** The C type a backend prints for t ("float", "double", ...). */
std::string_view dtype_c_name(DType t);
std::size_t dtype_size(DType t);
std::optional<DType> parse_dtype(std::string_view name);
/** numpy's type code without the byte order ("f4", "u1", "b1"); empty for bf16, which has none. */
std::string_view dtype_npy_code(DType t);

/** bool and the integers: held and computed as integers (bool as one byte, 0 or 1). */
bool is_integer(DType t);
/** c64 and c128: pairs (re, im) of f32 or f64, numpy's complex64 and complex128. No kernel sees
 * them: passes/SplitComplex rewrites a program into real arithmetic on their parts. */
bool is_complex(DType t);
/** The type of a complex type's parts (c64: f32, c128: f64); any other type itself. */
DType real_part_type(DType t);
/** The complex type whose parts are t (f16, bf16, f32: c64; f64 and integers: c128). */
DType complex_type_of(DType t);
/** bool, u8, u16, u32, u64: compare, divide, widen and convert without a sign. */
bool is_unsigned(DType t);
/** The width of t in bits (bool: 8, as stored). */
int dtype_bits(DType t);
/** An integral double (maybe outside every type's range, maybe negative) modulo 2^64. */
std::uint64_t integer_bits(double v);
/** 64 bits as a value of the integer type t: its low dtype_bits(t) bits, signed or not; bool is
 * bits != 0. u64 and i64 values beyond 2^53 round to the nearest double. */
double integer_value(DType t, std::uint64_t bits);
/** The value v (an integer, maybe outside t's range) as t holds it: bool is v != 0, the integers
 * reduce modulo 2^bits into t's range (numpy's wrapping), floats are left alone. Exact while |v|
 * < 2^53; above that v is already rounded, as a double holds it. */
double wrap_to(DType t, double v);

} // namespace einfuse
