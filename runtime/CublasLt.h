#pragma once
// cuBLASLt, loaded from libcublasLt.so.13 at first use and never linked: the library is 540 MB,
// and einfuse binaries must start on machines without CUDA. Knows nothing of the IR: one
// column-major (strided-batched) product D = act(alpha * op(A) op(B) + beta * C + bias) with
// cuBLASLt's fused epilogue, planned once (descriptors and the heuristic's algorithm) and run
// many times.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace einfuse {

/** Whether cuBLASLt can be loaded; if not, *why_not says why. EINFUSE_CUBLASLT names the library
 * file when it is not on the loader's path. */
bool cublaslt_available(std::string *why_not = nullptr);

/** Element types cuBLASLt multiplies; f16 and bf16 accumulate in f32. */
enum class LtType { F16, BF16, F32, F64 };

/** A stored matrix: column-major with leading dimension `ld` (elements between columns),
 * `batch_stride` elements between consecutive batch items (0: one matrix shared by all). With
 * `transposed` the product reads it as its transpose (op(X) = X^T). */
struct LtMatrix {
    int64_t ld = 1, batch_stride = 0;
    bool transposed = false;
    int alignment = 256; // bytes the data pointer is aligned to (a power of two, at most 256)
};

/** D (m x n) = act(alpha * op(A) (m x k) * op(B) (k x n) + C + bias[row]) for `batch` items. */
struct LtProblem {
    LtType type = LtType::F32;
    bool tf32 = false; // f32 inputs may be rounded to tf32 (tensor cores)
    int64_t m = 0, n = 0, k = 0, batch = 1;
    LtMatrix a, b, c, d;
    double alpha = 1;
    bool add_c = false; // beta = 1 with C, else beta = 0 (C unread)
    bool bias = false;  // a contiguous vector of m elements of D's type, shared by every batch item
    bool relu = false;
};

/** Device memory cuBLASLt may use as workspace (its recommendation for Hopper). */
constexpr std::size_t kLtWorkspaceBytes = 32u << 20;

class LtMatmul {
public:
    /** Plans the product; throws TargetError when cuBLASLt is missing or offers no algorithm. */
    explicit LtMatmul(const LtProblem &problem);
    ~LtMatmul();
    LtMatmul(const LtMatmul &) = delete;
    LtMatmul &operator=(const LtMatmul &) = delete;

    /** Queues the product on `stream` (a CUstream). Pointers are device addresses; c and bias
     * are ignored unless the problem reads them. */
    void run(std::uint64_t a, std::uint64_t b, std::uint64_t c, std::uint64_t d, std::uint64_t bias,
             std::uint64_t workspace, void *stream) const;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

/** The largest power of two (at most 256) that divides `address`: cuBLASLt picks kernels by the
 * alignment its pointers promise. */
int lt_alignment(std::uint64_t address);

} // namespace einfuse
