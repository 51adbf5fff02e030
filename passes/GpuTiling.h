#pragma once
// Decides how a GPU broadcast-reduce kernel tiles its reduction through shared memory and
// whether it may split the reduction across blocks (ir::Tiling). Without it, a kernel with few
// output points, the Gaussian kernel sum at N=20k say, runs 20k threads on a GPU that holds 270k.
#include "ir/Kernel.h"
#include "passes/LowerToLoops.h"
#include "passes/Sizes.h"

namespace einfuse::passes {

/** Rows of the reduced operand one tile holds: one per thread of a 256-thread block. */
constexpr int64_t kTileRows = 256;
/** Output points per thread: each row read from shared memory serves this many. Measured on an
 * H200 (Gaussian kernel sum, fp32, N=M=100k, exp through __expf): 1, 2, 4 points took 4.87, 4.47,
 * 4.40 ms; 8 points 3.94 ms against 3.94 for 4 (with the one-instruction exp), at twice the registers. */
constexpr int64_t kTiledPointsPerThread = 4;
/** Terms a tiled compensated sum adds plainly before each compensated step (ir::Tiling::blocks).
 * Kahan's step costs six operations a term, which the Gaussian sum's exp and three squares do
 * not hide (H100, N=M=100k: 4.83 ms against 3.49 ms for a running sum). Against the running sum,
 * the same H100 and run: blocks of 4 took 1.11x at best, 8 1.056x, 16 1.08x (each at its best
 * unrolling, backends/cuda/CudaTiled.cpp). In blocks of 8 the error stays within 7u + 2u of the
 * sum of |terms| whatever n is (a block's running sum, then Kahan), as numpy's pairwise sum
 * keeps 8 running sums at its leaves. */
constexpr int64_t kCompensatedBlock = 8;
/** The most shared memory a tile may take, so that several blocks share an SM. */
constexpr int64_t kMaxTileBytes = 32768;

/** The tiling of k, a broadcast-reduce kernel whose reduced operands' other indices have the
 * sizes in `sizes`; nothing, with the reason in *why_not, when its loop nest does not fit. */
std::optional<ir::Tiling> plan_gpu_tiling(const ir::Kernel &k, const Sizes &sizes, std::string *why_not);

/** The loops lower_to_loops nests inside the outermost reduction loops of definition d whose
 * sizes are known and at most kMaxUnrolledExtent: unrolled, they keep the reduced operand's row in
 * registers (sum[d] (x[i,d]-y[j,d])^2 at d=3). Decided before lowering, so that the kernel is
 * lowered once. */
UnrollSchedule inner_unroll_schedule(const ir::Definition &d, const Sizes &sizes);

} // namespace einfuse::passes
