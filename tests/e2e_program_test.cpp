// Index-notation programs through the whole pipeline on the host, against the float64 reference,
// with the number of kernels fusion leaves.
#include "ProgramCases.h"

#include <doctest/doctest.h>

using namespace einfuse;

TEST_CASE("host e2e: programs against the float64 reference, fused as planned") {
    test::check_program_cases(Target::Host);
}

TEST_CASE("host e2e: the Gaussian kernel sum allocates nothing of size N*M") {
    CompiledProgram p("out[i] = sum[j](exp(-sum[d]((x[i,d] - y[j,d])^2)) * w[j])", {}, CompileOptions{});
    p.plan_for({{"i", 100000}, {"j", 100000}, {"d", 3}});
    CHECK(p.plan().program.temporaries.empty());
    CHECK(p.plan().kernels.size() == 1);
}

TEST_CASE("host e2e: an output that a later statement reads is passed to that kernel") {
    // Regression: the kernel of r read z but did not take it as a parameter.
    CompiledProgram p("z[] = sum[i](A[i]); r[i] = A[i] - z[]", {}, CompileOptions{}, {"z", "r"});
    ir::Extents e{{"i", 100}};
    p.plan_for(e);
    Tensor a(DType::F32, {100});
    std::mt19937_64 rng(std::random_device{}());
    a.fill_random(rng);
    RunResult got = p.run({&a}, e);
    std::vector<Tensor> want = p.reference({&a}, e);
    REQUIRE(got.outputs.size() == 2);
    for (int o = 0; o < 2; ++o) CHECK(ir::max_relative_error(got.outputs[o], want[o]) <= tolerance(DType::F32, 100));
}
