// Einsums through the whole pipeline on the host (parse -> passes -> LLVM JIT -> threads),
// compared with the float64 reference on fresh random inputs.
#include "TestUtil.h"

#include <doctest/doctest.h>

using namespace einfuse;


TEST_CASE("host e2e: einsums against the float64 reference, f32 and f64, any thread count") {
    for (DType dtype : {DType::F32, DType::F64})
        for (int threads : {1, 2, 3})
            for (const auto &c : test::kEinsumCases) {
                CAPTURE(c.spec);
                CAPTURE(dtype_name(dtype));
                CAPTURE(threads);
                auto ast = frontend::parse_einsum(c.spec);
                CompiledEinsum compiled(c.spec, std::vector<DType>(ast.operands.size(), dtype),
                                        CompileOptions{Target::Host, "", threads});
                auto [err, tol] = test::run_and_compare(compiled, c.extents);
                CHECK(err <= tol);
            }
}

TEST_CASE("host e2e: a broadcast (size-1) operand is read in place") {
    CompiledEinsum c("bij,bjk->bik", {DType::F32, DType::F32}, CompileOptions{});
    Tensor a(DType::F32, {1, 3, 4}), b(DType::F32, {50, 4, 2});
    a.fill_random(test::rng());
    b.fill_random(test::rng());
    ir::Extents e = c.bind({a.shape(), b.shape()}, {});
    CHECK(e.at("b") == 50);
    Tensor got = c.run({&a, &b}, e).outputs.front();
    Tensor want = einsum_reference(c, {&a, &b}, e);
    CHECK(ir::max_relative_error(got, want) <= tolerance(DType::F32, 4));
}

TEST_CASE("host e2e: einfuse::einsum convenience call") {
    Tensor a(DType::F64, {4, 5}), b(DType::F64, {5, 3});
    a.fill_random(test::rng());
    b.fill_random(test::rng());
    Tensor got = einsum("ij,jk->ik", {a, b});
    REQUIRE(got.shape() == Shape{4, 3});
    for (int i = 0; i < 4; ++i)
        for (int k = 0; k < 3; ++k) {
            double want = 0;
            for (int j = 0; j < 5; ++j) want += a.load(i * 5 + j) * b.load(j * 3 + k);
            CHECK(got.load(i * 3 + k) == doctest::Approx(want).epsilon(1e-12));
        }
}

TEST_CASE("host e2e: a Fortran-order operand is read in place") {
    CompiledEinsum c("bij,bjk->bik", {DType::F64, DType::F64}, CompileOptions{});
    Tensor a(DType::F64, {50, 3, 4});
    Tensor b(DType::F64, {50, 4, 2}, {1, 50, 200}); // column-major
    a.fill_random(test::rng());
    b.fill_random(test::rng());
    ir::Extents e = c.bind({a.shape(), b.shape()}, {});
    Tensor got = c.run({&a, &b}, e).outputs.front();
    Tensor want = einsum_reference(c, {&a, &b}, e);
    CHECK(ir::max_relative_error(got, want) <= tolerance(DType::F64, 4));
}
