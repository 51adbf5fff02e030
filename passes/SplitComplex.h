#pragma once
// Complex arithmetic as real arithmetic on the parts, so that the strategies and both backends
// see only real types. A complex tensor x (c64) becomes two real tensors, x_re and x_im (f32):
// views of x's memory whose strides are doubled (in units of the part), x_im one part further
// on, so no copy is made (exec/ binds the views). Every complex expression becomes a pair of
// real ones; "ij,jk->ik" in c64,
//   out[i,k] = sum[j](in0[i,j] * in1[j,k])
// becomes
//   out_re[i,k] = sum[j](in0_re[i,j] * in1_re[j,k] - in0_im[i,j] * in1_im[j,k])
//   out_im[i,k] = sum[j](in0_re[i,j] * in1_im[j,k] + in0_im[i,j] * in1_re[j,k])
// Sums stay sums (so LongSums treats them as any f32/f64 sum); conj, real, imag, abs, exp, the
// four operations, == and != and where split by their definitions. It runs after
// order_contractions, so a product of many complex operands is split pairwise.
#include "ir/Program.h"
#include "passes/Sizes.h"

namespace einfuse::passes {

/** p with every complex tensor and value split into real parts, the split tensors recorded in
 * the result's complex_parts; p itself when it has none (and no conj, real or imag).
 *
 * A complex product of two complex tensors whose real parts make a GEMM big enough to tile (the
 * GEMM strategy's size rule with the GPU's K >= 16, or sizes unknown; the sizes read are recorded
 * as guards) is written as four real
 * products, so that the GEMM strategy runs each (the 4M form; two temporaries, the other two
 * products take them as their epilogue):
 *   out_ii[i,k] = sum[j](a_im * b_im);  out_re = sum[j](a_re * b_re) - out_ii
 *   out_ir[i,k] = sum[j](a_im * b_re);  out_im = sum[j](a_re * b_im) + out_ir
 * and a note says so. */
ir::Program split_complex(const ir::Program &p, const Sizes &sizes, std::vector<std::string> &notes);
/** The same with every complex product in the direct form (two real sums, no GEMM rewrite). */
ir::Program split_complex(const ir::Program &p);

/** Whether p has a complex tensor or value, or a conj, real or imag. */
bool has_complex(const ir::Program &p);

} // namespace einfuse::passes
