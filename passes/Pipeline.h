#pragma once
// The lowering pipeline, one readable function: Program -> verified -> strategy per contraction
// -> loop nests. EINFUSE_DEBUG=2 logs the IR after each pass, EINFUSE_TIME_PASSES=1 the timings.
#include "ir/Kernel.h"

namespace einfuse::passes {

struct Plan {
    ir::Program program;             // as lowered: after contraction order, with its temporaries
    std::vector<ir::Kernel> kernels; // in the order they run
    std::vector<std::string> notes;  // decisions about the whole program (contraction order)
    /** The text of --emit plan: each kernel, its strategy, its loop nest, and why the other
     * strategies were not chosen. */
    std::string explain() const;
};

/** Where the plan runs: the strategies' costs differ (see ChooseStrategy.h). */
enum class Device { Host, Gpu };

/** Choices the user makes rather than the cost model. */
struct LowerOptions {
    bool allow_tf32 = false; // f32 GEMMs may round their inputs to tf32 (tensor cores; about 3 digits)
};

/** `sizes` are the index sizes to plan for, where known (the contraction order and the unrolled
 * strategy depend on them). */
Plan lower(const ir::Program &program, const ir::Extents &sizes = {}, Device device = Device::Host,
           const LowerOptions &options = {});

} // namespace einfuse::passes
