#pragma once
// CUDA C for kernels: one standalone .cu text with a __global__ function and a validating host
// launcher per kernel. It prints the loop nest the passes decided; it never changes it.
#include "ir/Kernel.h"

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace einfuse::passes {
struct Plan;
}

namespace einfuse::cuda_backend {

/** The whole .cu file: a fixed header line naming einfuse `version`, the launcher ABI and error
 * codes in a comment, then per kernel its statement, the kernel, its variants (k.staging,
 * k.tiling, k.gemm) and its `<name>_launch`, which prints k.launch's rules. The host part is
 * guarded by `#ifndef __CUDACC_RTC__`, so NVRTC compiles the very same text. Every kernel carries
 * its launch variants (passes::gpu_launch_rules, for the target planned for); InternalError if not. */
std::string emit_cuda(const std::vector<ir::Kernel> &kernels, std::string_view einfuse_version);

/** The file of a whole plan: emit_cuda(kernels) with every kernel named after `name` (see
 * cuda_naming), then the entry point (`<entry>_launch_with_workspace`, `<entry>_workspace_bytes`,
 * `<entry>_error_string`) that runs the kernels in order, the temporaries and the split
 * reductions' parts in the caller's workspace (CudaEntry.cpp). UserError for a bad name. */
std::string emit_cuda(const passes::Plan &plan, std::string_view einfuse_version, std::string_view name = {});
/** Its header (`--emit h`): the tensor type and error codes, the entry point's and the kernels'
 * launchers' declarations, guarded by `<ENTRY>_H`. */
std::string emit_cuda_header(const passes::Plan &plan, std::string_view einfuse_version, std::string_view name = {});

/** The names a file of `plan` exports. Without `name`: the kernels' own names, and the entry
 * "einfuse_" + the program's name (an einsum's "bij_bjk_to_bik") or its first output; with it:
 * kernels `<name>_<tensor defined>` and the entry `<name>`. A kernel whose names would meet
 * another's gets trailing `_`s. */
struct CudaNaming {
    std::string entry;
    std::vector<ir::Kernel> kernels; // plan.kernels renamed (variants and combine kernels follow)
};
CudaNaming cuda_naming(const passes::Plan &plan, std::string_view name);


/** Grid and block of a launch: one thread per point of the flattened parallel loops, capped grid,
 * grid-stride loop for the rest. grid is 0 when there is no work (do not launch). */
struct CudaLaunchConfig {
    int64_t grid, block;
};

/** The plain kernel's launch (passes::plain_launch evaluated), for hosts that launch k itself.
 * `extents` follow k.index_vars. The executor walks k.launch instead. */
CudaLaunchConfig cuda_launch_config(const ir::Kernel &k, const std::vector<int64_t> &extents);

/** The rule's constants, for hosts that launch the kernels themselves: `block` threads per block,
 * grid = min(ceil(total / block), max_grid), total = the product of the parallel loops' sizes. */
struct CudaLaunchRule {
    int64_t block, max_grid;
};
CudaLaunchRule cuda_launch_rule();

/** Per param of k, the index variables of its dimensions as the kernel first accesses it
 * ("ii->i": in0 is {i, i}); empty for a param the kernel never accesses. */
std::vector<std::vector<std::string>> cuda_param_indices(const ir::Kernel &k);

} // namespace einfuse::cuda_backend
