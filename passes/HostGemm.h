#pragma once
// Whether the host runs a GEMM kernel as the packed, register-blocked GEMM (backends/llvm's
// GemmCodeGen prints it) or as its loop nest, and the packed GEMM's micro-kernel shape: decided
// here, recorded in ir::Gemm (host_packed, host_vector_bits, host_a_block_bytes) with the reason in the plan. The
// backend prints what is recorded and only checks that it can.
#include "ir/Kernel.h"
#include "passes/Pipeline.h"

#include <optional>
#include <string>

namespace einfuse::passes {

/** What the packed GEMM takes from the kernel: the accumulator, its type, and the statements
 * after the reduction loop (the epilogue, applied to each finished tile). */
struct PackedGemmParts {
    std::string acc;
    DType type = DType::F32;
    std::vector<ir::Stmt> epilogue;
};

/** k's parts, or nothing with the reason: not the GEMM strategy, an accumulator other than f32 or
 * f64 starting at 0, a reduction other than acc = acc + a * b over the K group, operands of
 * another type (f16/bf16 into f32 is fine), an epilogue with loops of its own. */
std::optional<PackedGemmParts> packed_gemm_parts(const ir::Kernel &k, std::string *why_not);

/** The micro-kernel: MR rows by NRV vectors of W lanes. With 32 vector registers (AVX-512),
 * 14 x 2 vectors: 28 accumulators, 2 B vectors, 1 broadcast A element; with 16 (AVX2, SSE),
 * 6 x 2: 12 + 2 + 1. */
struct PackedGemmTile {
    int mr = 0, nrv = 0, w = 0;
    int nr() const { return nrv * w; }
};
PackedGemmTile packed_gemm_tile(DType type, int vector_bits);

/** The largest A block (MC rows of packed A, whole K deep) the packed GEMM keeps: a quarter of
 * the CPU's L2, so that the A block, the B strip each micro-kernel streams (K x NR) and the
 * output tiles share it. 512 KiB where the L2 is not known: a quarter of the 2 MiB-L2 Xeon the
 * blocking was first measured on. On a 512 KiB-L2 AMD Zen 3 the 512 KiB block thrashed its L2:
 * f64 1024^3 on one thread 22-26 GFLOP/s, with 128 KiB 26-29 (docs/performance.md). */
int64_t packed_gemm_a_block_bytes(const ir::Target &target);

/** Decides how the host runs GEMM kernel k: the packed GEMM for the target's vector width, or
 * the loop nest when it cannot (the reasons above, a CPU without vector registers) or when
 * EINFUSE_HOST_GEMM=0 asks for it. Records it in k.gemm and appends it to k.strategy_detail. */
void choose_host_gemm(ir::Kernel &k, const LowerOptions &options);

} // namespace einfuse::passes
