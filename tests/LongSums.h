#pragma once
// Long sums are as accurate as numpy's pairwise ones, or better (passes/LongSums.h: f32 sums
// in f64 on the host, Kahan-compensated on the GPU, by blocks of 8 terms in its tiled loop, and
// for f64), whatever the strategy's loop
// nest: the probes of the hardening and numpy-parity issues, each of which a running f32 or f64
// sum fails, and the infinities a compensated sum must not turn into NaN. Shared by the host
// and the GPU tests.
#include "einfuse/einfuse.hpp"

#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <vector>

namespace einfuse::test {

inline double run_scalar(const char *expr, DeviceKind target, ScalarType t, std::vector<View> inputs) {
    std::vector<ScalarType> dtypes(inputs.size(), t);
    Kernel k = compile(expr, Signature::einsum(dtypes), target);
    std::vector<Array> out = k.run(inputs);
    REQUIRE(out.size() == 1);
    return out[0].to_doubles().at(0);
}

/** The exact sum's nearest double: Neumaier's summation in long double (64-bit significand), whose
 * error for these million terms is far below a double's ulp. */
inline double accurate_sum(const std::vector<double> &v) {
    long double s = 0, c = 0;
    for (double x : v) {
        long double t = s + x;
        c += std::fabs(s) >= std::fabs(x) ? (s - t) + x : (x - t) + s;
        s = t;
    }
    return static_cast<double>(s + c);
}

/** `large`: also the probes of hundreds of MB and 64M-term loop nests, which a GPU runs in one
 * thread (a scalar output), too slowly for a test. */
inline void check_long_sums(DeviceKind target, bool large) {
    const float eps32 = std::numeric_limits<float>::epsilon();
    SUBCASE("2^24 and then 10,000 ones (a running f32 sum stays at 2^24)") {
        std::vector<float> v(10001, 1.0f);
        v[0] = 16777216.0f;
        CHECK(run_scalar("i->", target, ScalarType::F32, {View(v.data(), ScalarType::F32, {10001})}) == 16787216.0);
    }
    SUBCASE("the same along a reduction the GPU tiles through shared memory and splits across blocks") {
        std::vector<float> x(512, 0.0f), y(10001, 0.0f), w(10001, 1.0f); // exp(0) * w[j]
        w[0] = 16777216.0f;
        Kernel k = compile("o[i] = sum[j](exp(x[i] - y[j]) * w[j])", Signature::program(), target);
        std::vector<Array> out = k.run({View(x.data(), ScalarType::F32, {512}), View(y.data(), ScalarType::F32, {10001}),
                                        View(w.data(), ScalarType::F32, {10001})});
        std::vector<double> o = out.at(0).to_doubles();
        // The GPU's tiled loop compensates blocks of 8 terms (passes/GpuTiling.h): within 9u of
        // the sum of |terms|, 9.0 here (a block holding 2^24 and seven ones loses them; a running
        // sum loses 10,000). The host's f64 accumulator is exact.
        const double bound = target == DeviceKind::Cuda ? 9 * std::ldexp(1.0, -24) * 16787216.0 : 0.0;
        CHECK(std::fabs(o.front() - 16787216.0) <= bound);
        CHECK(std::fabs(o.back() - 16787216.0) <= bound);
    }
    SUBCASE("f64: a million terms of mixed sign within 2 ulps (numpy: 3.5; a running sum: 7,790)") {
        std::mt19937_64 rng(20261206);
        std::uniform_real_distribution<double> u(-1.0, 1.0);
        std::vector<double> v(1000000);
        for (auto &x : v) x = u(rng) + 0.25; // a positive mean, so the sum is not near 0
        double want = accurate_sum(v);
        double got = run_scalar("i->", target, ScalarType::F64, {View(v.data(), ScalarType::F64, {int64_t(v.size())})});
        double ulp = std::nextafter(std::fabs(want), INFINITY) - std::fabs(want);
        CHECK(std::fabs(got - want) <= 2 * ulp);
    }
    SUBCASE("infinities stay infinite; inf - inf is NaN; an overflowing sum is inf") {
        const float inf = std::numeric_limits<float>::infinity();
        std::vector<float> v(100, 1.0f);
        v[40] = inf;
        View view(v.data(), ScalarType::F32, {100});
        CHECK(run_scalar("i->", target, ScalarType::F32, {view}) == inf);
        v[60] = -inf;
        CHECK(std::isnan(run_scalar("i->", target, ScalarType::F32, {view})));
        std::vector<float> big(100, 1e38f);
        CHECK(run_scalar("i->", target, ScalarType::F32, {View(big.data(), ScalarType::F32, {100})}) == inf);
        std::vector<double> big64(100, 1e308);
        CHECK(run_scalar("i->", target, ScalarType::F64, {View(big64.data(), ScalarType::F64, {100})}) == INFINITY);
    }
    if (!large) return;
    SUBCASE("2^25 f32 ones sum to 2^25 (a running f32 sum stops at 2^24)") {
        std::vector<float> ones(int64_t{1} << 25, 1.0f);
        CHECK(run_scalar("i->", target, ScalarType::F32, {View(ones.data(), ScalarType::F32, {int64_t(ones.size())})}) ==
              33554432.0);
    }
    SUBCASE("a dot product of 2^24 terms of 0.1 (a running f32 sum is 15% off)") {
        std::vector<float> a(int64_t{1} << 24, 0.1f), b(a.size(), 1.0f);
        int64_t n = static_cast<int64_t>(a.size());
        double want = static_cast<double>(0.1f) * static_cast<double>(n);
        double got = run_scalar("i,i->", target, ScalarType::F32,
                                {View(a.data(), ScalarType::F32, {n}), View(b.data(), ScalarType::F32, {n})});
        CHECK(std::fabs(got - want) <= eps32 * want); // one rounding to f32
    }
    SUBCASE("a fused four-operand loop nest of 64M f32 terms (a running sum is 17% off)") {
        // abc,cfd,dbe,efa-> at 20: every index in two operands, the whole product one sum.
        std::mt19937 rng(7);
        std::uniform_real_distribution<float> u(0.5f, 1.5f);
        std::vector<std::vector<float>> ops(4, std::vector<float>(8000));
        for (auto &op : ops)
            for (auto &x : op) x = u(rng);
        // The float64 value of the same f32 products, summed exactly enough.
        const auto &A = ops[0], &B = ops[1], &C = ops[2], &D = ops[3];
        auto at = [](int x, int y, int z) { return (x * 20 + y) * 20 + z; };
        double want = 0;
        for (int a = 0; a < 20; ++a)
            for (int b = 0; b < 20; ++b)
                for (int c = 0; c < 20; ++c)
                    for (int d = 0; d < 20; ++d)
                        for (int e = 0; e < 20; ++e)
                            for (int f = 0; f < 20; ++f)
                                want += double(A[at(a, b, c)]) * C[at(c, f, d)] * D[at(d, b, e)] * B[at(e, f, a)];
        // views: abc, cfd, dbe, efa in that order
        std::vector<View> in = {View(A.data(), ScalarType::F32, {20, 20, 20}), View(C.data(), ScalarType::F32, {20, 20, 20}),
                                View(D.data(), ScalarType::F32, {20, 20, 20}), View(B.data(), ScalarType::F32, {20, 20, 20})};
        double got = run_scalar("abc,cfd,dbe,efa->", target, ScalarType::F32, in);
        CHECK(std::fabs(got - want) <= 8 * eps32 * want); // the terms' own roundings, then one to f32
    }
}

} // namespace einfuse::test
