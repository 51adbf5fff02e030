// The C ABI with the strides numpy and DLPack producers give (issue 15 item 2): negative ones
// (x[::-1], data at element 0; refused before with "negative stride (not supported)") on inputs
// and outputs, through every host strategy, and size-0 tensors with any strides, whose
// reductions give the identity.
#include "einfuse/einfuse.h"

#include "CAbiTensors.h"

#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

using einfuse::test::host_f32;

namespace {

std::vector<float> values(std::size_t n, float scale) {
    std::vector<float> v(n);
    for (std::size_t i = 0; i < n; ++i) v[i] = scale * static_cast<float>((i * 7919) % 17) - 1.0f;
    return v;
}

bool has(const std::string &text, const std::string &part) { return text.find(part) != std::string::npos; }

} // namespace

TEST_CASE("C ABI strides: reversed inputs and outputs (numpy's x[::-1])") {
    SUBCASE("i->i of x[::-1]: data at the last element, stride -1") {
        std::vector<float> x = values(5, 0.5f), out(5, 0);
        int64_t shape[1] = {5}, rev[1] = {-1};
        DLTensor in = host_f32(x.data() + 4, 1, shape, rev), o = host_f32(out.data(), 1, shape);
        REQUIRE(einfuse_einsum("i->i", 1, &in, &o) == EINFUSE_OK);
        for (int i = 0; i < 5; ++i) CHECK(out[i] == x[4 - i]);
    }
    SUBCASE("ij->ji with x[:, ::-2] in and out[::-1, ::-1] out") {
        std::vector<float> x = values(4 * 6, 0.25f), out(3 * 4, -7.0f);
        int64_t in_shape[2] = {4, 3}, in_strides[2] = {6, -2}; // columns 5, 3, 1
        int64_t out_shape[2] = {3, 4}, out_strides[2] = {-4, -1};
        DLTensor in = host_f32(x.data() + 5, 2, in_shape, in_strides);
        DLTensor o = host_f32(out.data() + 11, 2, out_shape, out_strides);
        REQUIRE(einfuse_einsum("ij->ji", 1, &in, &o) == EINFUSE_OK);
        for (int j = 0; j < 3; ++j)
            for (int i = 0; i < 4; ++i) CHECK(out[11 - 4 * j - i] == x[6 * i + 5 - 2 * j]);
    }
    SUBCASE("matrix products at every strategy's sizes, operands reversed along rows, columns or both") {
        // 2x2 batches (unrolled), a batched dot (broadcast-reduce) and 40^3 (the host GEMM).
        struct Case {
            const char *spec;
            int64_t b, m, k, n;
        } cases[] = {{"bij,bjk->bik", 64, 2, 2, 2}, {"bij,bjk->bik", 3, 40, 40, 40}, {"bij,bjk->bik", 100, 1, 33, 1}};
        for (const auto &c : cases) {
            for (int flip = 0; flip < 8; ++flip) {
                CAPTURE(c.spec);
                CAPTURE(c.m);
                CAPTURE(flip);
                std::vector<float> a = values(c.b * c.m * c.k, 0.125f), b = values(c.b * c.k * c.n, 0.0625f);
                std::vector<float> out(c.b * c.m * c.n, 0);
                int64_t as[3] = {c.b, c.m, c.k}, bs[3] = {c.b, c.k, c.n}, os[3] = {c.b, c.m, c.n};
                // a reversed along its rows (flip & 1), b along its columns (flip & 2), out along both (flip & 4).
                int64_t ast[3] = {c.m * c.k, (flip & 1) ? -c.k : c.k, 1};
                int64_t bst[3] = {c.k * c.n, c.n, (flip & 2) ? -1 : 1};
                int64_t ost[3] = {c.m * c.n, (flip & 4) ? -c.n : c.n, (flip & 4) ? -1 : 1};
                float *a0 = a.data() + ((flip & 1) ? (c.m - 1) * c.k : 0);
                float *b0 = b.data() + ((flip & 2) ? c.n - 1 : 0);
                float *o0 = out.data() + ((flip & 4) ? c.m * c.n - 1 : 0);
                DLTensor in[2] = {host_f32(a0, 3, as, ast), host_f32(b0, 3, bs, bst)};
                DLTensor o = host_f32(o0, 3, os, ost);
                REQUIRE(einfuse_einsum(c.spec, 2, in, &o) == EINFUSE_OK);
                int wrong = 0;
                for (int64_t t = 0; t < c.b; ++t)
                    for (int64_t i = 0; i < c.m; ++i)
                        for (int64_t k = 0; k < c.n; ++k) {
                            double want = 0;
                            for (int64_t j = 0; j < c.k; ++j)
                                want += double(a0[t * ast[0] + i * ast[1] + j]) * double(b0[t * bst[0] + j * bst[1] + k * bst[2]]);
                            double got = o0[t * ost[0] + i * ost[1] + k * ost[2]];
                            wrong += std::abs(got - want) > 1e-4 * (1 + std::abs(want));
                        }
                CHECK(wrong == 0);
            }
        }
    }
    SUBCASE("x[::-1] into x itself: the overlap is found through negative strides, numpy's result") {
        std::vector<float> x = values(9, 1.0f), original = x;
        int64_t shape[1] = {9}, rev[1] = {-1};
        DLTensor in = host_f32(x.data() + 8, 1, shape, rev), o = host_f32(x.data(), 1, shape);
        REQUIRE(einfuse_einsum("i->i", 1, &in, &o) == EINFUSE_OK);
        for (int i = 0; i < 9; ++i) CHECK(x[i] == original[8 - i]);
    }
    SUBCASE("an output with strides (-1, -1) over (2, 2) overlaps itself: refused") {
        std::vector<float> x = values(4, 1.0f), out(8, 0);
        int64_t shape[2] = {2, 2}, strides[2] = {-1, -1};
        DLTensor in = host_f32(x.data(), 2, shape), o = host_f32(out.data() + 4, 2, shape, strides);
        CHECK(einfuse_einsum("ij->ij", 1, &in, &o) == EINFUSE_ERROR_ARGUMENT);
        CHECK(has(einfuse_last_error(), "overlap"));
    }
    SUBCASE("a negative stride whose reach overflows int64 is an argument error") {
        std::vector<float> x(4, 1.0f), out(4, 0);
        int64_t shape[1] = {3}, wrapping[1] = {-(int64_t{1} << 62)}, minimum[1] = {INT64_MIN};
        DLTensor in = host_f32(x.data(), 1, shape, wrapping), o = host_f32(out.data(), 1, shape);
        CHECK(einfuse_einsum("i->i", 1, &in, &o) == EINFUSE_ERROR_ARGUMENT);
        CHECK(has(einfuse_last_error(), "does not fit 64 bits"));
        in = host_f32(x.data(), 1, shape, minimum);
        CHECK(einfuse_einsum("i->i", 1, &in, &o) == EINFUSE_ERROR_ARGUMENT);
    }
}

TEST_CASE("C ABI strides: size-0 tensors take any strides; reductions over them give 0") {
    std::vector<float> a(4, 1.0f), out(12, 7.0f);
    SUBCASE("ij,jk->ik with j = 0 (numpy's strides (0, 0)): a 3x4 of zeros") {
        int64_t as[2] = {3, 0}, bs[2] = {0, 4}, os[2] = {3, 4}, zero[2] = {0, 0};
        DLTensor in[2] = {host_f32(a.data(), 2, as, zero), host_f32(nullptr, 2, bs, zero)};
        DLTensor o = host_f32(out.data(), 2, os);
        REQUIRE(einfuse_einsum("ij,jk->ik", 2, in, &o) == EINFUSE_OK);
        for (float v : out) CHECK(v == 0.0f);
    }
    SUBCASE("an empty output with stride 0 over its size-3 dimension, and negative strides") {
        int64_t as[2] = {3, 0}, os[2] = {0, 3}, zero[2] = {0, 0}, neg[2] = {-5, -1};
        DLTensor in = host_f32(a.data(), 2, as, neg), o = host_f32(nullptr, 2, os, zero);
        REQUIRE(einfuse_einsum("ij->ji", 1, &in, &o) == EINFUSE_OK);
    }
}
