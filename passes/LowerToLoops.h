#pragma once
// Builds the loop nest of one definition: parallel loops over the output's indices, then a
// register accumulator and serial loops over the reduced ones.
#include "ir/Kernel.h"
#include "passes/LongSums.h"

namespace einfuse::passes {

/** Which loops run inside one thread over a trip count fixed at compile time: the unrolled
 * strategy's schedule. Output variables not listed stay parallel. */
struct UnrollSchedule {
    std::vector<std::string> vars; // output and reduction variables to unroll
    ir::Extents extents;           // their fixed trip counts
};

/** The kernel computing p.definitions[index]; its strategy fields are left for
 * choose_strategy. The sums listed in long_sums accumulate as each says (passes/LongSums.h). With a schedule, the listed variables' loops are Unrolled:
 * "bij,bjk->bik" at i=j=k=2 becomes parallel for b { unrolled for i in 2, k in 2 { ...
 * unrolled for j in 2 ... } }. */
ir::Kernel lower_to_loops(const ir::Program &p, std::size_t index, const UnrollSchedule &schedule = {},
                          const std::vector<LongSum> &long_sums = {});

} // namespace einfuse::passes
