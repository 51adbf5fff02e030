#pragma once
// Algebraic cleanups that make kernels cheaper without changing results, as a table of rules.
//   x ^ 2 -> x * x        (pow is a libm call; the product is one instruction and exact)
//   x ^ 1 -> x
#include "ir/Program.h"

namespace einfuse::passes {

ir::Program simplify(const ir::Program &p);

} // namespace einfuse::passes
