#pragma once
// The host's packed GEMM: a kernel of the GEMM strategy printed as a BLIS-style blocked matrix
// product instead of its loop nest. Internal to backends/llvm/ (CodeGen.cpp dispatches here; the
// choice and the thread split are public through HostJit.h).
#include "backends/llvm/CodeGen.h"

#include <optional>
#include <string>

namespace einfuse::llvm_backend {

/** Why `k` cannot run as the packed GEMM on a CPU with vector registers of `vector_bits` (not
 * the GEMM strategy, operands not f32/f64, an epilogue with loops, EINFUSE_HOST_GEMM=0), or
 * nothing when it can. */
std::optional<std::string> why_not_packed_gemm(const ir::Kernel &k, int vector_bits);

/** The plan's account of the packed GEMM for `k` (its micro-kernel, blocking, epilogue). */
std::string describe_packed_gemm(const ir::Kernel &k, int vector_bits);

/** Adds `k` to `m` as the packed GEMM, with emit_kernel's signature (HostJit.h): `begin, end`
 * split the range [0, batch points x M) of gemm_parallel_extent(). Needs why_not_packed_gemm
 * to have said yes. */
void emit_gemm_kernel(const ir::Kernel &k, const HostTarget &target, llvm::Module &m);

} // namespace einfuse::llvm_backend
