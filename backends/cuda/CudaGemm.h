#pragma once
// The emitted tiled GEMM kernels of a kernel with k.gemm: their tile configurations, the rule
// that picks one per launch, and the printers. Internal to this folder; the runtime's view is in
// CudaPrinter.h (cuda_gemm_kernel_name, cuda_gemm_launch_config).
#include "backends/cuda/CudaInternal.h"

#include <set>
#include <string>
#include <vector>

namespace einfuse::cuda_backend::detail {

/** One compiled tile shape, a kernel `<name><suffix>`. SIMT (CUDA cores): BM x BN per block of
 * (BM / TM) * (BN / TN) threads, TM x TN outputs per thread. MMA (tensor cores): WM x WN warps.
 * K walks through shared memory BK at a time. Why these shapes:
 *  - "_gemm" 128x128x16, 8x8 per thread (f32, i32): the classic register-blocked SGEMM; 64
 *    accumulators and 16 shared reads per 64 FMAs. f64 and i64 use 64x64x16, 4x4: the same
 *    register budget for 8-byte values.
 *  - "_gemm_m64" 64x64x64, 8x2 per thread, 256 threads: a whole D=64 matrix (or a 64-wide slice
 *    of a skinny GEMM) per block, K=64 in one chunk, so a batched D=64 product copies each
 *    matrix once, 16-byte loads, in one round trip; 34 KB of static shared memory.
 *  - "_gemm_m32" 32x32x32, 4x1 per thread, 256 threads: the same for D=32 (9 KB of shared
 *    memory, up to 8 blocks per SM, one 16-byte load per operand per thread).
 *    Both have a warp's 32 threads on 32 neighbouring columns: per k, a warp reads its rows of A
 *    as 16-byte broadcasts and its B values as one 128-byte line per column (2 and 4 shared-
 *    memory wavefronts per k for 4 and 16 FMAs; 2x2 and 4x4 took 3 and 5), and stores 128
 *    contiguous bytes per output row. The small shapes are bandwidth targets: shared-memory
 *    wavefronts, not FMAs, would otherwise bound them.
 *  - MMA "_gemm" 128x128x32 (f16, bf16; tf32 x16), 8 warps of 64x32; "_gemm_m64" 64x64, 4 warps
 *    of 32x32 for small or skinny products.
 * stages 2 (double buffering) where K takes several chunks and two buffers stay under 48 KB;
 * the D=32 and D=64 shapes have K in one chunk, and _gemm_m64 in f32 would need 70 KB.
 * All shared memory is static and under 48 KB: no dynamic shared memory, no driver change.
 * min_blocks: without it ptxas spends registers freely (the D=32 kernel took 128 registers to
 * hoist every shared-memory read of its unrolled K loop, leaving 2 blocks per SM); the
 * bandwidth-bound small shapes need many blocks in flight, so _m32 asks for 8 (32 registers),
 * _m64 for 4, the 128x128 tiles for 2 (128 registers, 64 of them accumulators). */
struct GemmVariant {
    const char *suffix;
    bool mma;
    int bm, bn, bk, tm, tn; // mma: tm, tn are the warps along M and N
    int min_blocks;         // __launch_bounds__'s blocks per SM: caps registers at 64K / (threads * this)
    int stages;             // shared-memory buffers: 2 overlaps the next chunk's loads with this one's math
    int threads() const { return mma ? tm * tn * 32 : (bm / tm) * (bn / tn); }
};

/** The rule, printed into the launcher and computed by cuda_gemm_launch_config:
 *  M, N <= 32 and a _m32 variant: _m32; else min(M, N) <= 64, or too few 128x128 tiles to give
 *  every SM one (kMinLargeTiles, an H100/H200 has 132 SMs): _m64 when there is one; else _gemm.
 *  Then grid = min(tiles, kMaxGrid): blocks stride over the tiles. */
constexpr int64_t kMinLargeTiles = 132;

/** The small dense batched GEMM, "_gemm_small" (CudaGemmSmall.cpp): M, N, K and every stride
 * of a, b and the outputs fixed at the planned sizes (a [batch][M][K], b [batch][K][N], all
 * dense row-major, a and b 16-byte aligned; the launcher checks), f32 or f64 without tensor
 * cores, M, N, K <= kSmallMaxDim. `elements` batch elements per block, each TM x TN per thread
 * of (M / tm) * (N / tn) threads; K walks bk at a time through two shared-memory stages. */
struct SmallGemm {
    int m, n, k, bk, elements, tm, tn, min_blocks;
    DType type;
    int threads() const { return elements * (m / tm) * (n / tn); }
    int shared_bytes() const; // both stages of a and b, static
};
constexpr int kSmallMaxDim = 64;              // K <= 64 is fully unrolled, a chunk at a time
constexpr int kSmallTargetThreads = 256;      // batch elements per block: up to this many threads
constexpr int kSmallSharedBytes = 48 * 1024;  // static shared memory only
constexpr int kSmallSmShared = 228 * 1024;    // an H100/H200 SM's shared memory, for blocks per SM
constexpr int kSmallSms = 132;                // H100/H200 SMs: the grid is one wave of resident blocks
/** Below two warps per batch element the variant loses to cuBLASLt (H200, ~268 MB batched:
 * D=24, 36 threads per element, 213 us against 126; D=32, 48, 64 with 64, 144, 256 threads:
 * 81, 100, 109 us against 105, 146, 112). */
constexpr int kSmallMinThreadsPerElement = 64;
/** k's small variant, or nothing (with the reason) when k does not fit it. */
std::optional<SmallGemm> gemm_small_config(const ir::Kernel &k, std::string *why_not = nullptr);
/** The device template of the small variant, printed once per file when a kernel has one. */
std::string gemm_small_library();
/** The `extern "C" __global__` of k's small variant (k has one). */
std::string print_gemm_small_kernel(const ir::Kernel &k, const KernelNames &names);
/** Launcher lines: when sizes, density and alignment fit, launch the small variant and return. */
std::string print_gemm_small_launch(const ir::Kernel &k, const std::string &args);
/** The lambdas gemm_update (CUDA cores' multiply-add) and gemm_epilogue of k, as every GEMM
 * kernel prints them (CudaGemm.cpp). */
std::string print_gemm_lambdas(const ir::Kernel &k, const KernelNames &names);

/** The mma path's input type (F16, BF16, or F32 for tf32), or nothing: SIMT. */
std::optional<DType> gemm_mma_type(const ir::Kernel &k);
std::vector<GemmVariant> gemm_variants(const ir::Kernel &k);
/** Index into gemm_variants(k) for a launch with these group sizes. */
std::size_t choose_gemm_variant(const std::vector<GemmVariant> &v, int64_t batch, int64_t m, int64_t n);

/** The templates every GEMM kernel uses (CudaGemmDevice.cpp); the mma part only when some kernel
 * uses tensor cores, with the 16-bit instructions of `mma_types`; 16-bit helpers for the f16
 * and bf16 of `types` (the file's element types, whose headers the prelude includes). */
std::string gemm_device_library(bool mma, const std::set<DType> &mma_types, const std::set<DType> &types);
/** k's GEMM kernels: a device template with the kernel's addressing, arithmetic and epilogue,
 * and one `extern "C" __global__` per variant. */
std::string print_gemm_kernels(const ir::Kernel &k, const KernelNames &names);
/** Launcher lines that pick a variant by the rule and launch it, and return. */
std::string print_gemm_launch(const ir::Kernel &k, const std::vector<std::string> &args);

} // namespace einfuse::cuda_backend::detail
