#include "support/Half.h"

#include <cstring>

namespace einfuse {

namespace {
uint32_t bits(float f) {
    uint32_t u;
    std::memcpy(&u, &f, 4);
    return u;
}
float from_bits(uint32_t u) {
    float f;
    std::memcpy(&f, &u, 4);
    return f;
}
} // namespace

float half_to_float(uint16_t h) {
    uint32_t sign = static_cast<uint32_t>(h & 0x8000) << 16;
    uint32_t exp = (h >> 10) & 0x1f;
    uint32_t mant = h & 0x3ff;
    if (exp == 0x1f) return from_bits(sign | 0x7f800000 | (mant << 13)); // inf, nan
    if (exp == 0) {
        // Subnormal (or zero): the value is mant * 2^-24, exact in float.
        float v = static_cast<float>(mant) * 5.9604644775390625e-8f;
        return sign ? -v : v;
    }
    return from_bits(sign | ((exp + 112) << 23) | (mant << 13));
}

uint16_t float_to_half(float f) {
    uint32_t u = bits(f);
    uint16_t sign = static_cast<uint16_t>((u >> 16) & 0x8000);
    uint32_t abs = u & 0x7fffffff;
    if (abs > 0x7f800000) return sign | 0x7e00;          // nan
    if (abs >= 0x477ff000) return sign | 0x7c00;         // rounds to inf (>= 65520)
    if (abs < 0x38800000) {                              // below 2^-14: subnormal half or zero
        // Scale so that the half's subnormal step (2^-24) is one unit, then round to nearest
        // even through the float adder: adding 0.5 * 2^23 * 2^-24... is done by the magic add.
        float magic = from_bits(0x3f000000);             // 0.5
        float v = from_bits(abs) + magic;                // rounds at 2^-24 granularity
        return sign | static_cast<uint16_t>(bits(v) - bits(magic));
    }
    uint32_t mant_odd = (abs >> 13) & 1;
    abs += 0xc8000fff + mant_odd;                        // rebias exponent (-112 << 23) and round
    return sign | static_cast<uint16_t>(abs >> 13);
}

float bf16_to_float(uint16_t b) { return from_bits(static_cast<uint32_t>(b) << 16); }

uint16_t float_to_bf16(float f) {
    uint32_t u = bits(f);
    if ((u & 0x7fffffff) > 0x7f800000) return static_cast<uint16_t>((u >> 16) | 0x40); // quiet nan
    u += 0x7fff + ((u >> 16) & 1);                                                      // nearest even
    return static_cast<uint16_t>(u >> 16);
}

} // namespace einfuse
