// Overlapping memory through the C++ API (issue 14 item 9, issue 15 item 3): einsum_into and
// Kernel::run with an output that shares memory with an input give numpy's result (computed into
// a temporary, then copied); an output whose own elements overlap is refused. The decision is
// Kernel::run's, the same for the host and CUDA targets, so these host runs cover it.
#include "einfuse/einfuse.hpp"

#include <doctest/doctest.h>

#include <cstdint>
#include <random>
#include <set>
#include <string>
#include <vector>

using einfuse::ScalarType;
using einfuse::View;

namespace {

std::vector<double> ramp(std::size_t n, double scale) {
    std::vector<double> v(n);
    for (std::size_t i = 0; i < n; ++i)
        v[i] = scale * static_cast<double>(i) - 1.5;
    return v;
}

} // namespace

TEST_CASE("overlap: may_share_memory compares byte ranges, has_overlapping_elements is exact") {
    float buf[64] = {};
    View whole(buf, {8, 8}), row(buf + 8, {8}), col(buf + 1, {8}, {8}), after(buf + 64 - 1, {1});
    CHECK(einfuse::may_share_memory(whole, row));
    CHECK(einfuse::may_share_memory(whole, col));
    CHECK(einfuse::may_share_memory(row, col)); // ranges [8,15] and [1,57] meet (no element in common: conservative)
    CHECK(!einfuse::may_share_memory(View(buf, {8}), View(buf + 8, {8})));
    CHECK(einfuse::may_share_memory(whole, after));
    CHECK(!einfuse::may_share_memory(View(buf, {0}), whole)); // no elements, no memory
    // The last byte counts: f64 elements at 0 and 8 bytes vs an f32 at byte 4.
    double d[2];
    CHECK(einfuse::may_share_memory(View(d, {1}), View(reinterpret_cast<float *>(d) + 1, {1})));

    CHECK(!einfuse::has_overlapping_elements(whole));
    CHECK(!einfuse::has_overlapping_elements(View(buf, {8, 8}, {1, 8})));      // Fortran order
    CHECK(einfuse::has_overlapping_elements(View(buf, {8, 8}, {8, 0})));       // stride 0, size 8
    CHECK(!einfuse::has_overlapping_elements(View(buf, {1, 8}, {0, 1})));      // stride 0, size 1
    CHECK(!einfuse::has_overlapping_elements(View(buf, {0, 8}, {0, 0})));      // no elements
    CHECK(einfuse::has_overlapping_elements(View(buf, {4, 4}, {4, 4})));       // equal strides
    CHECK(einfuse::has_overlapping_elements(View(buf, {4, 3}, {2, 3})));       // (3,0) and (0,2)
    CHECK(!einfuse::has_overlapping_elements(View(buf, {3, 3}, {2, 3})));      // interleaved, disjoint
    CHECK(!einfuse::has_overlapping_elements(View(buf, {3, 2}, {4, 6})));      // 0 4 8 6 10 14
    CHECK(einfuse::has_overlapping_elements(View(buf, {2, 2, 2}, {1, 2, 3}))); // 1+2 = 3

    // Negative strides (numpy's x[::-1]: data is element 0, the rest lies below it).
    View reversed(buf + 7, {8}, {-1});
    CHECK(einfuse::may_share_memory(reversed, View(buf, {1})));      // its last element is buf[0]
    CHECK(!einfuse::may_share_memory(reversed, View(buf + 8, {8})));  // it ends at buf[7]
    CHECK(!einfuse::may_share_memory(View(buf + 15, {8}, {-1}), View(buf, {8})));
    CHECK(!einfuse::has_overlapping_elements(reversed));
    CHECK(!einfuse::has_overlapping_elements(View(buf + 63, {8, 8}, {-8, -1})));
    CHECK(einfuse::has_overlapping_elements(View(buf + 32, {4, 3}, {-2, 3}))); // (0,0) and (3,2) are both element 0
    CHECK(!einfuse::has_overlapping_elements(View(buf + 32, {3, 2}, {4, -6})));
}

TEST_CASE("overlap: has_overlapping_elements agrees with enumerating every element") {
    // Small random layouts, most of them neither C nor Fortran order, so the exact search runs.
    std::mt19937_64 rng(20261206);
    static float buf[8192];
    int overlapping = 0, disjoint = 0;
    for (int trial = 0; trial < 3000; ++trial) {
        const bool large = trial % 2; // also ranks up to 5, sizes up to 6 and strides up to 40
        int rank = 1 + static_cast<int>(rng() % (large ? 5 : 4));
        std::vector<int64_t> shape, strides;
        for (int d = 0; d < rank; ++d) {
            shape.push_back(static_cast<int64_t>(rng() % (large ? 7 : 5)));
            strides.push_back(static_cast<int64_t>(rng() % (large ? 41 : 13)));
            if (trial % 3 == 0 && rng() % 2) strides.back() = -strides.back(); // x[::-1] (issue 15 item 2)
        }
        std::set<int64_t> offsets;
        int64_t count = 1;
        for (int64_t n : shape)
            count *= n;
        for (int64_t flat = 0; flat < count; ++flat) {
            int64_t rest = flat, offset = 0;
            for (int d = rank - 1; d >= 0; --d) {
                offset += (rest % shape[d]) * strides[d];
                rest /= shape[d];
            }
            offsets.insert(offset);
        }
        bool want = static_cast<int64_t>(offsets.size()) < count;
        std::string layout;
        for (int d = 0; d < rank; ++d)
            layout += std::to_string(shape[d]) + ":" + std::to_string(strides[d]) + " ";
        CAPTURE(trial);
        CAPTURE(layout);
        CHECK(einfuse::has_overlapping_elements(View(buf + 4096, shape, strides)) == want);
        (want ? overlapping : disjoint)++;
    }
    CHECK(overlapping > 300);
    CHECK(disjoint > 300);
}

