// Shape classes on the host JIT: one compiled expression run at a changing sequence of sizes
// (new batches, back and forth between classes) gives the float64 reference's results on fresh
// random inputs, and a new free size neither re-plans nor recompiles (Compiled::counts()).
#include "TestUtil.h"

#include <algorithm>
#include <cstring>

#include <doctest/doctest.h>

using namespace einfuse;
using test::rng;

namespace {

int64_t draw(int64_t lo, int64_t hi) { return std::uniform_int_distribution<int64_t>(lo, hi)(rng()); }

/** Runs the Gaussian sum at these sizes and checks it against the reference. */
void check_gaussian(CompiledProgram &p, const ir::Extents &e) {
    p.plan_for(e);
    std::vector<Tensor> in;
    for (const auto &t : p.program().inputs) {
        in.emplace_back(t.dtype, p.tensor_shape(t.name, e));
        in.back().fill_random(rng());
    }
    auto ptrs = test::pointers(in);
    Tensor got = p.run(ptrs, e).outputs.front();
    Tensor want = p.reference(ptrs, e).front();
    Tensor scale = p.reference_magnitudes(ptrs, e).front();
    CHECK(ir::max_relative_error(got, want, scale) <= tolerance(DType::F32, p.reduction_length(e)));
}

} // namespace

TEST_CASE("shape classes (host): results across size changes match the reference") {
    SUBCASE("bmm D=2..16, the batch changing every call") {
        for (int64_t d : {2, 3, 4, 8, 16}) {
            CAPTURE(d);
            CompiledEinsum c("bij,bjk->bik", {DType::F32, DType::F32}, CompileOptions{});
            for (int call = 0; call < 6; ++call) {
                ir::Extents e{{"b", draw(1, 3000)}, {"i", d}, {"j", d}, {"k", d}};
                CAPTURE(e.at("b"));
                auto [err, tol] = test::run_and_compare(c, e);
                CHECK(err <= tol);
            }
            CHECK(c.counts().plans == 1);
            CHECK(c.counts().compiles == 1);
        }
    }
    SUBCASE("a mix of expressions, sizes drawn across classes") {
        const struct {
            const char *spec;
            std::map<std::string, std::pair<int64_t, int64_t>> ranges;
        } rows[] = {
            {"bij,bjk->bik", {{"b", {1, 500}}, {"i", {1, 6}}, {"j", {1, 6}}, {"k", {1, 6}}}},
            {"ij,jk,kl->il", {{"i", {1, 90}}, {"j", {1, 90}}, {"k", {1, 90}}, {"l", {1, 90}}}},
            {"ij,jk->ik", {{"i", {1, 200}}, {"j", {1, 200}}, {"k", {1, 200}}}},
            {"nc,nc->n", {{"n", {1, 5000}}, {"c", {1, 40}}}},
        };
        for (const auto &row : rows) {
            CAPTURE(row.spec);
            std::size_t operands = std::count(row.spec, row.spec + std::strlen(row.spec), ',') + 1;
            CompiledEinsum c(row.spec, std::vector<DType>(operands, DType::F32), CompileOptions{});
            ir::Extents e;
            for (const auto &[v, r] : row.ranges) e[v] = draw(r.first, r.second);
            for (int call = 0; call < 12; ++call) {
                // One size redrawn per call: often the same class, sometimes another.
                auto it = std::next(e.begin(), draw(0, static_cast<int64_t>(e.size()) - 1));
                it->second = draw(row.ranges.at(it->first).first, row.ranges.at(it->first).second);
                CAPTURE(it->first);
                CAPTURE(it->second);
                auto [err, tol] = test::run_and_compare(c, e);
                CHECK(err <= tol);
            }
        }
    }
    SUBCASE("the Gaussian kernel sum") {
        CompiledProgram p("out[i] = sum[j](exp(-sum[d]((x[i,d] - y[j,d])^2)) * w[j])", {}, CompileOptions{});
        for (int call = 0; call < 8; ++call) check_gaussian(p, {{"i", draw(1, 700)}, {"j", draw(17, 900)}, {"d", 3}});
        check_gaussian(p, {{"i", 3}, {"j", 40}, {"d", 3}}); // i of at most 4 too (it was a class of its own)
        CHECK(p.counts().plans == 1); // j > 16: one class for every i and j
        check_gaussian(p, {{"i", 50}, {"j", 5}, {"d", 3}}); // a short sum: another class
        CHECK(p.counts().plans == 2);
    }
}

TEST_CASE("shape classes (host): a new free size neither re-plans nor recompiles") {
    CompiledEinsum c("bij,bjk->bik", {DType::F32, DType::F32}, CompileOptions{});
    auto run = [&](int64_t b, int64_t d, int64_t k = 0) {
        ir::Extents e{{"b", b}, {"i", d}, {"j", d}, {"k", k ? k : d}};
        c.plan_for(e);
        auto inputs = test::random_inputs(c, e);
        return c.run(test::pointers(inputs), e);
    };
    run(100, 3);
    const passes::Plan *first = &c.plan();
    for (int64_t b = 101; b < 140; ++b) run(b, 3);
    CHECK(c.counts().plans == 1);
    CHECK(c.counts().compiles == 1);
    CHECK(&c.plan() == first);
    run(100, 4); // another class: planned and compiled once
    run(7, 4);
    CHECK(c.counts().plans == 2);
    CHECK(c.counts().compiles == 2);
    run(5000, 3); // back to the first: kept with its code
    CHECK(c.counts().plans == 2);
    CHECK(c.counts().compiles == 2);
    // Bounded: more classes than kept, the oldest planned again when it returns.
    for (int64_t d = 1; d <= 5; ++d)
        for (int64_t k = 1; k <= 5; ++k) run(10, d, k); // 25 classes (each size unrolled), more than kept
    const auto before = c.counts().plans;
    run(11, 5, 5); // the latest: kept
    CHECK(c.counts().plans == before);
    run(10, 1, 1); // the oldest: planned again
    CHECK(c.counts().plans == before + 1);
}
