// The C ABI with outputs that overlap inputs (issue 14 item 9, issue 15 item 3): numpy's result,
// as numpy gets it (a temporary, then a copy). Before, an in-place transpose of 64x64 had 2,016
// elements wrong and `ij,jk->ik` with out=b most of its 9. Outputs whose own elements overlap are
// refused; a dimension of size 0 or 1 takes any stride (issue 15 item 2: `a,ab,abc->abc` with a
// of shape (0,)).
#include "einfuse/einfuse.h"

#include "CAbiTensors.h"

#include <doctest/doctest.h>

#include <cstdint>
#include <string>
#include <vector>

using einfuse::test::host_f32;

namespace {


std::vector<float> iota(std::size_t n, float scale = 1) {
    std::vector<float> v(n);
    for (std::size_t i = 0; i < n; ++i)
        v[i] = scale * static_cast<float>(i) + 0.25f;
    return v;
}

bool has(const std::string &text, const std::string &part) { return text.find(part) != std::string::npos; }

} // namespace

TEST_CASE("C ABI overlap: an in-place transpose through einfuse_einsum is numpy's") {
    const int64_t n = 64;
    std::vector<float> m = iota(n * n), original = m;
    int64_t shape[2] = {n, n};
    DLTensor in = host_f32(m.data(), 2, shape), out = host_f32(m.data(), 2, shape);
    REQUIRE(einfuse_einsum("ij->ji", 1, &in, &out) == EINFUSE_OK);
    int wrong = 0;
    for (int64_t i = 0; i < n; ++i)
        for (int64_t j = 0; j < n; ++j)
            wrong += m[i * n + j] != original[j * n + i];
    CHECK(wrong == 0); // 2,016 before
}

TEST_CASE("C ABI overlap: ij,jk->ik with out=b") {
    std::vector<float> a = iota(9, 0.5f), b = iota(9, -0.75f), want(9, 0);
    for (int i = 0; i < 3; ++i)
        for (int k = 0; k < 3; ++k)
            for (int j = 0; j < 3; ++j)
                want[i * 3 + k] += a[i * 3 + j] * b[j * 3 + k];
    int64_t shape[2] = {3, 3};
    DLTensor in[2] = {host_f32(a.data(), 2, shape), host_f32(b.data(), 2, shape)};
    DLTensor out = host_f32(b.data(), 2, shape);
    REQUIRE(einfuse_einsum("ij,jk->ik", 2, in, &out) == EINFUSE_OK);
    for (int e = 0; e < 9; ++e)
        CHECK(b[e] == doctest::Approx(want[e]).epsilon(1e-5));
}

TEST_CASE("C ABI overlap: a partial overlap and a compiled kernel") {
    SUBCASE("i->i onto the input shifted by one element") {
        std::vector<float> v = iota(9), original = v;
        int64_t shape[1] = {8};
        DLTensor in = host_f32(v.data(), 1, shape), out = host_f32(v.data() + 1, 1, shape);
        REQUIRE(einfuse_einsum("i->i", 1, &in, &out) == EINFUSE_OK);
        for (int i = 0; i < 8; ++i)
            CHECK(v[i + 1] == original[i]); // not v[0] repeated
    }
    SUBCASE("einfuse_run of a program whose output is its input, then a run that does not overlap") {
        einfuse_kernel *k = einfuse_compile("y[i,j] = x[j,i] * 2", 1, nullptr, nullptr, kDLCPU);
        REQUIRE(k != nullptr);
        std::vector<float> m = iota(12), original = m;
        int64_t shape[2] = {3, 4}, tshape[2] = {4, 3};
        DLTensor in = host_f32(m.data(), 2, shape), out = host_f32(m.data(), 2, tshape);
        REQUIRE(einfuse_run(k, 1, &in, 1, &out) == EINFUSE_OK);
        for (int i = 0; i < 4; ++i)
            for (int j = 0; j < 3; ++j)
                CHECK(m[i * 3 + j] == 2 * original[j * 4 + i]);
        std::vector<float> fresh(12, 0);
        std::vector<float> src = iota(12);
        DLTensor in2 = host_f32(src.data(), 2, shape), out2 = host_f32(fresh.data(), 2, tshape);
        REQUIRE(einfuse_run(k, 1, &in2, 1, &out2) == EINFUSE_OK);
        CHECK(fresh[1] == 2 * src[4]);
        einfuse_free(k);
    }
}

