#include "support/DType.h"

#include <cmath>

namespace einfuse {

namespace {
struct DTypeInfo {
    DType type;
    std::string_view name;
    std::string_view c_name;
    std::size_t size;
    std::string_view npy; // numpy's code; empty: no numpy type
};
// In the order of the enum: info() indexes it.
constexpr DTypeInfo kTypes[] = {
    {DType::F16, "f16", "__half", 2, "f2"},   {DType::BF16, "bf16", "__nv_bfloat16", 2, ""},
    {DType::F32, "f32", "float", 4, "f4"},    {DType::F64, "f64", "double", 8, "f8"},
    {DType::I32, "i32", "int32_t", 4, "i4"},  {DType::I64, "i64", "int64_t", 8, "i8"},
    {DType::Bool, "bool", "bool", 1, "b1"},   {DType::I8, "i8", "int8_t", 1, "i1"},
    {DType::I16, "i16", "int16_t", 2, "i2"},  {DType::U8, "u8", "uint8_t", 1, "u1"},
    {DType::U16, "u16", "uint16_t", 2, "u2"}, {DType::U32, "u32", "uint32_t", 4, "u4"},
    {DType::U64, "u64", "uint64_t", 8, "u8"},
    // No backend prints a complex type (passes/SplitComplex splits them); the names are numpy's.
    {DType::C64, "c64", "complex64", 8, "c8"}, {DType::C128, "c128", "complex128", 16, "c16"},
};
const DTypeInfo &info(DType t) { return kTypes[static_cast<int>(t)]; }
} // namespace

std::string_view dtype_name(DType t) { return info(t).name; }
std::string_view dtype_c_name(DType t) { return info(t).c_name; }
std::size_t dtype_size(DType t) { return info(t).size; }
std::string_view dtype_npy_code(DType t) { return info(t).npy; }

std::optional<DType> parse_dtype(std::string_view name) {
    for (const auto &t : kTypes)
        if (t.name == name) return t.type;
    return std::nullopt;
}

bool is_integer(DType t) {
    return t != DType::F16 && t != DType::BF16 && t != DType::F32 && t != DType::F64 && !is_complex(t);
}

bool is_complex(DType t) { return t == DType::C64 || t == DType::C128; }

DType real_part_type(DType t) { return t == DType::C64 ? DType::F32 : t == DType::C128 ? DType::F64 : t; }

DType complex_type_of(DType t) {
    if (is_complex(t)) return t;
    return t == DType::F16 || t == DType::BF16 || t == DType::F32 ? DType::C64 : DType::C128;
}

bool is_unsigned(DType t) {
    return t == DType::Bool || t == DType::U8 || t == DType::U16 || t == DType::U32 || t == DType::U64;
}

int dtype_bits(DType t) { return 8 * static_cast<int>(dtype_size(t)); }

std::uint64_t integer_bits(double v) {
    v = std::fmod(v, 0x1p64); // exact: (-2^64, 2^64)
    if (v < 0 && v >= -0x1p63) return static_cast<std::uint64_t>(static_cast<std::int64_t>(v));
    if (v < 0) v += 0x1p64; // exact: v's ulp is at least 2^11 here
    return v >= 0x1p64 ? 0 : static_cast<std::uint64_t>(v);
}

double integer_value(DType t, std::uint64_t r) {
    if (t == DType::Bool) return r != 0 ? 1.0 : 0.0;
    const int bits = dtype_bits(t);
    if (bits < 64) {
        r &= (std::uint64_t{1} << bits) - 1;
        if (!is_unsigned(t) && (r >> (bits - 1))) return static_cast<double>(static_cast<std::int64_t>(r)) - std::ldexp(1.0, bits);
        return static_cast<double>(r);
    }
    return is_unsigned(t) ? static_cast<double>(r) : static_cast<double>(static_cast<std::int64_t>(r));
}

double wrap_to(DType t, double v) {
    if (!is_integer(t) || std::isnan(v)) return v;
    if (t == DType::Bool) return v != 0 ? 1.0 : 0.0;
    return integer_value(t, integer_bits(v));
}

} // namespace einfuse
