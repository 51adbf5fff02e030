// The strategies in order of preference: the first whose consider() offers a candidate lowers
// the definition; the others are noted with their reasons. broadcast-reduce (the general loop
// nest) always fits, so it closes the list. A new strategy is one line here and its own file.
#include "passes/strategy/Strategy.h"

namespace einfuse::passes {

#define EINFUSE_STRATEGIES(X)                                                                                          \
    X(elementwise)                                                                                                     \
    X(unrolled)                                                                                                        \
    X(gemm)                                                                                                            \
    X(broadcast_reduce)

// Each defined in its own file (Elementwise.cpp, ...).
#define EINFUSE_DECLARE(name) const Strategy &name##_strategy();
EINFUSE_STRATEGIES(EINFUSE_DECLARE)
#undef EINFUSE_DECLARE

const std::vector<const Strategy *> &strategies() {
#define EINFUSE_ENTRY(name) &name##_strategy(),
    static const std::vector<const Strategy *> list{EINFUSE_STRATEGIES(EINFUSE_ENTRY)};
#undef EINFUSE_ENTRY
    return list;
}

} // namespace einfuse::passes
