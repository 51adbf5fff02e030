#pragma once
// Builds the loop nest of one definition: parallel loops over the output's indices, then a
// register accumulator and serial loops over the reduced ones.
#include "ir/Kernel.h"

namespace einfuse::passes {

/** The kernel computing p.definitions[index]; its strategy fields are left for
 * choose_strategy. */
ir::Kernel lower_to_loops(const ir::Program &p, std::size_t index);

} // namespace einfuse::passes
