#pragma once
// The GPU plan's workspace: where the entry point (`<name>_launch_with_workspace`) and an
// embedder put the temporaries of a multi-kernel program and the split reductions' parts, as
// launch rules over the sizes. A layout decision, so it is made here, once, and recorded in the
// plan (Plan::workspace); the printer and the embedding metadata only read it.
#include "ir/Kernel.h"

#include <cstdint>
#include <string>
#include <vector>

namespace einfuse::passes {

/** Each temporary dense and row-major, in the program's order, each taking `bytes` (a multiple
 * of kWorkspaceAlign); then one region for the split reductions' parts, as large as the largest
 * kernel's `bytes` (their kernels run one after another), in which `grid` and `total` (the
 * variant's grid, the parallel points) are named locals. */
constexpr int64_t kWorkspaceAlign = 256;
struct WorkspaceLayout {
    struct Temporary {
        std::string name;
        DType dtype;
        std::vector<std::string> dims;
        ir::SizeExpr bytes;
    };
    struct Parts {
        std::size_t kernel;  // its index in Plan::kernels
        std::size_t variant; // the tiled variant's index in that kernel's launch (a specialisation's, or its own)
        std::vector<std::string> parallel;
        ir::SizeExpr grid, splits, bytes; // splits: named einfuse_splits
    };
    std::vector<Temporary> temporaries;
    std::vector<Parts> parts;
};

/** The layout for a program's temporaries and its kernels' split variants (k.launch's combine). */
WorkspaceLayout gpu_workspace(const ir::Program &program, const std::vector<ir::Kernel> &kernels);

/** One line per region, for EINFUSE_PRINT_AFTER=gpu_workspace. */
std::string to_string(const WorkspaceLayout &layout);

} // namespace einfuse::passes
