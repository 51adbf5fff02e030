// NaN and empty reductions on the CUDA target (tests/NanSemantics.h states the rules).
#include "GpuSkip.h"
#include "NanSemantics.h"

TEST_CASE("gpu: NaN and empty reductions follow docs/language.md") {
    einfuse::test::require_gpu();
    einfuse::test::check_nan_semantics(einfuse::DeviceKind::Cuda);
}
