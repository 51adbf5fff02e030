#pragma once
// Element types of tensors. The enum lists every type of the language; the current slice
// computes in f32 and f64 (see is_supported), the others are parsed and rejected clearly.
#include <cstddef>
#include <optional>
#include <string_view>

namespace einfuse {

enum class DType { F16, BF16, F32, F64, I32, I64 };

/** "f32" for DType::F32; the spelling of the CLI's --dtype. */
std::string_view dtype_name(DType t);
/** The C type a backend prints for t ("float", "double", ...). */
std::string_view dtype_c_name(DType t);
std::size_t dtype_size(DType t);
std::optional<DType> parse_dtype(std::string_view name);
/** Whether the whole pipeline (interpreter, both backends) handles t today. */
bool is_supported(DType t);

} // namespace einfuse