TEST_CASE("overlap: einsum_into and Kernel::run with an output that is an input") {
    SUBCASE("in-place transpose") {
        const int64_t n = 33;
        std::vector<double> m = ramp(n * n, 0.5), original = m;
        einfuse::einsum_into("ij->ji", {View(m.data(), {n, n})}, View(m.data(), {n, n}));
        int wrong = 0;
        for (int64_t i = 0; i < n; ++i)
            for (int64_t j = 0; j < n; ++j)
                wrong += m[i * n + j] != original[j * n + i];
        CHECK(wrong == 0);
    }
    SUBCASE("ij,jk->ik with out=b, and with out=a") {
        std::vector<double> a = ramp(16, 0.25), b = ramp(16, -0.5), want(16, 0.0);
        for (int i = 0; i < 4; ++i)
            for (int k = 0; k < 4; ++k)
                for (int j = 0; j < 4; ++j)
                    want[i * 4 + k] += a[i * 4 + j] * b[j * 4 + k];
        std::vector<double> a2 = a, b2 = b;
        einfuse::einsum_into("ij,jk->ik", {View(a.data(), {4, 4}), View(b.data(), {4, 4})}, View(b.data(), {4, 4}));
        einfuse::einsum_into("ij,jk->ik", {View(a2.data(), {4, 4}), View(b2.data(), {4, 4})}, View(a2.data(), {4, 4}));
        for (int e = 0; e < 16; ++e) {
            CHECK(b[e] == doctest::Approx(want[e]));
            CHECK(a2[e] == doctest::Approx(want[e]));
        }
    }
    SUBCASE("the copy kernel is the user's own kernel: i->i onto its input shifted") {
        std::vector<double> v = ramp(10, 1.0), original = v;
        einfuse::Kernel k = einfuse::compile("...->...", einfuse::Signature::einsum({ScalarType::F64}, {1}));
        k.run({View(v.data(), {9})}, {View(v.data() + 1, {9})}); // must not deadlock on the kernel's lock
        for (int i = 0; i < 9; ++i)
            CHECK(v[i + 1] == original[i]);
    }
    SUBCASE("a column-major output over its own row-major input") {
        std::vector<double> m = ramp(12, 1.0), original = m;
        // out[i, j] is m[i + 4 * j]: the same buffer, read row-major and written column-major.
        einfuse::einsum_into("ij->ij", {View(m.data(), {4, 3})}, View(m.data(), {4, 3}, {1, 4}));
        for (int i = 0; i < 4; ++i)
            for (int j = 0; j < 3; ++j)
                CHECK(m[i + 4 * j] == original[i * 3 + j]);
    }
    SUBCASE("two outputs of a program that share memory with its input") {
        std::vector<double> x = ramp(6, 1.0), original = x;
        einfuse::Kernel k =
            einfuse::compile("y[i] = x[i] * 2\nz[i] = x[i] + 1", einfuse::Signature::program({{"x", ScalarType::F64}}));
        k.run({View(x.data(), {3})}, {View(x.data() + 3, {3}), View(x.data(), {3})});
        for (int i = 0; i < 3; ++i) {
            CHECK(x[3 + i] == 2 * original[i]);
            CHECK(x[i] == original[i] + 1);
        }
    }
}

TEST_CASE("overlap: an output whose own elements overlap is an Input error") {
    std::vector<double> in = ramp(6, 1.0), out(6, -7.0);
    try {
        einfuse::einsum_into("ij->ij", {View(in.data(), {2, 3})}, View(out.data(), {2, 3}, {0, 1}));
        FAIL("accepted an output with a zero stride on a dimension of size 2");
    } catch (const einfuse::Error &e) {
        CHECK(e.kind() == einfuse::ErrorKind::Input);
        CHECK(e.message().find("overlap") != std::string::npos);
        CHECK(e.message().find("[0,1]") != std::string::npos);
    }
    CHECK(out[0] == -7.0);
    // Size 0 or 1: any stride.
    CHECK_NOTHROW(einfuse::einsum_into("ij->ij", {View(in.data(), {1, 3})}, View(out.data(), {1, 3}, {0, 1})));
    CHECK(out[2] == in[2]);
    CHECK_NOTHROW(einfuse::einsum_into("ij->ij", {View(in.data(), {0, 3})}, View(out.data(), {0, 3}, {0, 0})));
}
