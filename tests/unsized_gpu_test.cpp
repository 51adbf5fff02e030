// The in-process runtime running a plan made without sizes (issue 17): the CUDA executor picks
// the size-specialised variants (passes/GpuSpecialise) by the same guards the standalone
// launcher prints, and the results match the float64 reference. Needs a GPU.
#include "GpuSkip.h"
#include "TestUtil.h"

#include <doctest/doctest.h>

using namespace einfuse;

namespace {

bool has(const std::string &text, const std::string &part) { return text.find(part) != std::string::npos; }

} // namespace

TEST_CASE("gpu unsized: bij,bjk->bik planned without sizes runs its specialised kernels by size") {
    test::require_gpu();
    CompiledEinsum c("bij,bjk->bik", {DType::F32, DType::F32}, CompileOptions{Target::Cuda, "", 0});
    const struct {
        int64_t b, d;
        const char *ran;
    } rows[] = {{1000, 2, "size-specialised einfuse_bij_bjk_to_bik_at_2"},
                {777, 3, "size-specialised einfuse_bij_bjk_to_bik_at_3"},
                {300, 16, "size-specialised einfuse_bij_bjk_to_bik_at_16"},
                {65, 32, "size-specialised einfuse_bij_bjk_to_bik_at_32"},
                {7, 64, "size-specialised einfuse_bij_bjk_to_bik_at_64"},
                {100, 5, "loop nest"}};
    for (const auto &row : rows) {
        CAPTURE(row.d);
        ir::Extents sizes{{"b", row.b}, {"i", row.d}, {"j", row.d}, {"k", row.d}};
        auto inputs = test::random_inputs(c, sizes);
        auto ptrs = test::pointers(inputs);
        RunResult r = c.run(ptrs, sizes); // no plan_for: the unsized plan
        REQUIRE(r.ran.size() == 1);
        CHECK_MESSAGE(has(r.ran[0], row.ran), r.ran[0]);
        Tensor want = einsum_reference(c, ptrs, sizes);
        CHECK(ir::max_relative_error(r.outputs.front(), want, test::einsum_scale(c, inputs, sizes)) <=
              tolerance(DType::F32, reduction_length(c, sizes)));
    }
}

TEST_CASE("gpu unsized: the Gaussian sum without sizes runs the tiled kernel for d=3; with d pinned, another d is refused") {
    test::require_gpu();
    const char *gauss = "out[i] = sum[j](exp(-sum[d]((x[i,d] - y[j,d])^2)) * w[j])";
    CompiledProgram c(gauss, {}, CompileOptions{Target::Cuda, "", 0});
    auto run = [&](const ir::Extents &sizes) {
        std::vector<Tensor> inputs;
        for (const auto &in : c.program().inputs) {
            inputs.emplace_back(in.dtype, c.tensor_shape(in.name, sizes));
            inputs.back().fill_random(test::rng());
        }
        auto ptrs = test::pointers(inputs);
        RunResult r = c.run(ptrs, sizes);
        Tensor want = c.reference(ptrs, sizes).front();
        CHECK(ir::max_relative_error(r.outputs.front(), want) <= tolerance(DType::F32, c.reduction_length(sizes)));
        return r.ran.at(0);
    };
    CHECK(has(run({{"i", 300}, {"j", 5000}, {"d", 3}}), "size-specialised einfuse_out_at_3"));
    CHECK(run({{"i", 300}, {"j", 500}, {"d", 5}}) == "kernel");
    c.plan_for({{"d", 3}});
    CHECK(run({{"i", 300}, {"j", 5000}, {"d", 3}}) == "tiled broadcast-reduce kernel");
    CHECK_THROWS_AS(run({{"i", 30}, {"j", 50}, {"d", 4}}), UserError);
}
