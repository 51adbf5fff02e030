#pragma once
// On the host, a long sum into few outputs runs as one serial chain per output: "...lmn,lmno->...o"
// (numpy's test, l=m=160, n=120) sums 3.1M terms into each of 3 outputs, one thread and no vector
// lanes (they go across the outputs, 3 of 16). Splitting the sum over its innermost reduced
// variables into partial sums gives the loop nest parallel work and full lanes, and a short
// second sum adds the partials:
//
// Before: out[o] = sum[l,m,n](in0[l,m,n] * in1[l,m,n,o])
// After:  s0[l,o,n] = sum[m](in0[l,m,n] * in1[l,m,n,o]);  out[o] = sum[l,n](s0[l,o,n])
// (l outermost: the threads split it; n innermost: the vector lanes run across it)
//
// When every operand the innermost reduced variable moves is contiguous along it, the lanes go
// along the sum instead (passes/ReductionLanes) and the partials keep the outermost variables:
// Before: out = sum[l,m,n](a[l,m,n] * b[l,m,n])
// After:  s0[l] = sum[m,n](a[l,m,n] * b[l,m,n]);  out = sum[l](s0[l])      (rows streamed whole)
#include "ir/Program.h"
#include "passes/Sizes.h"
#include "ir/Target.h"

#include <string>
#include <vector>

namespace einfuse::passes {

/** Splits each sum of at least kSplitMinTerms terms into fewer than kSplitFewOutputs outputs
 * (sizes known); `notes` says what was split. The GPU splits such sums across blocks itself
 * (passes/GpuTiling): the program is returned unchanged for it. */
ir::Program split_reductions(const ir::Program &p, const Sizes &sizes, const ir::Target &target,
                             std::vector<std::string> &notes);

constexpr int64_t kSplitMinTerms = 1 << 16;
constexpr int64_t kSplitFewOutputs = 256;
/** Partials enough to spread over the threads when the first step keeps the outer variables. */
constexpr int64_t kSplitPartialsForThreads = 64;

} // namespace einfuse::passes
