// The einsum language, differentially: random valid einsums (every form numpy.einsum accepts,
// strided inputs, every dtype) through the host pipeline, against the float64 reference.
// EINFUSE_DIFF_SEED fixes the seed a failure prints; EINFUSE_DIFF_CASES sets the count.
#include "EinsumGenerator.h"

using namespace einfuse;

TEST_CASE("differential: random einsums on the host against the float64 reference") {
    test::run_differential(Target::Host, 300);
}
