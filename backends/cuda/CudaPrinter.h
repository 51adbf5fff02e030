#pragma once
// CUDA C for kernels: one standalone .cu text with a __global__ function and a validating host
// launcher per kernel. It prints the loop nest the passes decided; it never changes it.
#include "ir/Kernel.h"

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace einfuse::cuda_backend {

/** The whole .cu file: a fixed header line naming einfuse `version`, the launcher ABI and error
 * codes in a comment, then per kernel its statement, the kernel, its variants (k.staging,
 * k.tiling, k.gemm) and its `<name>_launch`, which prints k.launch's rules. The host part is
 * guarded by `#ifndef __CUDACC_RTC__`, so NVRTC compiles the very same text. Kernels without
 * k.launch (lowered for the host, or built by hand) get passes::gpu_launch_rules' first. */
std::string emit_cuda(const std::vector<ir::Kernel> &kernels, std::string_view einfuse_version);

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
