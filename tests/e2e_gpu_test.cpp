// Einsums through the whole pipeline on the GPU (parse -> passes -> CUDA C -> NVRTC -> driver),
// compared with the float64 reference on fresh random inputs.
#include "GpuSkip.h"
#include "TestUtil.h"

#include <doctest/doctest.h>

using namespace einfuse;

TEST_CASE("gpu e2e: einsums against the float64 reference, f32 and f64") {
    test::require_gpu();
    const struct {
        const char *spec;
        ir::Extents extents;
    } cases[] = {
        {"bij,bjk->bik", {{"b", 262144}, {"i", 2}, {"j", 2}, {"k", 2}}},
        {"bij,bjk->bik", {{"b", 100000}, {"i", 3}, {"j", 3}, {"k", 3}}},
        {"bij,bjk->bik", {{"b", 33}, {"i", 9}, {"j", 4}, {"k", 1}}},
        {"bij,bjk->bik", {{"b", 3}, {"i", 17}, {"j", 300}, {"k", 5}}},
        {"nc,nc->n", {{"n", 5000}, {"c", 7}}},
        {"bij,bpj->bpi", {{"b", 12}, {"p", 1000}, {"i", 3}, {"j", 3}}},
        {"ij,jk", {{"i", 5}, {"j", 6}, {"k", 7}}},
        {"ii->", {{"i", 9}}},
        {"ii->i", {{"i", 9}}},
        {"ij->ji", {{"i", 13}, {"j", 31}}},
        {"i,i->", {{"i", 100000}}},
        {"ij,jk,kl->il", {{"i", 4}, {"j", 5}, {"k", 6}, {"l", 3}}},
        {"bij,bjk->bik", {{"b", 0}, {"i", 2}, {"j", 2}, {"k", 2}}},
        {"ij,jk->ik", {{"i", 3}, {"j", 0}, {"k", 2}}},
    };
    for (DType dtype : {DType::F32, DType::F64})
        for (const auto &c : cases) {
            CAPTURE(c.spec);
            CAPTURE(dtype_name(dtype));
            auto ast = frontend::parse_einsum(c.spec);
            CompiledEinsum compiled(c.spec, std::vector<DType>(ast.operands.size(), dtype),
                                    CompileOptions{Target::Cuda, "", 0});
            auto [err, tol] = test::run_and_compare(compiled, c.extents);
            CHECK(err <= tol);
        }
}

TEST_CASE("gpu e2e: a broadcast (size-1) operand and a Fortran-order operand, read in place") {
    test::require_gpu();
    CompiledEinsum c("bij,bjk->bik", {DType::F32, DType::F32}, CompileOptions{Target::Cuda, "", 0});
    Tensor a(DType::F32, {1, 3, 4});
    Tensor b(DType::F32, {50, 4, 2}, {1, 50, 200}); // column-major
    a.fill_random(test::rng());
    b.fill_random(test::rng());
    ir::Extents e = c.bind({a.shape(), b.shape()}, {});
    Tensor got = c.run({&a, &b}, e).outputs.front();
    Tensor want = einsum_reference(c, {&a, &b}, e);
    CHECK(ir::max_relative_error(got, want) <= tolerance(DType::F32, 4));
}
