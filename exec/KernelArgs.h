#pragma once
// The arguments of one kernel call, in the calling convention of ir/Kernel.h, computed the same
// way for both targets: data pointers, strides per tensor (0 where a size-1 dimension
// broadcasts), and one extent per index variable.
#include "ir/Kernel.h"
#include "support/Tensor.h"

namespace einfuse {

struct KernelArgs {
    std::vector<int64_t> strides;  // params' strides, concatenated in param order
    std::vector<int64_t> extents;  // in the order of kernel.index_vars
    int64_t outer_extent = 1;      // extent of the outermost parallel loop (1 if none)
};

/** Checks each tensor's shape against the extents (a dimension is the extent of its index, or 1)
 * and computes the arguments. `tensors` are the kernel's params in order. */
KernelArgs kernel_args(const ir::Kernel &k, const std::vector<const Tensor *> &tensors, const ir::Extents &extents);

} // namespace einfuse
