#pragma once
// The stated rules for NaN and empty reductions (docs/language.md, "NaN and empty reductions"),
// run through the public API on one target: max/min (the functions and the reductions) and relu
// ignore a NaN operand (C's fmax, numpy's np.fmax, not np.maximum), so a max/min reduction is
// over the elements that are not NaN; sum and prod propagate it; a max/min reduction over an
// empty range (or an all-NaN one) gives its identity (-inf/+inf, the integer type's
// min/max), a sum 0 and a product 1. Shared by the host and the GPU tests.
#include "einfuse/einfuse.hpp"

#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

namespace einfuse::test {

/** Runs the one-output program `expr` on `target` with the f32 inputs `a` (shape {rows, cols}). */
inline std::vector<float> run_rows(const char *expr, DeviceKind target, std::vector<float> a, int64_t rows, int64_t cols) {
    Kernel k = compile(expr, Signature::program({{"a", ScalarType::F32}}), target);
    std::vector<Array> out = k.run({View(a.data(), ScalarType::F32, {rows, cols})});
    REQUIRE(out.size() == 1);
    std::vector<double> values = out[0].to_doubles();
    return std::vector<float>(values.begin(), values.end());
}

inline void check_nan_semantics(DeviceKind target) {
    const float nan = std::numeric_limits<float>::quiet_NaN(), inf = std::numeric_limits<float>::infinity();
    // Row 0 has a NaN among numbers, row 1 is all NaN, row 2 has none.
    std::vector<float> a = {1, nan, 3, -2, nan, nan, nan, nan, 2, 5, -4, 0};
    SUBCASE("max and min reductions skip NaN: an all-NaN row is an empty one") {
        auto mx = run_rows("o[i] = max[j](a[i,j])", target, a, 3, 4);
        CHECK(mx[0] == 3);
        CHECK(mx[1] == -inf);
        CHECK(mx[2] == 5);
        auto mn = run_rows("o[i] = min[j](a[i,j])", target, a, 3, 4);
        CHECK(mn[0] == -2);
        CHECK(mn[1] == inf);
        CHECK(mn[2] == -4);
    }
    SUBCASE("the max() and min() functions and relu ignore a NaN operand") {
        auto mx = run_rows("o[i,j] = max(a[i,j], 0.5)", target, a, 3, 4);
        CHECK(mx[1] == 0.5f); // max(NaN, 0.5)
        CHECK(mx[0] == 1);
        auto mn = run_rows("o[i,j] = min(a[i,j], 0.5)", target, a, 3, 4);
        CHECK(mn[1] == 0.5f);
        CHECK(mn[3] == -2);
        auto relu = run_rows("o[i,j] = relu(a[i,j])", target, a, 3, 4);
        CHECK(relu[1] == 0); // relu(NaN) = fmax(NaN, 0) = 0
        CHECK(relu[2] == 3);
        CHECK(relu[3] == 0);
    }
    SUBCASE("sum and prod propagate NaN") {
        auto s = run_rows("o[i] = sum[j](a[i,j])", target, a, 3, 4);
        CHECK(std::isnan(s[0]));
        CHECK(s[2] == 3);
        auto p = run_rows("o[i] = prod[j](a[i,j])", target, a, 3, 4);
        CHECK(std::isnan(p[0]));
        CHECK(p[2] == -0.0f);
    }
    SUBCASE("reductions over an empty range give their identity") {
        std::vector<float> none(1); // a 3x0 input reads nothing
        auto mx = run_rows("o[i] = max[j](a[i,j])", target, none, 3, 0);
        auto mn = run_rows("o[i] = min[j](a[i,j])", target, none, 3, 0);
        auto s = run_rows("o[i] = sum[j](a[i,j])", target, none, 3, 0);
        auto p = run_rows("o[i] = prod[j](a[i,j])", target, none, 3, 0);
        REQUIRE(mx.size() == 3);
        for (int i = 0; i < 3; ++i) {
            CHECK(mx[i] == -inf);
            CHECK(mn[i] == inf);
            CHECK(s[i] == 0);
            CHECK(p[i] == 1);
        }
    }
    SUBCASE("an integer max over an empty range is the type's minimum") {
        std::vector<int32_t> none(1);
        Kernel k = compile("o[i] = max[j](a[i,j])", Signature::program({{"a", ScalarType::I32}}), target);
        std::vector<Array> out = k.run({View(none.data(), ScalarType::I32, {2, 0})});
        for (double v : out[0].to_doubles()) CHECK(v == std::numeric_limits<int32_t>::min());
    }
}

} // namespace einfuse::test
