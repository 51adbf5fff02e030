#pragma once
// The lowering pipeline, one readable function: Program -> verified -> strategy per contraction
// -> loop nests. EINFUSE_DEBUG=2 logs the IR after each pass, EINFUSE_TIME_PASSES=1 the timings.
#include "ir/Kernel.h"

namespace einfuse::passes {

struct Plan {
    std::vector<ir::Kernel> kernels;
    /** The text of --emit plan: each kernel, its strategy, its loop nest, and why the other
     * strategies were not chosen. */
    std::string explain() const;
};

Plan lower(const ir::Program &program);

} // namespace einfuse::passes
