#pragma once
// Recognises a matrix product inside a contraction: sum over K of A[...] * B[...], each index of
// the statement in exactly the roles a (batched) GEMM has. The first piece of GEMM lowering: the
// plan names the GEMM it sees, and the strategy pass says why it is not run as one yet.
#include "ir/Program.h"

#include <optional>
#include <string>
#include <vector>

namespace einfuse::passes {

/** The index variables of a GEMM C[batch, M, N] = sum[K] A[batch, M, K] * B[batch, K, N], each
 * group in the order the output (or A, for K) lists them; a group may hold several indices
 * ("ijk,ikl->jl" contracts i and k as one K). Either operand may list its indices in any order
 * (a transposed operand). */
struct GemmShape {
    std::string a, b; // the operands' tensor names
    std::vector<std::string> batch, m, n, k;
};

/** The GEMM that definition d computes, or nothing with the reason in *why_not. */
std::optional<GemmShape> match_gemm(const ir::Definition &d, std::string *why_not);

/** "batch b, M i, N k, K j" for the plan. */
std::string describe(const GemmShape &g);

} // namespace einfuse::passes
