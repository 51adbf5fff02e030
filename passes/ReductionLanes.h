#pragma once
// Where a host kernel's vector lanes run: across the output (the innermost parallel loop, each
// lane summing one output element in serial order: the broadcast-reduce default) or along the
// sum itself, each lane with partial sums of its own, folded pairwise after the loop. The
// second is the kernel a matrix-vector product needs when its reduction runs along the operands'
// contiguous dimension:
//
//   "ijk,k->ij" (a gemv), out[i,j] = sum[k](in0[i,j,k] * in1[k]):
//     across the output: lanes over j, in0[i,j..j+7,k] gathered with stride K at every k
//     along the sum:     8 values of j at a time (8 rows of in0 streamed at once, in1[k..k+31]
//                        loaded once for them), each row's 32 terms per iteration as 4 whole
//                        vectors, added pairwise into one, then one Kahan step per lane
//
// Recorded in ir::HostVectors::reduction_lanes with the reason (--emit plan's "host vectors:"
// line); backends/llvm prints it. The accuracy policy of passes/LongSums is kept: a Kahan-
// compensated sum stays compensated in every lane and in the final fold (TwoSum, pairwise), an
// f32 sum accumulated in f64 stays in f64. The only new rounding is the iteration's few terms
// added before the Kahan step, an error relative to those terms, never to the running sum; so
// the error stays independent of the sum's length (measured: within 2 ulps on a million f64
// terms, tests/LongSums.h). The Kahan steps are what makes them cheap: one per 4 vectors of
// terms, not one per vector (320x256x192 f64: 12.4 against 15.4 ms, one thread).
#include "ir/Kernel.h"
#include "ir/Target.h"
#include "passes/Sizes.h"

namespace einfuse::passes {

/** Vectors of terms per lane loop iteration along a sum (added pairwise, then one step of the
 * running sum per lane): four registers of f64 lanes at 512 bits are 32 terms per iteration. */
constexpr int kReductionLaneRegisters = 4;
/** Outputs per lane loop where the loop along the sum is all the innermost parallel loop does:
 * eight rows of a gemv's matrix streamed at once (their Kahan chains independent), the vector's
 * lanes loaded once for all, each row kReductionLaneRowRegisters vectors of terms per
 * iteration, their lanes folded together. Measured on "ijk,k->ij" f64 (one thread; 320x256x192
 * and 320x16x3072), with each row folded alone: rows x registers 4x4 12.4 / 8.6 ms, 1x4 12.9 /
 * 11.4, 1x8 12.0 / 10.9, 2x8 11.9 / 9.0, 4x8 12.3 / 8.3, 4x2 15.4 / 9.1 (numpy with OpenBLAS:
 * 8.6 ms for both); with the rows folded together, 8x4 against 4x4 at 320x256x192: 11.9-12.2
 * against 12.9-14.1 ms at 512 bits, 13.9-14.6 against 16.0-18.5 at 256 (EINFUSE_HOST_VECTOR_BITS:
 * 16 registers, still no spills that cost), f32 7.7 against 10.0, "nc,nc->n" c=100 15.3
 * against 16.4. */
constexpr int kReductionLaneRows = 8;
constexpr int kReductionLaneRowRegisters = 4;
/** Rows are streamed kReductionLaneRows at a time only when each is at least this long; shorter
 * ones are summed one after another (kReductionLaneRegisters vectors a step), which reads the
 * matrix in one sequential stream. Eight short rows at once are eight streams of a few cache
 * lines each, which the prefetchers of a 512 KiB-L2 AMD Zen 3 do not follow: a C probe of the
 * two loops (f64, 125 MB, one thread) read rows of 192 terms at 8.6-9.2 GB/s one at a time
 * against 5.7-6.8 eight at a time, rows of 768 at 8.0-10.2 against 9.7-12.0, and rows of 1536 at
 * 8.1-9.4 against 10.9-13.3. The Xeon measured above, 192 terms: 1x4 12.9 ms, 8x4 11.9 (not
 * re-measured with this rule). */
constexpr int64_t kInterleavedRowBytes = 8 * 1024;
/** Vectors of terms per row and iteration where the rows are an unrolled loop's (all its values
 * at once, often a deinterleaved read's: in1[l,m,n,o] along n). "...lmn,lmno->...o" f64,
 * l=m=160, n=120, o=3, an AMD Zen 5, alternating runs, medians of 30 calls: 1 register 4.0-4.4
 * ms on one thread against 5.7-6.8 for 4 (2 registers 4.7-6.2), two threads 3.3-3.6 against
 * 3.9-4.4; o=2 2.8 against 3.8 ms; o=4 level. Likely causes, not checked in the machine code:
 * three rows of four registers, their compensations and the shuffles' sources crowd the 32
 * vector registers, and a row of 120 terms runs 3 four-register steps, then 3 one-register
 * steps, before each of its 25,600 folds. */
constexpr int kReductionLaneUnrolledRowRegisters = 1;
/** The largest stride a read along the sum is deinterleaved at (ReductionLanes::deinterleaved)
 * rather than gathered. "...lmn,lmno->...o" f64, stride 3, one thread on an AMD Zen 5: the
 * gathered first step took 16.1-16.4 ms, the same sums with in1 stored o-major (whole vectors)
 * 4.0-4.6, numpy 3.7. */
constexpr int kMaxDeinterleave = 4;

/** Decides k.host_vectors->reduction_lanes for a host loop-nest kernel (after choose_host_vectors):
 * the innermost serial loop of a plain or Kahan-compensated sum (its body only accumulates) is
 * vectorised along itself when an input read in it is indexed by that loop's variable in its
 * last dimension (contiguous in a row-major operand), no input read in it is indexed so by the
 * innermost parallel variable (then the lanes across the output load whole vectors already:
 * "ij,jk->ik"), and the sum has at least one iteration's terms (read through sizes: its shape
 * class). Rows: the innermost parallel loop around the sum, kReductionLaneRows at a time (when
 * each row holds kInterleavedRowBytes or more; shorter rows one after another), or
 * else an unrolled loop directly around it (extent 2..kReductionLaneRows), all at once; either
 * loop's body must be the sum's declarations, its loop and statements without loops. Otherwise
 * the kernel is returned as it was, the reason appended to the plan's line. */
ir::Kernel choose_reduction_lanes(ir::Kernel k, const Sizes &sizes, const ir::Target &target);

} // namespace einfuse::passes
