#pragma once
// A GEMM kernel (ir::Gemm with a library epilogue) on given device tensors as cuBLASLt calls.
// Each index group folds into one dimension when the strides allow it; the output's unit-stride
// dimension becomes cuBLASLt's rows (column-major), so a row-major product runs as its transpose;
// an operand stored the other way round is read transposed. A batch group that does not fold
// runs as a loop of calls over its outer indices, a K group as calls that accumulate into the
// output. Nothing is copied: a broadcast operand is a batch stride of 0 or part of M or N.
#include "exec/KernelArgs.h"
#include "runtime/CublasLt.h"

#include <optional>

namespace einfuse {

/** One cuBLASLt call with its device pointers (c and bias are 0 when unread). */
struct LibraryCall {
    std::shared_ptr<const LtMatmul> matmul;
    std::uint64_t a = 0, b = 0, c = 0, d = 0, bias = 0;
};

/** The calls that compute kernel k (k.gemm->library set) from params at `address` (by param,
 * in k.params order) with `args`, or nothing with *why_not when its layout does not map onto
 * cuBLASLt (then the emitted kernel runs). Throws TargetError when cuBLASLt has no algorithm. */
std::optional<std::vector<LibraryCall>> plan_library_gemm(const ir::Kernel &k, const std::vector<std::uint64_t> &address,
                                                          const KernelArgs &args, std::string *why_not);

} // namespace einfuse
