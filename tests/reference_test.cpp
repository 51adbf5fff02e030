// The float64 reference interpreter against hand-written loops: it defines the semantics, so it
// is checked against the mathematics directly.
#include "frontend/Einsum.h"
#include "ir/Reference.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <string>

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

TEST_CASE("reference: a product of many operands is evaluated pairwise (polynomial)") {
    // opt_einsum's test_large_path: 51 chained 2x2 matrices. As one loop nest it is 2^52 points;
    // pairwise, 50 steps. The reference must give the matrix product, at once.
    const char *letters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
    std::string spec;
    ir::Extents e;
    std::vector<Tensor> ms;
    for (int i = 0; i < 51; ++i) {
        spec += (i ? "," : "") + std::string{letters[i], letters[i + 1]};
        ms.push_back(random_tensor({2, 2}));
    }
    for (int i = 0; i < 52; ++i) e[std::string(1, letters[i])] = 2;
    std::vector<const Tensor *> in;
    for (const auto &m : ms) in.push_back(&m);
    Tensor out = ir::evaluate_reference(program((spec + "->aZ").c_str(), 51), in, e).front();
    double want[2][2] = {{1, 0}, {0, 1}};
    for (const auto &m : ms) {
        double next[2][2] = {};
        for (int i = 0; i < 2; ++i)
            for (int j = 0; j < 2; ++j)
                for (int k = 0; k < 2; ++k) next[i][k] += want[i][j] * m.load(j * 2 + k);
        std::copy(&next[0][0], &next[0][0] + 4, &want[0][0]);
    }
    for (int i = 0; i < 2; ++i)
        for (int k = 0; k < 2; ++k) CHECK(out.load(i * 2 + k) == doctest::Approx(want[i][k]).epsilon(1e-12));
}

TEST_CASE("reference: pairwise products agree with the loop nest (and empty sums)") {
    // "ab,bc,cd->ad" is cheaper pairwise at these sizes; the loop nest is the definition.
    Tensor a = random_tensor({5, 6}), b = random_tensor({6, 7}), c = random_tensor({7, 8});
    ir::Extents e{{"a", 5}, {"b", 6}, {"c", 7}, {"d", 8}};
    Tensor out = ir::evaluate_reference(program("ab,bc,cd->ad", 3), {&a, &b, &c}, e).front();
    for (int i = 0; i < 5; ++i)
        for (int l = 0; l < 8; ++l) {
            double want = 0;
            for (int j = 0; j < 6; ++j)
                for (int k = 0; k < 7; ++k) want += a.load(i * 6 + j) * b.load(j * 7 + k) * c.load(k * 8 + l);
            CHECK(out.load(i * 8 + l) == doctest::Approx(want).epsilon(1e-12));
        }
    // An empty contracted label: zeros.
    Tensor a0 = random_tensor({5, 0}), b0 = random_tensor({0, 7});
    Tensor zero = ir::evaluate_reference(program("ab,bc,cd->ad", 3), {&a0, &b0, &c}, {{"a", 5}, {"b", 0}, {"c", 7}, {"d", 8}}).front();
    for (int i = 0; i < 40; ++i) CHECK(zero.load(i) == 0.0);
}
