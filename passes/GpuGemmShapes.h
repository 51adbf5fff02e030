#pragma once
// The GPU GEMM's compiled shapes, decided per kernel with k.gemm: the tile shapes the emitted
// tiled GEMM comes in (one kernel each), whether it uses tensor cores, and the small dense
// batched variant for planned sizes. The CUDA backend prints kernels for them and
// passes/GpuLaunchRules chooses among them per launch. Moved here from backends/cuda, unchanged.
#include "ir/Kernel.h"

namespace einfuse::passes {

/** One compiled tile shape, a kernel `<name><suffix>`. SIMT (CUDA cores): BM x BN per block of
 * (BM / TM) * (BN / TN) threads, TM x TN outputs per thread. MMA (tensor cores): WM x WN warps.
 * K walks through shared memory BK at a time. Why these shapes: GpuGemmShapes.cpp. */
struct GemmVariant {
    const char *suffix;
    bool mma;
    int bm, bn, bk, tm, tn; // mma: tm, tn are the warps along M and N
    int min_blocks;         // __launch_bounds__'s blocks per SM: caps registers at 64K / (threads * this)
    int stages;             // shared-memory buffers: 2 overlaps the next chunk's loads with this one's math
    int threads() const { return mma ? tm * tn * 32 : (bm / tm) * (bn / tn); }
};

/** The launch rule among them (GpuLaunchRules): M, N <= 32 and a _m32 variant: _m32; else
 * min(M, N) <= 64, or too few 128x128 tiles to give every SM of the target one
 * (ir::Target::sm_count: 132 on an H100/H200): _m64 when there is one; else _gemm. Then grid =
 * min(tiles, max grid). */

/** The small dense batched GEMM, "_gemm_small" (ir::GemmSmall), f32 or f64 without tensor
 * cores, M, N, K <= kSmallMaxDim, its two stages within the target's static shared memory per
 * block. */
using SmallGemm = ir::GemmSmall;
constexpr int kSmallMaxDim = 64;              // K <= 64 is fully unrolled, a chunk at a time
constexpr int kSmallTargetThreads = 256;      // batch elements per block: up to this many threads
/** Below two warps per batch element the variant loses to cuBLASLt (H200, ~268 MB batched:
 * D=24, 36 threads per element, 213 us against 126; D=32, 48, 64 with 64, 144, 256 threads:
 * 81, 100, 109 us against 105, 146, 112). */
constexpr int kSmallMinThreadsPerElement = 64;

/** The accumulation inside a GEMM kernel's K loop (acc = acc + a * b) and its accumulator's type. */
struct GemmUpdate {
    const ir::AssignScalar *update = nullptr;
    DType acc_type = DType::F32;
};
GemmUpdate gemm_update(const ir::Kernel &k);

/** Decides k's small variant for `target` (ir::Gemm::small), or nothing (with the reason) when
 * k does not fit it. Reads k.gemm->mma: decide that first. */
std::optional<SmallGemm> plan_gemm_small(const ir::Kernel &k, const ir::Target &target, std::string *why_not = nullptr);
/** Decides the mma path's input type (ir::Gemm::mma: F16, BF16, or F32 for tf32) where the
 * target has tensor cores for it, or nothing: SIMT. */
std::optional<DType> plan_gemm_mma(const ir::Kernel &k, const ir::Target &target);

/** What the passes recorded: k.gemm->small and k.gemm->mma (the backend prints these). */
std::optional<SmallGemm> gemm_small_config(const ir::Kernel &k);
std::optional<DType> gemm_mma_type(const ir::Kernel &k);
/** k's tile shapes; the first is "_gemm", the shape for large products. */
std::vector<GemmVariant> gemm_variants(const ir::Kernel &k);

/** Per param of k, the index variables of its dimensions as the kernel first accesses it
 * ("ii->i": in0 is {i, i}); empty for a param the kernel never accesses. */
std::vector<std::vector<std::string>> first_access_indices(const ir::Kernel &k);

} // namespace einfuse::passes
