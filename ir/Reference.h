#pragma once
// The float64 reference interpreter: it defines what a program means. Every kernel einfuse
// emits is checked against it. It reads inputs of any dtype through their strides and returns
// contiguous f64 outputs; it computes by definition, element by element, so it is slow (a sum of
// three or more factors, an einsum's product, is contracted pairwise when that is cheaper, so
// that a chain of many matrices stays polynomial). An index
// expression that would leave its tensor (x[i + r] with x too short) is a UserError, found before
// any element is read.
#include "ir/Program.h"
#include "support/Tensor.h"

namespace einfuse::ir {

/** Evaluates p on inputs (in the order of p.inputs) with the given extents; returns the outputs
 * in the order of p.outputs, as contiguous f64 tensors. */
std::vector<Tensor> evaluate_reference(const Program &p, const std::vector<const Tensor *> &inputs,
                                       const Extents &extents);

/** The largest |got - want| / max(|want|, floor) over all elements, where floor keeps tiny
 * reference values from inflating the ratio. NaN agrees with NaN and an infinity with the same
 * infinity; either on one side only gives infinity. */
double max_relative_error(const Tensor &got, const Tensor &want, double floor = 1.0);

/** The same, relative to max(|want|, |scale|, floor) per element, where scale holds the sum of
 * the terms' magnitudes (sum_j |a_ij b_jk| for an einsum: evaluate_reference on the inputs'
 * absolute values, abs_copy). Rounding errors scale with it, not with a result that cancels:
 * |fl(sum x) - sum x| <= gamma_n sum |x| (Higham, 4.2). */
double max_relative_error(const Tensor &got, const Tensor &want, const Tensor &scale, double floor = 1.0);

/** t with every element replaced by its absolute value, as f64 (same shape and strides; host). */
Tensor abs_copy(const Tensor &t);

} // namespace einfuse::ir
