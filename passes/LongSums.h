#pragma once
// How the long floating-point sums of a definition accumulate. A running sum of n terms has an
// error that grows with n, up to n ε of the sum of |terms| (2^25 f32 ones sum to 2^24); numpy
// sums pairwise, about log2(n) ε. Two ways do better, and which is cheaper depends on the target:
// - Wider: f32 terms added into an f64 accumulator, rounded once at the end: an error of
//   n 2^-53 of the sum of |terms| plus the final rounding, half an f32 ulp. One addition per
//   term, so a loop that waits on its accumulator (the host's sequential reductions) runs as
//   fast as before; on a GPU the conversion to f64 costs more than the term itself.
// - Compensated: Kahan's summation, each addition's rounding error carried into the next term:
//   about 2 ε of the sum of |terms| whatever n is, at three more additions per term. f64 sums
//   use it on both targets (no wider type to use). The GPU's tiled loop, where the term is
//   cheap enough for the step to show, applies it to blocks of 8 terms (passes/GpuTiling.h).
// Short sums (every loop of a known size, at most kLongSum terms) keep the running sum.
//
//   out[i] = sum[j](exp(-sum[d]((x[i,d] - y[j,d])^2)) * w[j]) at d=3, j=100000, f32:
//     host: {j, Wider}; GPU: {j, Compensated} (the sum over d has 3 terms)
#include "ir/Program.h"
#include "ir/Stmt.h"
#include "ir/Target.h"
#include "passes/Sizes.h"

#include <optional>
#include <string>
#include <vector>

namespace einfuse::passes {

/** At most this many terms, all counts known, and a sum keeps its running accumulator: its
 * error, below 16 ε, is already within numpy's (numpy adds up to 8 terms one after another). */
constexpr int64_t kLongSum = 16;

enum class SumMethod { Wider, Compensated };

/** A sum (the Reduce node itself: a variable may be reduced by two reductions of one
 * definition, as in "m[i] = max[j](a[i,j]); s[i] = sum[j](...)" fused) and how it accumulates. */
struct LongSum {
    const ir::Reduce *reduce;
    SumMethod method;
};

/** The floating-point sums in d's value that are long or of unknown length (sizes lacks one of
 * their variables), each with the method for `target`. lower_to_loops lowers them so. */
std::vector<LongSum> long_sums(const ir::Definition &d, const Sizes &sizes, const ir::Target &target);

/** The error term lower_to_loops declares for a compensated sum into `accumulator` (its name
 * is how passes/GpuTiling finds it among the loop's declarations). */
inline std::string compensation_name(const std::string &accumulator) { return accumulator + "_c"; }

/** A loop body that ends in lower_to_loops' compensated step: the statements before it, the
 * term it adds, and the step's four statements. */
struct CompensatedStep {
    std::vector<ir::Stmt> before;
    ir::Expr term;
    std::vector<ir::Stmt> step;
};
/** body as a CompensatedStep into `accumulator`, or nothing when it has another form. */
std::optional<CompensatedStep> compensated_step(const ir::Stmt &body, const std::string &accumulator);

/** "sum over 'j' in f64" / "Kahan-compensated sum over 'j'": for the plan. */
std::string describe(const LongSum &s);

} // namespace einfuse::passes
