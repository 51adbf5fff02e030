#pragma once
// A GEMM kernel's matrix product and what the passes decided about running it (ir::Kernel::gemm):
// its index groups and operands, the epilogue cuBLASLt can fuse, tensor cores, the small dense
// variant's shape, and who runs it on the host and on the GPU.
#include "ir/Program.h"
#include "ir/Target.h"

#include <optional>

namespace einfuse::ir {

/** The part of a GEMM's epilogue that cuBLASLt fuses itself:
 * out = relu?(alpha * acc + addend + bias). */
struct LibraryEpilogue {
    double alpha = 1;
    std::string addend;   // a tensor read at the output's own indices (cuBLASLt's C, beta 1): "+=", "A@B + C"
    std::string bias;     // a tensor read at one index of m or n, added to every row or column
    std::string bias_var; // that index
    bool relu = false;
};

/** The small dense batched GEMM variant ("_gemm_small"), as passes/GpuGemmShapes sized it for
 * the planned sizes and the target: M, N, K and every stride fixed (a [batch][M][K], b
 * [batch][K][N], all dense row-major, a and b 16-byte aligned; the launch rule checks), f32 or
 * f64. `elements` batch elements per block, each TM x TN per thread of (M / tm) * (N / tn)
 * threads; K walks bk at a time through two shared-memory stages; min_blocks for
 * __launch_bounds__, from the target's shared memory per SM. */
struct GemmSmall {
    int m, n, k, bk, elements, tm, tn, min_blocks;
    DType type;
    int threads() const { return elements * (m / tm) * (n / tn); }
    int shared_bytes() const; // both stages of a and b, static
};

/** A GEMM kernel's matrix product: out[batch, m, n] = epilogue(sum over k of a[batch, m, k] *
 * b[batch, k, n]). Each group lists index variables, in the order the output lists them (k: in
 * the order a does); several fold into one dimension when the tensors' strides allow it
 * ("ijk,ikl->jl" has k = {i, k}), and extent-1 ones drop out. The kernel's body keeps the plain
 * loop nest: any strides run there, and its statements after the reduction loop are the
 * epilogue (around_first_loop), which the emitted GEMM kernels print as they are. */
struct Gemm {
    std::string a, b; // the operands' tensor names
    std::vector<std::string> batch, m, n, k;
    std::optional<LibraryEpilogue> library; // the epilogue as cuBLASLt runs it, when it can
    std::string library_why_not;            // otherwise why not, for the plan
    bool allow_tf32 = false;                // f32 products may round their inputs to tf32
    std::optional<Extents> planned;         // every index variable's size, when planned with sizes
    // Decided for the GPU target by passes/GpuGemmShapes; the CUDA backend prints what they say.
    std::optional<DType> mma;               // tensor cores' input type (F32: tf32); none: CUDA cores
    std::optional<GemmSmall> small;         // the small dense variant, when the planned sizes fit it
    // Who runs it, decided by the passes (the plan says so; backends and executors obey). The
    // host: the packed GEMM for vectors of host_vector_bits, else the loop nest (passes/HostGemm).
    // The GPU: k.launch's order, cuBLASLt (where `library` is set) tried first with library_first
    // (--gemm cublaslt), else after the small dense variant.
    bool host_packed = false;
    int host_vector_bits = 0;
    int64_t host_a_block_bytes = 0; // the packed GEMM's A block (MC rows, K deep) at most this big
    bool library_first = false;
};

} // namespace einfuse::ir
