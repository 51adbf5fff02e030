// The C ABI (include/einfuse/einfuse.h) refuses DLTensors whose strides reach past int64: before,
// an input stride whose reach overflowed was accepted and reads wrapped.
#include "einfuse/einfuse.h"

#include "CAbiTensors.h"

#include <doctest/doctest.h>

#include <cstdint>
#include <string>

using einfuse::test::host_f32;

TEST_CASE("C ABI limits: an input or output whose reach overflows int64 is an argument error") {
    float in[4] = {1, 2, 3, 4}, out[4] = {};
    int64_t shape[1] = {2}, ok_strides[1] = {1};
    // (2 - 1) * 2^62 elements of 4 bytes: the byte offset wraps.
    int64_t wrapping[1] = {int64_t{1} << 62};
    DLTensor input = host_f32(in, 1, shape, wrapping), output = host_f32(out, 1, shape, ok_strides);
    CHECK(einfuse_einsum("i->i", 1, &input, &output) == EINFUSE_ERROR_ARGUMENT);
    CHECK(std::string(einfuse_last_error()).find("does not fit 64 bits") != std::string::npos);
    CHECK(std::string(einfuse_last_error()).find("input 0") != std::string::npos);

    // Several dimensions whose reaches each fit but whose sum does not.
    int64_t shape2[2] = {3, 3}, strides2[2] = {INT64_MAX / 4, INT64_MAX / 4};
    DLTensor input2 = host_f32(in, 2, shape2, strides2);
    DLTensor output2 = host_f32(out, 2, shape2, nullptr);
    CHECK(einfuse_einsum("ij->ij", 1, &input2, &output2) == EINFUSE_ERROR_ARGUMENT);

    DLTensor bad_out = host_f32(out, 1, shape, wrapping);
    input = host_f32(in, 1, shape, ok_strides);
    CHECK(einfuse_einsum("i->i", 1, &input, &bad_out) == EINFUSE_ERROR_ARGUMENT);

    // The same call with sane strides works.
    output = host_f32(out, 1, shape, ok_strides);
    REQUIRE(einfuse_einsum("i->i", 1, &input, &output) == EINFUSE_OK);
    CHECK(out[0] == 1);
    CHECK(out[1] == 2);
}
