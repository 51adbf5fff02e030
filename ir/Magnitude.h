#pragma once
// The scale a computed result's rounding errors grow with, for `--check` and Kernel::check. For
// an einsum it is the sum of the terms' magnitudes (the reference on |inputs|); a program of
// other functions needs each operation's sensitivity too: relu(W1 x) feeding W2 cancels, and a
// result near 0 says nothing about the error its terms could carry. magnitude_program pairs every
// definition with one that bounds, to first order, how far the exact value moves when each
// operation's inputs carry relative errors of their own magnitude:
//   x (an input)      |x|
//   a + b, a - b      m(a) + m(b)
//   a * b             m(a) m(b)                      (an einsum's sum |a b|, exactly)
//   a / b             m(a) / |b| + |a| m(b) / b^2
//   f(a)              |f'(a)| m(a) + |f(a)|          (relu, tanh: m(a) + |f(a)| at most)
//   sum, prod         of the terms' m;  max, min: the largest m
// Every m(e) >= |e|, so the scale never falls below the result; where a derivative is infinite
// (log, sqrt at 0) the scale is too, and ir::max_relative_error ignores it: that element is held
// to its own magnitude.
#include "ir/Program.h"

namespace einfuse::ir {

/** The suffix of a tensor's magnitude in magnitude_program: x -> x__mag. */
inline constexpr const char *kMagnitudeSuffix = "__mag";

/** A real program computing p's outputs' magnitudes (f64), as its outputs in p's order. Its
 * inputs are p's, then each input's magnitude (|x|, f64, the same rank: abs_copy). p must hold
 * no complex type. */
Program magnitude_program(const Program &p);

} // namespace einfuse::ir
