// The pipeline: loop nests and strategy choices, table-driven.
#include "frontend/Einsum.h"
#include "ir/Printer.h"
#include "passes/Pipeline.h"

#include <doctest/doctest.h>

using namespace einfuse;

namespace {
passes::Plan plan_of(const char *spec) {
    auto ast = frontend::parse_einsum(spec);
    return passes::lower(frontend::einsum_program(frontend::resolve_einsum(ast, frontend::label_ranks(ast)), std::vector<DType>(ast.operands.size(), DType::F32)));
}
} // namespace

TEST_CASE("lower_to_loops: the loop nest of bij,bjk->bik") {
    passes::Plan plan = plan_of("bij,bjk->bik");
    REQUIRE(plan.kernels.size() == 1);
    const ir::Kernel &k = plan.kernels[0];
    CHECK(k.name == "einfuse_bij_bjk_to_bik");
    CHECK(k.num_inputs == 2);
    CHECK(k.index_vars == std::vector<std::string>{"b", "i", "j", "k"});
    CHECK(ir::to_string(k.body) ==
          "parallel for b:\n"
          "  parallel for i:\n"
          "    parallel for k:\n"
          "      f32 acc = 0\n"
          "      for j:\n"
          "        acc = acc + (in0[b,i,j] * in1[b,j,k])\n"
          "      out[b,i,k] = acc\n");
}

TEST_CASE("choose_strategy: table of expressions and strategies") {
    const struct {
        const char *spec;
        ir::Strategy strategy;
        std::size_t rejected;
    } rows[] = {
        {"bij,bjk->bik", ir::Strategy::BroadcastReduce, 3},
        {"ij,ij->ij", ir::Strategy::Elementwise, 3},
        {"ik,kj->ij", ir::Strategy::BroadcastReduce, 3},
        {"ii->", ir::Strategy::BroadcastReduce, 3},
    };
    for (const auto &row : rows) {
        CAPTURE(row.spec);
        passes::Plan plan = plan_of(row.spec);
        CHECK(plan.kernels[0].strategy == row.strategy);
        CHECK(plan.kernels[0].rejected.size() == row.rejected);
    }
}

TEST_CASE("plan text explains every rejection") {
    std::string text = plan_of("bij,bjk->bik").explain();
    CHECK(text.find("kernel einfuse_bij_bjk_to_bik: broadcast-reduce") != std::string::npos);
    CHECK(text.find("elementwise: it reduces over j") != std::string::npos);
    CHECK(text.find("gemm: ") != std::string::npos);
    CHECK(text.find("unrolled: ") != std::string::npos);
}
