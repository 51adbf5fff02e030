// c64 and c128 on the LLVM host backend, against the reference in complex128.
#include "ComplexCases.h"

using namespace einfuse;

TEST_CASE("host complex: einsums in c64, c128 and with real operands match the complex128 reference") {
    test::check_complex_einsums(Target::Host);
}

TEST_CASE("host complex: programs with conj, real, imag, abs, exp, /, == and where") {
    test::check_complex_programs(Target::Host);
}

TEST_CASE("host complex: strided, reversed and broadcast complex views, and an output with gaps") {
    // The parts are views with doubled strides: a Fortran-order, reversed or stride-0 operand
    // doubles its own strides, and an output every other element of a buffer keeps the rest.
    CompiledEinsum e("ij,jk->ik", {DType::C128, DType::C128}, CompileOptions{});
    ir::Extents sizes{{"i", 4}, {"j", 3}, {"k", 5}};
    e.plan_for(sizes);
    Tensor a(DType::C128, {4, 3}, {1, 4});  // Fortran order
    Tensor big(DType::C128, {3, 10});
    a.fill_random(test::rng());
    big.fill_random(test::rng());
    Tensor b = Tensor::borrow(static_cast<std::byte *>(big.data()) + 9 * 16, DType::C128, {3, 5}, {10, -2}); // b[j,k] = big[j, 9 - 2k]
    Tensor out(DType::C128, {4, 10});
    for (int64_t i = 0; i < 40; ++i) out.store_complex(i, {7, -7});
    Tensor view = Tensor::borrow(out.data(), DType::C128, {4, 5}, {10, 2});
    e.run_into({&a, &b}, {&view}, sizes);
    Tensor want = e.reference({&a, &b}, sizes).front();
    CHECK(ir::max_relative_error(view, want) <= tolerance(DType::F64, 3));
    for (int64_t i = 1; i < 40; i += 2) CHECK(out.load_complex(i) == std::complex<double>(7, -7));
}
