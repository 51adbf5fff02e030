// Index-notation programs through the whole pipeline on the GPU, against the float64 reference.
#include "GpuSkip.h"
#include "ProgramCases.h"

#include <doctest/doctest.h>

using namespace einfuse;

TEST_CASE("gpu e2e: programs against the float64 reference, fused as planned") {
    test::require_gpu();
    for (DType dtype : {DType::F32, DType::F64})
        for (const auto &c : test::kProgramCases) {
            std::string source = c.source;
            CAPTURE(source);
            CAPTURE(dtype_name(dtype));
            std::size_t kernels = 0;
            CHECK(test::run_program_case(c, dtype, Target::Cuda, kernels) <= 1.0);
            CHECK(kernels == c.kernels);
        }
}
