// Index-notation programs through the whole pipeline on the GPU, against the float64 reference.
#include "GpuSkip.h"
#include "ProgramCases.h"

#include <doctest/doctest.h>

using namespace einfuse;

TEST_CASE("gpu e2e: programs against the float64 reference, fused as planned") {
    test::require_gpu();
    test::check_program_cases(Target::Cuda);
}
