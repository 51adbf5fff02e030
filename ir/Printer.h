#pragma once
// A stable text form of the IR. Tests pin it, EINFUSE_DEBUG=2 logs it, --emit plan shows it.
#include "ir/Kernel.h"

#include <string>

namespace einfuse::ir {

std::string to_string(const Expr &e);        // "sum[j](in0[b,i,j] * in1[b,j,k])"
std::string to_string(const Stmt &s, int indent = 0);
std::string to_string(const Program &p);
std::string to_string(const Kernel &k);

} // namespace einfuse::ir
