// c64 and c128 on the GPU, against the reference in complex128 (skipped without a GPU): host
// complex tensors are staged once on the device (exec/Compiled.cpp), device ones used in place.
#include "ComplexCases.h"
#include "GpuSkip.h"

using namespace einfuse;

TEST_CASE("gpu complex: einsums in c64, c128 and with real operands match the complex128 reference") {
    test::require_gpu();
    test::check_complex_einsums(Target::Cuda);
}

TEST_CASE("gpu complex: programs with conj, real, imag, abs, exp, /, == and where") {
    test::require_gpu();
    test::check_complex_programs(Target::Cuda);
}

TEST_CASE("gpu complex: a host output with gaps is staged once and keeps its gaps") {
    test::require_gpu();
    CompiledEinsum e("ij,jk->ik", {DType::C64, DType::C64}, CompileOptions{Target::Cuda, "", 0});
    ir::Extents sizes{{"i", 33}, {"j", 17}, {"k", 9}};
    e.plan_for(sizes);
    Tensor a(DType::C64, {33, 17}), b(DType::C64, {17, 9}), out(DType::C64, {33, 18});
    a.fill_random(test::rng());
    b.fill_random(test::rng());
    for (int64_t i = 0; i < out.size(); ++i) out.store_complex(i, {7, -7});
    Tensor view = Tensor::borrow(out.data(), DType::C64, {33, 9}, {18, 2});
    e.run_into({&a, &b}, {&view}, sizes);
    Tensor want = e.reference({&a, &b}, sizes).front();
    CHECK(ir::max_relative_error(view, want) <= tolerance(DType::F32, 17));
    for (int64_t i = 0; i < 33; ++i)
        for (int64_t j = 1; j < 18; j += 2) CHECK(out.load_complex(i * 18 + j) == std::complex<double>(7, -7));
}
