#pragma once
// Recognises a matrix product inside a contraction: out = epilogue(sum over K of A[...] * B[...]),
// each index of the product in exactly the roles a (batched) GEMM has, and the elementwise work
// around the sum (bias, relu, scaling, "+=") as the epilogue. Also says which part of that
// epilogue cuBLASLt can fuse itself.
#include "ir/Kernel.h"

#include <optional>
#include <string>

namespace einfuse::passes {

/** The GEMM that definition d of p computes (ir::Gemm's groups, operands and library epilogue),
 * or nothing with the reason in *why_not. Either operand may list its indices in any order (a
 * transposed operand); an operand without a batch index folds it into M or N. */
std::optional<ir::Gemm> match_gemm(const ir::Program &p, const ir::Definition &d, std::string *why_not);

/** "batch b, M i, N k, K j (A = in0, B = in1)" for the plan. */
std::string describe(const ir::Gemm &g);

} // namespace einfuse::passes
