#pragma once
// Fills a GPU kernel's launch variants (ir::Kernel::launch, ir/LaunchVariant.h) from what the
// earlier passes decided (ir::Staging, ir::Tiling, ir::Gemm and its shapes): per variant, in
// priority order, its guard and its grid, block and split count as launch rules. The one place
// these rules are written: the standalone launcher prints them, the in-process executor
// evaluates them. Runs last, for the GPU only.
#include "ir/Kernel.h"

namespace einfuse::passes {

/** Threads per block of the plain, staged and combine kernels, and the most blocks of any
 * grid-stride launch: 65535 * 8 blocks of 256 threads keep every SM of a current GPU busy; the
 * kernels' grid-stride loops cover larger problems. */
constexpr int64_t kBlockSize = 256;
constexpr int64_t kMaxGrid = 65535 * 8;
/** A split reduction is split until the launch has this many blocks, into at most kMaxSplits parts. */
constexpr int64_t kTiledTargetBlocks = 4096;
constexpr int64_t kMaxSplits = 64;

/** k with k.launch filled: the planned variants, then the plain kernel last (always runs). The
 * GEMM rules read the target's SM count (a wave of blocks). */
ir::Kernel gpu_launch_rules(ir::Kernel k, const ir::Target &target);

/** The plain kernel's variant alone: grid min(ceil(total / kBlockSize), kMaxGrid), block
 * kBlockSize, total the product of the parallel loops' sizes. */
ir::LaunchVariant plain_launch(const ir::Kernel &k);

} // namespace einfuse::passes
