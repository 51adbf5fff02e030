#pragma once
// IEEE binary16 (f16) and bfloat16 (bf16) conversions on the host, bit-exact with round to
// nearest even, for tensors' load/store and the tests. Device code uses CUDA's own intrinsics.
#include <cstdint>

namespace einfuse {

float half_to_float(uint16_t h);
uint16_t float_to_half(float f);
float bf16_to_float(uint16_t b);
uint16_t float_to_bf16(float f);

} // namespace einfuse
