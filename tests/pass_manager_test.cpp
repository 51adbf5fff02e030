// The pass manager (passes/PassManager.h): named passes, EINFUSE_PRINT_AFTER, and the strategy
// interface's order (passes/strategy/).
#include "EinsumIr.h"
#include "frontend/Einsum.h"
#include "passes/ChooseStrategy.h"
#include "passes/PassManager.h"
#include "passes/Pipeline.h"

#include <cstdlib>
#include <iostream>
#include <sstream>

#include <doctest/doctest.h>

using namespace einfuse;

namespace {

using einfuse::test::einsum_ir;

/** What lower() writes to stderr with EINFUSE_PRINT_AFTER=print_after. */
std::string stderr_of_lower(const char *print_after, const char *spec, const ir::Extents &sizes, passes::Device device) {
    setenv("EINFUSE_PRINT_AFTER", print_after, 1);
    std::ostringstream captured;
    std::streambuf *old = std::cerr.rdbuf(captured.rdbuf());
    passes::lower(einsum_ir(spec), sizes, device);
    std::cerr.rdbuf(old);
    unsetenv("EINFUSE_PRINT_AFTER");
    return captured.str();
}

} // namespace

TEST_CASE("pass manager: runs named passes, prints after the ones asked for, times when asked") {
    std::ostringstream log;
    passes::PassManager pm("simplify,refine", true, log);
    ir::Program p = einsum_ir("ij,jk->ik");
    ir::Program same = pm.run("simplify", [&] { return p; });
    pm.run("fuse_producers", [&] { return p; });
    CHECK(pm.ran() == std::vector<std::string>{"simplify", "fuse_producers"});
    CHECK(pm.prints("refine"));
    CHECK_FALSE(pm.prints("fuse_producers"));
    const std::string text = log.str();
    CHECK(text.find("einfuse: after simplify:\n" + ir::to_string(p)) != std::string::npos);
    CHECK(text.find("einfuse: after fuse_producers") == std::string::npos);
    CHECK(text.find("einfuse: pass fuse_producers: ") != std::string::npos); // timed
    CHECK(passes::PassManager("all", false, log).prints("gpu_launch_rules"));
    CHECK_FALSE(passes::PassManager("", false, log).prints("simplify"));
}

TEST_CASE("pass manager: EINFUSE_PRINT_AFTER names lower()'s passes, one lowering per kernel") {
    const ir::Extents d2{{"b", 64}, {"i", 2}, {"j", 2}, {"k", 2}};
    std::string chosen = stderr_of_lower("choose_strategy", "bij,bjk->bik", d2, passes::Device::Host);
    CHECK(chosen.find("einfuse: after choose_strategy:\nunrolled: unroll i, k, j") != std::string::npos);
    CHECK(chosen.find("not gemm: a GEMM (batch b, M i, N k, K j (A = in0, B = in1)), but too small to tile") != std::string::npos);
    CHECK(chosen.find("not broadcast-reduce: a strategy earlier in the order of preference fits") != std::string::npos);
    // The kernel is lowered once, with the unrolled loops already in it.
    std::string lowered = stderr_of_lower("lower_to_loops", "bij,bjk->bik", d2, passes::Device::Host);
    CHECK(lowered.find("unrolled for j in 2") != std::string::npos);
    CHECK(lowered.find("einfuse: after lower_to_loops:") == lowered.rfind("einfuse: after lower_to_loops:"));
    std::string all = stderr_of_lower("all", "bij,bjk->bik", d2, passes::Device::Gpu);
    for (const char *pass : {"verify", "simplify", "fuse_producers", "order_contractions", "choose_strategy",
                             "lower_to_loops", "refine", "gpu_launch_rules"})
        CHECK(all.find(std::string("einfuse: after ") + pass + ":") != std::string::npos);
    CHECK(stderr_of_lower("", "bij,bjk->bik", d2, passes::Device::Host).empty());
}

TEST_CASE("strategies: one registry in order of preference, the last always fits") {
    const auto &list = passes::strategies();
    REQUIRE(list.size() == 4);
    CHECK(list.front()->kind() == ir::Strategy::Elementwise);
    CHECK(list.back()->kind() == ir::Strategy::BroadcastReduce);
    // A batched dot product of length 3: unrolled (a thread per i), the others noted.
    ir::Program p = einsum_ir("ij,ij->i");
    passes::LowerOptions o = passes::LowerOptions::for_device(passes::Device::Gpu);
    const ir::Extents sizes{{"i", 100000}, {"j", 3}};
    passes::StrategyContext ctx{p, 0, sizes, o};
    passes::StrategyChoice choice = passes::choose_strategy(ctx);
    CHECK(choice.strategy->kind() == ir::Strategy::Unrolled);
    CHECK(choice.rejected.size() == 3);
}
