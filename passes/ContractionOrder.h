#pragma once
// Splits a product of three or more operands into pairwise contractions in the order that
// minimises estimated flops, with no intermediate larger than the memory limit (like
// opt_einsum's "auto": exhaustive over subsets for few operands, greedy beyond). When no split
// beats one fused loop nest over all indices, the program is left as it is.
//
// Before: out[i,l] = sum[j,k](in0[i,j] * in1[j,k] * in2[k,l])
// After:  t0[i,k] = sum[j](in0[i,j] * in1[j,k]);  out[i,l] = sum[k](t0[i,k] * in2[k,l])
#include "ir/Program.h"
#include "passes/Sizes.h"

#include <string>
#include <vector>

namespace einfuse::passes {

/** `sizes` are the index sizes the cost is estimated for (missing ones count as 16, those
 * above 64 as their octave's middle: Sizes::bucket). `notes`
 * receives the plan's explanation: each step with its cost and intermediate size, the peak. */
ir::Program order_contractions(const ir::Program &p, const Sizes &sizes, std::vector<std::string> &notes);

} // namespace einfuse::passes
