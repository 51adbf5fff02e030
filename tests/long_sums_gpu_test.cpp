// Long sums on the CUDA target (tests/LongSums.h states what is checked).
#include "GpuSkip.h"
#include "LongSums.h"

TEST_CASE("gpu: long sums are as accurate as numpy's pairwise ones") {
    einfuse::test::require_gpu();
    einfuse::test::check_long_sums(einfuse::DeviceKind::Cuda, false);
}
