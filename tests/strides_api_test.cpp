// The C++ API with numpy's strides (issue 15 item 2): reversed views (negative strides, data at
// element 0) as inputs and outputs of einsum, einsum_into and Kernel::run; views without
// elements with any strides, and reductions over them.
#include "einfuse/einfuse.hpp"

#include <doctest/doctest.h>

#include <cstdint>
#include <vector>

using einfuse::ScalarType;
using einfuse::View;

namespace {

std::vector<double> ramp(std::size_t n) {
    std::vector<double> v(n);
    for (std::size_t i = 0; i < n; ++i) v[i] = 0.25 * static_cast<double>((i * 37) % 11) - 1.0;
    return v;
}

} // namespace

TEST_CASE("strides: reversed views in and out of einsum") {
    const int64_t m = 5, k = 7, n = 6;
    std::vector<double> a = ramp(m * k), b = ramp(k * n);
    // a[::-1, :] and b[:, ::-1] as numpy hands them over.
    View ar(a.data() + (m - 1) * k, {m, k}, {-k, 1}), br(b.data() + n - 1, {k, n}, {n, -1});
    auto want = [&](int64_t i, int64_t j) {
        double s = 0;
        for (int64_t l = 0; l < k; ++l) s += a[(m - 1 - i) * k + l] * b[l * n + (n - 1 - j)];
        return s;
    };
    SUBCASE("einsum into a new array") {
        std::vector<double> got = einfuse::einsum("ik,kj->ij", ar, br).to_doubles();
        for (int64_t i = 0; i < m; ++i)
            for (int64_t j = 0; j < n; ++j) CHECK(got[i * n + j] == doctest::Approx(want(i, j)));
    }
    SUBCASE("einsum_into an output reversed along both dimensions") {
        std::vector<double> out(m * n, 0);
        einfuse::einsum_into("ik,kj->ij", {ar, br}, View(out.data() + m * n - 1, {m, n}, {-n, -1}));
        for (int64_t i = 0; i < m; ++i)
            for (int64_t j = 0; j < n; ++j) CHECK(out[m * n - 1 - i * n - j] == doctest::Approx(want(i, j)));
    }
    SUBCASE("Kernel::run reversing a vector in place (the overlap is seen through the negative stride)") {
        std::vector<double> x = ramp(10), original = x;
        einfuse::Kernel kernel = einfuse::compile("i->i", einfuse::Signature::einsum({ScalarType::F64}));
        kernel.run({View(x.data() + 9, {10}, {-1})}, {View(x.data(), {10})});
        for (int i = 0; i < 10; ++i) CHECK(x[i] == original[9 - i]);
    }
}

TEST_CASE("strides: views without elements take any strides; sums over them are 0") {
    std::vector<double> out(12, 7.0);
    // numpy's (3, 0) and (0, 4) arrays: strides 0, data possibly null.
    einfuse::einsum_into("ij,jk->ik", {View(static_cast<double *>(nullptr), {3, 0}, {0, 0}),
                                       View(static_cast<double *>(nullptr), {0, 4}, {0, -3})},
                         View(out.data(), {3, 4}));
    for (double v : out) CHECK(v == 0.0);
    // An output without elements with stride 0 on its size-5 dimension.
    std::vector<double> in(5, 1.0);
    einfuse::einsum_into("i,j->ij", {View(in.data(), {5}), View(static_cast<double *>(nullptr), {0}, {0})},
                         View(static_cast<double *>(nullptr), {5, 0}, {0, 0}));
    CHECK(einfuse::einsum("ij->", View(static_cast<double *>(nullptr), {0, 3}, {0, 0})).to_doubles() ==
          std::vector<double>{0.0});
}
