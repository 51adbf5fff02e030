#pragma once
// Sizes, strides and byte counts computed from what a caller gave (--dims, shapes, DLTensors,
// views) are checked here, once, so that a product that wraps never becomes a small allocation
// or a wrapped offset: 2^61+2 f64 elements are not 16 bytes, they are refused.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace einfuse {

/** a * b for non-negative a, b; throws UserError "WHAT does not fit 64 bits (a * b)" on overflow. */
int64_t checked_mul(int64_t a, int64_t b, std::string_view what);
/** a + b for non-negative a, b; throws UserError on overflow. */
int64_t checked_add(int64_t a, int64_t b, std::string_view what);
/** Bytes of `elements` elements of `elem_size` bytes each; throws UserError naming `what` when
 * they exceed int64 (and so any allocation or pointer offset). */
int64_t checked_bytes(int64_t elements, int64_t elem_size, std::string_view what);
/** Whether a tensor of these (non-negative) sizes, elem_size bytes an element, has a byte count
 * that fits int64; for checks that report with their own diagnostic. */
bool bytes_fit(const std::vector<int64_t> &sizes, int64_t elem_size);
/** "2147483648*2147483648": sizes as a product, for messages about counts too large to print. */
std::string shape_product(const std::vector<int64_t> &sizes);
/** Elements of storage a strided view reaches: 1 + sum((shape[d]-1) * |strides[d]|), 0 when a
 * size is 0. Throws UserError when a size is negative, shape and strides differ in length, or
 * the reach times elem_size (its byte span) does not fit int64: an offset computed inside it
 * then never wraps. */
int64_t checked_reach(const std::vector<int64_t> &shape, const std::vector<int64_t> &strides, int64_t elem_size);

} // namespace einfuse
