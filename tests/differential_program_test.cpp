// Index-notation programs, differentially: random valid programs (expression trees around
// contractions and nested reductions, several statements, +=, scalars, f32 f64 f16 bf16 and
// integer inputs) through the host pipeline, against the float64 reference.
// EINFUSE_DIFF_SEED fixes the seed a failure prints; EINFUSE_DIFF_CASES sets the count.
#include "ProgramGenerator.h"

using namespace einfuse;

TEST_CASE("differential: random index-notation programs on the host against the float64 reference") {
    test::run_program_differential(Target::Host, 200);
}
