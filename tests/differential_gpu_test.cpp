// The einsum language, differentially, on the GPU: the host differential test's generator
// (random valid einsums, strided inputs, every dtype) through the CUDA pipeline, against the
// float64 reference. EINFUSE_DIFF_SEED fixes the seed a failure prints; EINFUSE_DIFF_CASES sets
// the count.
#include "EinsumGenerator.h"
#include "GpuSkip.h"

using namespace einfuse;

TEST_CASE("gpu differential: random einsums on the GPU against the float64 reference") {
    test::require_gpu();
    test::run_differential(Target::Cuda, 300);
}
