// IR nodes, the printer's stable text, and the verifier.
#include "frontend/Einsum.h"
#include "ir/Printer.h"

#include <doctest/doctest.h>

using namespace einfuse;
using namespace einfuse::ir;

namespace {
Program program_of(const char *spec) {
    auto ast = frontend::parse_einsum(spec);
    return frontend::einsum_program(frontend::resolve_einsum(ast, frontend::label_ranks(ast)), {DType::F32, DType::F32});
}
} // namespace

TEST_CASE("printer: the program of bij,bjk->bik") {
    Program p = program_of("bij,bjk->bik");
    CHECK(to_string(p) ==
          "input in0: f32 rank 3\n"
          "input in1: f32 rank 3\n"
          "output out: f32 rank 3\n"
          "out[b,i,k] = sum[j](in0[b,i,j] * in1[b,j,k])\n");
}

TEST_CASE("printer: operators, parentheses and max/min") {
    Expr a = Access::make(DType::F64, "x", {"i"});
    Expr b = Access::make(DType::F64, "y", {"i"});
    Expr sum = Binary::make(BinaryOp::Add, a, b);
    CHECK(to_string(Binary::make(BinaryOp::Mul, sum, Const::make(DType::F64, 2.5))) == "(x[i] + y[i]) * 2.5");
    CHECK(to_string(Binary::make(BinaryOp::Max, a, sum)) == "max(x[i], x[i] + y[i])");
    CHECK(to_string(Reduce::make({}, {"i"}, ReduceOp::Max, a)) == "max[i](x[i])");
}

TEST_CASE("nodes: make() checks invariants, as<>() downcasts") {
    Expr a = Access::make(DType::F32, "x", {"i"});
    CHECK(a.as<Access>() != nullptr);
    CHECK(a.as<Binary>() == nullptr);
    CHECK_THROWS_AS(Binary::make(BinaryOp::Add, a, Access::make(DType::F64, "y", {"i"})), InternalError);
    CHECK_THROWS_AS(Reduce::make({"i"}, {"i"}, ReduceOp::Sum, a), InternalError);
}

TEST_CASE("verifier: catches broken programs") {
    Program p = program_of("ij,jk->ik");
    CHECK_NOTHROW(verify(p));
    Program wrong_rank = p;
    wrong_rank.inputs[0].rank = 3;
    CHECK_THROWS_AS(verify(wrong_rank), InternalError);
    Program unknown_var = p;
    unknown_var.index_vars.pop_back();
    CHECK_THROWS_AS(verify(unknown_var), InternalError);
}
