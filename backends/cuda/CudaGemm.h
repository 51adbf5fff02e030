#pragma once
// The printers of the emitted GEMM kernels of a kernel with k.gemm. Internal to this folder.
#include "backends/cuda/CudaInternal.h"
#include "passes/GpuGemmShapes.h"

#include <set>
#include <string>
#include <vector>

namespace einfuse::cuda_backend::detail {

// The shapes themselves (tile tables, tensor cores, the small variant's configuration) are
// decided in passes/GpuGemmShapes; the rule that picks one per launch is data on the kernel
// (k.launch, passes/GpuLaunchRules).
using passes::gemm_mma_type;
using passes::gemm_small_config;
using passes::gemm_variants;
using passes::GemmVariant;
using passes::SmallGemm;

/** The device template of the small variant, printed once per file when a kernel has one. */
std::string gemm_small_library();
/** The `extern "C" __global__` of k's small variant (k has one). */
std::string print_gemm_small_kernel(const ir::Kernel &k, const KernelNames &names);
/** The lambdas gemm_update (CUDA cores' multiply-add) and gemm_epilogue of k, as every GEMM
 * kernel prints them (CudaGemm.cpp). */
std::string print_gemm_lambdas(const ir::Kernel &k, const KernelNames &names);

/** The templates every GEMM kernel uses (CudaGemmDevice.cpp); the mma part only when some kernel
 * uses tensor cores, with the 16-bit instructions of `mma_types`; 16-bit helpers for the f16
 * and bf16 of `types` (the file's element types, whose headers the prelude includes). */
std::string gemm_device_library(bool mma, const std::set<DType> &mma_types, const std::set<DType> &types);
/** k's GEMM kernels: a device template with the kernel's addressing, arithmetic and epilogue,
 * and one `extern "C" __global__` per variant. */
std::string print_gemm_kernels(const ir::Kernel &k, const KernelNames &names);
/** Launcher lines refusing a size other than 1 for a variable the kernel reads but the GEMM's
 * groups leave out (it was planned with size 1). */
std::string print_gemm_size_checks(const ir::Kernel &k);

} // namespace einfuse::cuda_backend::detail
