#pragma once
// Size-specialised variants of a GPU kernel planned while some sizes are unknown (`einfuse
// compile` without --dims, or with some): the kernel is planned again for a few fixed values of
// its free inner sizes, and where that plan is better (another strategy, or a staged or tiled
// variant the general plan lacks) its variants join k.launch ahead of the general
// ones, each guarded by those sizes. The standalone launcher and the executor then pick the fast
// kernel by the sizes they are given. "bij,bjk->bik" unsized: i=j=k=2, 3, 4, 8, 16 unrolled
// (staged from 3 on) before the GEMM's tiles. Also records the sizes given while others stay free
// (ir::Kernel::pinned), which the launcher checks.
#include "passes/strategy/Strategy.h"

namespace einfuse::passes {

/** The values every free inner size takes together in a specialisation: the batched small
 * products of the brief's table (D = 2, 3, 4, 8, 16 unrolled and staged) and the point
 * dimensions of kernel sums (d = 2, 3, 4 tiled); for a GEMM also D = 32 and 64, whose small dense
 * variant ran 81 and 109 us on an H200 where the tiles of an unsized plan take 2-3x longer
 * (passes/GpuGemmShapes). Each adds a kernel or two to the file (60-150 lines, 0.2-0.5 s of
 * nvcc each), so the lists stay short. */
inline constexpr int64_t kSpecialisedSizes[] = {2, 3, 4, 8, 16};
inline constexpr int64_t kSpecialisedGemmSizes[] = {32, 64};
/** The most free inner sizes a specialisation fixes (all to one value): more would be guessing. */
constexpr std::size_t kMaxSpecialisedVars = 3;

/** k (launch rules done) with its size-specialised variants in front of k.launch and the plan's
 * note in k.specialised; k.pinned when ctx.sizes gives some of k's sizes but not all. */
ir::Kernel gpu_specialise(ir::Kernel k, const StrategyContext &ctx);

/** The inner free variables of k: those ctx's sizes do not give and that index no tensor
 * first (not a batch or row index): i, j, k of "bij,bjk->bik", d of the Gaussian sum. */
std::vector<std::string> inner_free_vars(const ir::Kernel &k, const Sizes &sizes);

} // namespace einfuse::passes
