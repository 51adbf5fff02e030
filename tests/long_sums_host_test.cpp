// Long sums on the host (tests/LongSums.h states what is checked).
#include "LongSums.h"

TEST_CASE("host: long sums are as accurate as numpy's pairwise ones") {
    einfuse::test::check_long_sums(einfuse::DeviceKind::Cpu, true);
}
