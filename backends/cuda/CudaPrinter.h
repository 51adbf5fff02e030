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
 * codes in a comment, then per kernel its statement, the kernel and its `<name>_launch`. The host
 * part is guarded by `#ifndef __CUDACC_RTC__`, so NVRTC compiles the very same text. */
std::string emit_cuda(const std::vector<ir::Kernel> &kernels, std::string_view einfuse_version);

/** Grid and block of a launch: one thread per point of the flattened parallel loops, capped grid,
 * grid-stride loop for the rest. grid is 0 when there is no work (do not launch). */
struct CudaLaunchConfig {
    int64_t grid, block;
};

/** The rule the emitted launcher applies, for the in-process runtime. `extents` follow
 * k.index_vars. */
CudaLaunchConfig cuda_launch_config(const ir::Kernel &k, const std::vector<int64_t> &extents);

/** The rule's constants, for hosts that launch the kernels themselves: `block` threads per block,
 * grid = min(ceil(total / block), max_grid), total = the product of the parallel loops' sizes. */
struct CudaLaunchRule {
    int64_t block, max_grid;
};
CudaLaunchRule cuda_launch_rule();

/** Whether the launch with these arguments (strides of the params, concatenated, and extents in
 * the order of k.index_vars) may run k's shared-memory staged variant: k has one and every input
 * is dense in row-major order of its indices' sizes. Its kernel, cuda_staged_kernel_name(k),
 * takes k's parameters and is launched as cuda_staged_launch_config says. */
std::string cuda_staged_kernel_name(const ir::Kernel &k);
bool cuda_staged_fits(const ir::Kernel &k, const std::vector<int64_t> &strides, const std::vector<int64_t> &extents);
CudaLaunchConfig cuda_staged_launch_config(const ir::Kernel &k, const std::vector<int64_t> &extents);

/** k's tiled broadcast-reduce kernel (k.tiling): k's parameters, then, when k.tiling->combine
 * is set, a pointer to the partial results (splits * total elements of the accumulator's type).
 * Launched as cuda_tiled_launch_config says, with grid.y =
 * cuda_tiled_splits(k, grid.x, size of the reduction variable); with grid.y > 1 the combine
 * kernel (its own parameters: k's inputs, the partials [split, parallel variables...], k's
 * outputs, k's sizes and the split count) then runs with cuda_launch_config's grid. */
std::string cuda_tiled_kernel_name(const ir::Kernel &k);
CudaLaunchConfig cuda_tiled_launch_config(const ir::Kernel &k, const std::vector<int64_t> &extents);
int64_t cuda_tiled_splits(const ir::Kernel &k, int64_t grid, int64_t reduce_extent);

/** k's emitted tiled GEMM (k.gemm): kernels taking exactly k's parameters (the plain kernel's
 * argument block), one per tile shape. cuda_gemm_kernel_name is the one the rule picks for
 * these extents (`<name>_gemm`, `_gemm_m64` or `_gemm_m32`),
 * which cuda_gemm_launch_config launches: a 1-D grid (blocks stride over the tiles), static
 * shared memory only (shared_bytes 0). grid_x is 0 when there is no work. */
std::string cuda_gemm_kernel_name(const ir::Kernel &k, const std::vector<int64_t> &extents);
struct CudaGemmLaunch {
    int64_t grid_x, grid_y, grid_z, block, shared_bytes;
};
CudaGemmLaunch cuda_gemm_launch_config(const ir::Kernel &k, const std::vector<int64_t> &extents);

/** The same with the launch's strides (every param's, concatenated) and data addresses (one per
 * param): k's small dense variant `<name>_gemm_small` when cuda_gemm_small_fits, else as above. */
bool cuda_gemm_small_fits(const ir::Kernel &k, const std::vector<int64_t> &strides,
                          const std::vector<int64_t> &extents, const std::vector<std::uint64_t> &addresses);
std::string cuda_gemm_kernel_name(const ir::Kernel &k, const std::vector<int64_t> &extents,
                                  const std::vector<int64_t> &strides, const std::vector<std::uint64_t> &addresses);
CudaGemmLaunch cuda_gemm_launch_config(const ir::Kernel &k, const std::vector<int64_t> &extents,
                                       const std::vector<int64_t> &strides,
                                       const std::vector<std::uint64_t> &addresses);

/** Per param of k, the index variables of its dimensions as the kernel first accesses it
 * ("ii->i": in0 is {i, i}); empty for a param the kernel never accesses. */
std::vector<std::vector<std::string>> cuda_param_indices(const ir::Kernel &k);

} // namespace einfuse::cuda_backend
