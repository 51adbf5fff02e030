#pragma once
// The facts about index sizes a plan relied on. Every decision a pass takes from sizes (unroll
// j because j == 4, no GEMM because K < 16, a sum that is short because j*d <= 16, a contraction
// order for i in [128, 255]) is recorded as one of these (passes/Sizes.h records them as the
// passes read), so the plan's guards describe its shape class: while they hold for new sizes,
// lowering again would give the same plan, and exec/Compiled reuses it and its compiled code.
//   "bij,bjk->bik" on the host at b=1000, i=j=k=3: {i == 3, j == 3, k == 3, ...}; b is free.
#include "ir/Program.h"

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

namespace einfuse::ir {

struct SizeGuard {
    enum class Kind {
        Range,   // every var is known and the product of their sizes lies in [lo, hi]
        Unknown, // vars[0] has no size
        Sized,   // some size is known (planned with sizes)
        Unsized, // no size is known
    };
    Kind kind = Kind::Range;
    std::vector<std::string> vars;
    int64_t lo = 0, hi = std::numeric_limits<int64_t>::max();

    /** Whether the fact holds for `sizes`. Allocation-free: a few map lookups. */
    bool holds(const Extents &sizes) const;
    bool operator==(const SizeGuard &o) const {
        return kind == o.kind && lo == o.lo && hi == o.hi && vars == o.vars;
    }
};

/** "j == 4", "b*i*k >= 4096", "16 <= i <= 31", "'d' not known", "sizes known". */
std::string to_string(const SizeGuard &g);

/** Whether every guard holds for `sizes`. */
bool all_hold(const std::vector<SizeGuard> &guards, const Extents &sizes);

/** The product of the sizes of `vars` (all in sizes), saturating at INT64_MAX; negative sizes
 * count as 0. */
int64_t size_product(const std::vector<std::string> &vars, const Extents &sizes);

} // namespace einfuse::ir
