#pragma once
// Math functions written out in LLVM IR instead of called, so that they vectorise: LLVM has no
// vector exp without a vector math library, and a call per lane would cost more than the rest
// of a Gaussian kernel sum. The same instructions serve scalars and vectors, so a vector lane
// and the scalar tail loop give the same bits for the same input. Internal to backends/llvm/.
#include <functional>

namespace llvm {
class IRBuilderBase;
class Value;
} // namespace llvm

namespace einfuse::llvm_backend {

/** exp(x) for f32 or a vector of f32: Cephes' expf (range reduction by ln 2 in two parts, a
 * degree-5 polynomial), within 2 ulp of the exact value; +inf above 88.72, 0 below -103.97,
 * NaN stays NaN, results down to the denormals. */
llvm::Value *exp_f32(llvm::IRBuilderBase &b, llvm::Value *x);

/** f applied to each lane of a vector x (f gets and returns scalars), or to x itself. For the
 * rare op that has no vector form here (a libm call, an f16 conversion). */
llvm::Value *per_lane(llvm::IRBuilderBase &b, llvm::Value *x, const std::function<llvm::Value *(llvm::Value *)> &f);

} // namespace einfuse::llvm_backend
