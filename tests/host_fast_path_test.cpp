// The unrolled strategy's contiguous fast path on the host: the JIT emits a variant with the
// row-major strides as constants (vectorised across the batch) and picks it at run time only
// when every operand is laid out that way. Each row runs through the whole pipeline on fresh
// random inputs against the float64 reference, contiguous and strided, with batch sizes that
// leave a tail after the vector loop, for every dtype and 1, 2 and 3 threads; results must be
// the same bits whatever the thread count.
#include "TestUtil.h"

#include <doctest/doctest.h>

#include <cmath>
#include <cstring>

using namespace einfuse;

namespace {

/** A copy of t laid out with every dimension padded by one element: same values, no dimension
 * contiguous, so the kernel must take its general (strided) body. */
Tensor padded_copy(const Tensor &t) {
    std::vector<int> innermost_last(static_cast<std::size_t>(t.rank()));
    for (int d = 0; d < t.rank(); ++d) innermost_last[static_cast<std::size_t>(d)] = t.rank() - 1 - d;
    return test::relayout(t, innermost_last, 1);
}

bool same_bits(const Tensor &a, const Tensor &b) {
    return a.nbytes() == b.nbytes() && std::memcmp(a.data(), b.data(), a.nbytes()) == 0;
}

struct Row {
    int64_t d;
    int64_t batch; // not a multiple of 8 or 16: the vector loop leaves a tail
};

const Row kRows[] = {{2, 1037}, {3, 501}, {4, 263}, {8, 77}, {16, 19}};

} // namespace

TEST_CASE("host fast path: unrolled bij,bjk->bik, contiguous and strided, every dtype, 1-3 threads") {
    for (DType dtype : {DType::F32, DType::F64, DType::I32, DType::I64, DType::F16, DType::BF16, DType::Bool, DType::I8,
                        DType::U16, DType::U64})
        for (const Row &r : kRows) {
            CAPTURE(dtype_name(dtype));
            CAPTURE(r.d);
            ir::Extents e{{"b", r.batch}, {"i", r.d}, {"j", r.d}, {"k", r.d}};
            Tensor a(dtype, {r.batch, r.d, r.d}), b(dtype, {r.batch, r.d, r.d});
            a.fill_random(test::rng());
            b.fill_random(test::rng());
            Tensor a_strided = padded_copy(a);
            Tensor first;
            for (int threads : {1, 2, 3}) {
                CAPTURE(threads);
                CompiledEinsum c("bij,bjk->bik", {dtype, dtype}, CompileOptions{Target::Host, "", threads});
                c.plan_for(e);
                REQUIRE(c.plan().kernels.front().strategy == ir::Strategy::Unrolled);
                double tol = tolerance(dtype, r.d);
                Tensor want = einsum_reference(c, {&a, &b}, e);
                Tensor fast = c.run({&a, &b}, e).outputs.front();
                Tensor general = c.run({&a_strided, &b}, e).outputs.front();
                CHECK(ir::max_relative_error(fast, want) <= tol);
                CHECK(ir::max_relative_error(general, want) <= tol);
                if (threads == 1) first = fast;
                CHECK(same_bits(fast, first));
            }
        }
}

TEST_CASE("host fast path: f32 exp written out matches libm within 2 ulp, special values included") {
    CompiledProgram c("out[i] = exp(x[i])", {}, CompileOptions{Target::Host, "", 1});
    std::vector<float> values{0.0f, -0.0f, 1.0f, -1.0f, 0.5f, 10.0f, -10.0f, 88.0f, 88.72f, 88.73f, 89.0f,
                              -87.0f, -87.5f, -100.0f, -103.9f, -104.0f, -200.0f, 1e-8f, -1e-8f, 20.25f};
    std::uniform_real_distribution<float> u(-100.0f, 88.0f);
    for (int n = 0; n < 4000; ++n) values.push_back(u(test::rng()));
    values.push_back(INFINITY);
    values.push_back(-INFINITY);
    values.push_back(NAN);
    int64_t n = static_cast<int64_t>(values.size());
    Tensor x = Tensor::borrow(values.data(), DType::F32, {n}, {1});
    ir::Extents e{{"i", n}};
    c.plan_for(e);
    Tensor out = c.run({&x}, e).outputs.front();
    int bad = 0;
    for (int64_t i = 0; i < n; ++i) {
        float got = static_cast<float>(out.load(i)), want = std::exp(values[i]);
        if (std::isnan(want)) {
            bad += !std::isnan(got);
            continue;
        }
        if (std::isinf(want) || want == 0.0f) {
            bad += got != want;
            continue;
        }
        float ulp = std::nextafter(want, INFINITY) - want;
        if (!(std::abs(got - want) <= 2 * ulp)) {
            ++bad;
            MESSAGE("exp(" << values[i] << ") = " << got << ", libm " << want);
        }
    }
    CHECK(bad == 0);
}

TEST_CASE("host fast path: the Gaussian kernel sum in vector lanes, same bits for 1, 2 and 3 threads") {
    const char *source = "out[i] = sum[j](exp(-sum[d]((x[i,d] - y[j,d])^2)) * w[j])";
    for (DType dtype : {DType::F32, DType::F64})
        for (int64_t n : {1, 15, 17, 301}) { // below, around and past one vector of lanes
            CAPTURE(dtype_name(dtype));
            CAPTURE(n);
            ir::Extents e{{"i", n}, {"j", 203}, {"d", 3}};
            Tensor x(dtype, {n, 3}), y(dtype, {203, 3}), w(dtype, {203});
            for (Tensor *t : {&x, &y, &w}) t->fill_random(test::rng());
            Tensor first;
            for (int threads : {1, 2, 3}) {
                CAPTURE(threads);
                CompiledProgram c(source, {{"x", dtype}, {"y", dtype}, {"w", dtype}},
                                  CompileOptions{Target::Host, "", threads});
                c.plan_for(e);
                CHECK(c.plan().kernels.front().strategy == ir::Strategy::BroadcastReduce);
                Tensor got = c.run({&x, &y, &w}, e).outputs.front();
                Tensor want = c.reference({&x, &y, &w}, e).front();
                CHECK(ir::max_relative_error(got, want) <= tolerance(dtype, 3 * 203));
                if (threads == 1) first = got;
                CHECK(same_bits(got, first));
            }
        }
}
