#pragma once
// Chooses how a kernel is lowered and records why every other strategy was not chosen.
// This slice has one general loop nest; the unrolled, tiled and GEMM lowerings plug in here,
// each as a matcher that answers with a plan or a reason.
#include "ir/Kernel.h"

namespace einfuse::passes {

/** Returns k with strategy and rejected filled in. */
ir::Kernel choose_strategy(ir::Kernel k, const ir::Program &p, std::size_t index);

} // namespace einfuse::passes
