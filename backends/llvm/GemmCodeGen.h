#pragma once
// The host's packed GEMM: a kernel of the GEMM strategy printed as a BLIS-style blocked matrix
// product instead of its loop nest, where the passes recorded that choice (ir::Gemm::host_packed,
// passes/HostGemm). Internal to backends/llvm/ (CodeGen.cpp dispatches here; the thread split is
// public through HostJit.h).
#include "backends/llvm/CodeGen.h"


namespace einfuse::llvm_backend {

/** Adds `k` to `m` as the packed GEMM, with emit_kernel's signature (HostJit.h): `begin, end`
 * split the range [0, batch points x M) of gemm_parallel_extent(). For kernels whose k.gemm says
 * host_packed (passes/HostGemm decided it); InternalError if this printer cannot do it. */
void emit_gemm_kernel(const ir::Kernel &k, const HostTarget &target, llvm::Module &m);

} // namespace einfuse::llvm_backend
