#pragma once
// On the host, a long sum into few outputs runs as one serial chain per output: "...lmn,lmno->...o"
// (numpy's test, l=m=160, n=120) sums 3.1M terms into each of 3 outputs, one thread and no vector
// lanes (they go across the outputs, 3 of 16). Splitting the sum over its innermost reduced
// variables into partial sums gives the loop nest parallel work and full lanes, and a short
// second sum adds the partials:
//
// Before: out[o] = sum[l,m,n](in0[l,m,n] * in1[l,n,m,o])
// After:  s0[l,o,n] = sum[m](in0[l,m,n] * in1[l,n,m,o]);  out[o] = sum[l,n](s0[l,o,n])
// (l outermost: the threads split it; n innermost: the vector lanes run across it)
//
// When every operand the innermost reduced variable moves is contiguous along it, the lanes go
// along the sum instead (passes/ReductionLanes) and the partials keep the outermost variables:
// Before: out = sum[l,m,n](a[l,m,n] * b[l,m,n])
// After:  s0[l] = sum[m,n](a[l,m,n] * b[l,m,n]);  out = sum[l](s0[l])      (rows streamed whole)
//
// When some read has the innermost reduced variable last and every other read it moves has it
// followed only by a few output variables (in1[l,m,n,o]: each row of (n, o) is contiguous), the
// first step sums that variable alone, row by row, the output variables' copies sharing each row
// from L1:
// Before: out[o] = sum[l,m,n](in0[l,m,n] * in1[l,m,n,o])
// After:  s0[l,m,o] = sum[n](in0[l,m,n] * in1[l,m,n,o]);  out[o] = sum[l,m](s0[l,m,o])
// AMD EPYC (Zen 3), one thread, l=m=160, n=120: 12.0-13.2 ms against 26.5-30.7 for the split over
// m, which strides 2.9 KB a step and reads each row once per o (docs/performance.md).
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
/** A row summed alone (above): at least this long, with at most kSplitRowCopies elements of the
 * output variables after it, so that the partials are few next to the terms and a row's copies
 * share it from L1. */
constexpr int64_t kSplitMinRow = 32;
constexpr int64_t kSplitRowCopies = 16;

} // namespace einfuse::passes
