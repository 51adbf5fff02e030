// Einsums through the whole pipeline on the GPU (parse -> passes -> CUDA C -> NVRTC -> driver),
// compared with the float64 reference on fresh random inputs.
#include "GpuSkip.h"
#include "TestUtil.h"

#include <doctest/doctest.h>

using namespace einfuse;

TEST_CASE("gpu e2e: einsums against the float64 reference, f32 and f64") {
    test::require_gpu();
    for (DType dtype : {DType::F32, DType::F64})
        for (const auto &c : test::kEinsumCases) {
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
