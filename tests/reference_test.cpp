// The float64 reference interpreter against hand-written loops: it defines the semantics, so it
// is checked against the mathematics directly.
#include "frontend/Einsum.h"
#include "ir/Reference.h"

#include <doctest/doctest.h>

#include <cmath>
#include <random>

using namespace einfuse;

namespace {

ir::Program program(const char *spec, int operands) {
    return frontend::einsum_program(frontend::resolve_einsum(frontend::parse_einsum(spec), frontend::label_ranks(frontend::parse_einsum(spec))),
                                   std::vector<DType>(operands, DType::F64));
}

Tensor random_tensor(Shape s) {
    static std::mt19937_64 rng(std::random_device{}());
    Tensor t(DType::F64, std::move(s));
    t.fill_random(rng);
    return t;
}

} // namespace

TEST_CASE("reference: batched matrix product") {
    const int64_t B = 3, I = 2, J = 5, K = 4;
    Tensor a = random_tensor({B, I, J}), b = random_tensor({B, J, K});
    ir::Extents e{{"b", B}, {"i", I}, {"j", J}, {"k", K}};
    Tensor out = ir::evaluate_reference(program("bij,bjk->bik", 2), {&a, &b}, e).front();
    REQUIRE(out.shape() == Shape{B, I, K});
    for (int64_t bb = 0; bb < B; ++bb)
        for (int64_t i = 0; i < I; ++i)
            for (int64_t k = 0; k < K; ++k) {
                double want = 0;
                for (int64_t j = 0; j < J; ++j) want += a.load((bb * I + i) * J + j) * b.load((bb * J + j) * K + k);
                CHECK(out.load((bb * I + i) * K + k) == doctest::Approx(want).epsilon(1e-14));
            }
}

TEST_CASE("reference: traces, diagonals, scalars and empty sums") {
    Tensor m = random_tensor({4, 4});
    double trace = 0;
    for (int i = 0; i < 4; ++i) trace += m.load(i * 5);
    ir::Extents e{{"i", 4}};
    CHECK(ir::evaluate_reference(program("ii->", 1), {&m}, e).front().load(0) == doctest::Approx(trace));
    Tensor diag = ir::evaluate_reference(program("ii->i", 1), {&m}, e).front();
    for (int i = 0; i < 4; ++i) CHECK(diag.load(i) == m.load(i * 5));

    Tensor empty = random_tensor({0});
    CHECK(ir::evaluate_reference(program("i->", 1), {&empty}, {{"i", 0}}).front().load(0) == 0.0);
}

TEST_CASE("reference: a size-1 dimension broadcasts") {
    Tensor a = random_tensor({1, 3}), b = random_tensor({4, 3});
    Tensor out = ir::evaluate_reference(program("ij,ij->ij", 2), {&a, &b}, {{"i", 4}, {"j", 3}}).front();
    for (int i = 0; i < 4; ++i)
        for (int j = 0; j < 3; ++j) CHECK(out.load(i * 3 + j) == a.load(j) * b.load(i * 3 + j));
}

TEST_CASE("max_relative_error") {
    Tensor a(DType::F64, {2}), b(DType::F64, {2});
    a.store(0, 1.0); a.store(1, 4.0);
    b.store(0, 1.0); b.store(1, 5.0);
    CHECK(ir::max_relative_error(a, b) == doctest::Approx(0.2));
    a.store(0, std::nan(""));
    CHECK(std::isinf(ir::max_relative_error(a, b)));
}
