// NaN and empty reductions on the host target (tests/NanSemantics.h states the rules).
#include "NanSemantics.h"

TEST_CASE("host: NaN and empty reductions follow docs/language.md") {
    einfuse::test::check_nan_semantics(einfuse::DeviceKind::Cpu);
}
