#pragma once
// Element types of tensors: every type of the language. f16 and bf16 compute in f32.
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

} // namespace einfuse
