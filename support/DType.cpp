#include "support/DType.h"

namespace einfuse {

namespace {
struct DTypeInfo {
    DType type;
    std::string_view name;
    std::string_view c_name;
    std::size_t size;
};
constexpr DTypeInfo kTypes[] = {
    {DType::F16, "f16", "__half", 2},  {DType::BF16, "bf16", "__nv_bfloat16", 2},
    {DType::F32, "f32", "float", 4},   {DType::F64, "f64", "double", 8},
    {DType::I32, "i32", "int32_t", 4}, {DType::I64, "i64", "int64_t", 8},
};
const DTypeInfo &info(DType t) { return kTypes[static_cast<int>(t)]; }
} // namespace

std::string_view dtype_name(DType t) { return info(t).name; }
std::string_view dtype_c_name(DType t) { return info(t).c_name; }
std::size_t dtype_size(DType t) { return info(t).size; }

std::optional<DType> parse_dtype(std::string_view name) {
    for (const auto &t : kTypes)
        if (t.name == name) return t.type;
    return std::nullopt;
}

} // namespace einfuse
