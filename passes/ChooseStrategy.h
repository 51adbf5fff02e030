#pragma once
// Chooses how a kernel is lowered and records why every other strategy was not chosen.
// Each strategy is a matcher that answers with a plan or a reason (GEMM: passes/GemmMatch.h and
// the size thresholds below). GPU variants (staging, tiling) are later passes of their own.
#include "ir/Kernel.h"
#include "passes/LowerToLoops.h"
#include "passes/Pipeline.h"

namespace einfuse::passes {

/** The largest trip count an unrolled loop may have, and the most multiply-adds one thread may
 * unroll for one batch element (D=8 batched matrix products: 512). */
constexpr int64_t kMaxUnrolledExtent = 16;
constexpr int64_t kMaxUnrolledWork = 1024;

/** On the GPU, a thread that owns a whole batch element reads each tensor's slice with scalar
 * loads strided across the warp; that pays only while a slice fits one 16-byte access. Measured
 * on an H200 (bij,bjk->bik, fp32, inputs past L2): D=2 at 105% of the copy bandwidth against 40%
 * for a thread per output element, but D=3, 4, 8 at 36%, 28%, 17% against 40%, 40%, 33%. Above
 * this size the output is a thread per element, with the reduction unrolled and the inputs
 * staged through shared memory (passes/GpuStaging.h). */
constexpr int64_t kMaxGpuSliceBytes = 16;

/** A matrix product runs as a GEMM only when K, the smaller of M and N, and M*N (each the
 * product of its group's sizes) reach these. Below, it is a batched dot product ("nc,nc->n"), a
 * matrix-vector product, or a thin product ("ij,nj->ni" with J 10x10) that the broadcast-reduce
 * loop nest runs at the memory limit. Brief case 6 ("bld,lrd->blr", M = 8, N = 2048, K = 64) is
 * a GEMM: on an H200 cuBLASLt runs it where the loop nest took 13x longer (8.6 ms). K differs by
 * device, as measured (docs/performance.md, the sweeps): on the H200, 1024x1024 products with
 * K = 4 and 8 ran faster as the loop nest (11-12 us against cuBLAS's 17-19), K = 16 faster as a
 * GEMM (11.8 us against 15.5); on the host the packed GEMM already won 4.9x at K = 2 (M = N = 512). */
constexpr int64_t kMinGemmKGpu = 16;
constexpr int64_t kMinGemmKHost = 2;
constexpr int64_t kMinGemmSide = 4;
constexpr int64_t kMinGemmTile = 256;

/** Returns k with strategy and rejected filled in; for the unrolled strategy, `schedule` gets
 * the loops to unroll (the caller lowers again with it). `sizes` are the index sizes planned
 * for; empty when unknown. */
ir::Kernel choose_strategy(ir::Kernel k, const ir::Program &p, std::size_t index, const ir::Extents &sizes,
                           Device device, UnrollSchedule &schedule);

} // namespace einfuse::passes