TEST_CASE("C ABI overlap: an output whose elements overlap is refused; size 0 and 1 take any stride") {
    std::vector<float> a = iota(16), buffer(64, -1.0f);
    SUBCASE("a zero stride on a dimension of size 3") {
        int64_t shape[1] = {3}, zero[1] = {0};
        DLTensor in = host_f32(a.data(), 1, shape), out = host_f32(buffer.data(), 1, shape, zero);
        CHECK(einfuse_einsum("i->i", 1, &in, &out) == EINFUSE_ERROR_ARGUMENT);
        CHECK(has(einfuse_last_error(), "output 0"));
        CHECK(has(einfuse_last_error(), "overlap"));
        CHECK(buffer[0] == -1.0f);
    }
    SUBCASE("strides (2, 3) over (4, 3): index (3, 0) and (0, 2) are both element 6") {
        int64_t shape[2] = {4, 3}, strides[2] = {2, 3};
        DLTensor in = host_f32(a.data(), 2, shape), out = host_f32(buffer.data(), 2, shape, strides);
        CHECK(einfuse_einsum("ij->ij", 1, &in, &out) == EINFUSE_ERROR_ARGUMENT);
        CHECK(has(einfuse_last_error(), "overlap"));
    }
    SUBCASE("strides (2, 3) over (3, 3) interleave but never meet: accepted") {
        int64_t shape[2] = {3, 3}, strides[2] = {2, 3};
        DLTensor in = host_f32(a.data(), 2, shape), out = host_f32(buffer.data(), 2, shape, strides);
        REQUIRE(einfuse_einsum("ij->ij", 1, &in, &out) == EINFUSE_OK);
        for (int i = 0; i < 3; ++i)
            for (int j = 0; j < 3; ++j)
                CHECK(buffer[2 * i + 3 * j] == a[i * 3 + j]);
    }
    SUBCASE("size-1 dimensions with stride 0 are fine") {
        int64_t shape[2] = {1, 3}, strides[2] = {0, 1};
        DLTensor in = host_f32(a.data(), 2, shape), out = host_f32(buffer.data(), 2, shape, strides);
        REQUIRE(einfuse_einsum("ij->ij", 1, &in, &out) == EINFUSE_OK);
        CHECK(buffer[2] == a[2]);
    }
    SUBCASE("a,ab,abc->abc with a of shape (0,): numpy's zero strides everywhere") {
        int64_t sa[1] = {0}, sb[2] = {0, 2}, sc[3] = {0, 2, 3};
        int64_t za[1] = {0}, zb[2] = {0, 0}, zc[3] = {0, 0, 0};
        DLTensor in[3] = {host_f32(a.data(), 1, sa, za), host_f32(a.data(), 2, sb, zb), host_f32(a.data(), 3, sc, zc)};
        DLTensor out = host_f32(buffer.data(), 3, sc, zc);
        CHECK(einfuse_einsum("a,ab,abc->abc", 3, in, &out) == EINFUSE_OK);
        CAPTURE(std::string(einfuse_last_error()));
        CHECK(buffer[0] == -1.0f);
    }
}

TEST_CASE("C ABI overlap: a wrong output shape is refused before any temporary is allocated") {
    // Found by fuzz_c_abi: an output claiming 2^40 elements over its input's memory made the
    // overlap path ask for 4 TiB (ASan aborts on that) before the run refused the shape.
    std::vector<float> v = iota(4);
    int64_t shape[1] = {4}, huge[1] = {int64_t{1} << 40};
    DLTensor in = host_f32(v.data(), 1, shape), out = host_f32(v.data(), 1, huge);
    CHECK(einfuse_einsum("i->i", 1, &in, &out) == EINFUSE_ERROR_EXPRESSION);
    CAPTURE(std::string(einfuse_last_error()));
    CHECK(has(einfuse_last_error(), "the result (out) is f32 [4]"));
    CHECK(!has(einfuse_last_error(), "cannot allocate"));
}

TEST_CASE("C ABI: C-contiguous strides past int64 of an empty tensor are an argument error, not internal") {
    // Found by fuzz_c_abi: shape (0, 2^62, 2^62) with NULL strides; computing its strides
    // overflowed and the error escaped as 'internal error' (status 5).
    float x = 0;
    int64_t shape[3] = {0, int64_t{1} << 62, int64_t{1} << 62}, out_shape[2] = {0, int64_t{1} << 62};
    DLTensor in = host_f32(&x, 3, shape), out = host_f32(&x, 2, out_shape);
    int status = einfuse_einsum("...i->...", 1, &in, &out);
    CAPTURE(std::string(einfuse_last_error()));
    CHECK(status == EINFUSE_ERROR_ARGUMENT);
    CHECK(has(einfuse_last_error(), "does not fit 64 bits"));
}
