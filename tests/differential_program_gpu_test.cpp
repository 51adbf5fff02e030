// Index-notation programs, differentially, on the GPU: the host test's generator (expression
// trees around contractions and nested reductions, several statements, +=, scalars, mixed types)
// through the CUDA pipeline, against the float64 reference. EINFUSE_DIFF_SEED fixes the seed a
// failure prints; EINFUSE_DIFF_CASES sets the count.
#include "GpuSkip.h"
#include "ProgramGenerator.h"

using namespace einfuse;

TEST_CASE("gpu differential: random index-notation programs on the GPU against the float64 reference") {
    test::require_gpu();
    test::run_program_differential(Target::Cuda, 200);
}
