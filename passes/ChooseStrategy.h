#pragma once
// Chooses how a kernel is lowered and records why every other strategy was not chosen.
// Each strategy is a matcher that answers with a plan or a reason; GEMM and the tiled
// broadcast-reduce plug in here as they come.
#include "ir/Kernel.h"
#include "passes/LowerToLoops.h"

namespace einfuse::passes {

/** The largest trip count an unrolled loop may have, and the most multiply-adds one thread may
 * unroll for one batch element (D=8 batched matrix products: 512). */
constexpr int64_t kMaxUnrolledExtent = 16;
constexpr int64_t kMaxUnrolledWork = 1024;

/** Returns k with strategy and rejected filled in; for the unrolled strategy, `schedule` gets
 * the loops to unroll (the caller lowers again with it). `sizes` are the index sizes planned
 * for; empty when unknown. */
ir::Kernel choose_strategy(ir::Kernel k, const ir::Program &p, std::size_t index, const ir::Extents &sizes,
                           UnrollSchedule &schedule);

} // namespace einfuse::passes
