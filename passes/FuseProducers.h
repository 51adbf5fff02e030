#pragma once
// Fuses each intermediate tensor into the statements that read it, so it is never written to
// memory, wherever that costs no recomputation; materialises it otherwise and says why.
//
// Before: C[b,i,k] = sum[j](A[b,i,j] * B[b,j,k]);  D[b,i,k] = relu(C[b,i,k] + bias[k])
// After:  D[b,i,k] = relu(sum[j](A[b,i,j] * B[b,j,k]) + bias[k])          (C: epilogue-fused)
//
// Before: R[i,j] = relu(A[i,j]);  C[i,k] = R[i,j] * B[j,k]
// After:  C[i,k] = sum[j](relu(A[i,j]) * B[j,k])        (R: a prologue, applied as A is loaded)
//
// Before: m[i] = max[j](S[i,j]);  e[i,j] = exp(S[i,j] - m[i])
// After:  unchanged: e's loop over j would recompute m[i]'s reduction for every j.
#include "ir/Program.h"

#include <string>
#include <vector>

namespace einfuse::passes {

/** `notes` receives one line per intermediate: fused into whom, or materialised and why. */
ir::Program fuse_producers(const ir::Program &p, std::vector<std::string> &notes);

} // namespace einfuse::passes
