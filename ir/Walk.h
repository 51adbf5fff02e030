#pragma once
// Generic traversals of expressions, so that passes which only look for one kind of node need
// not list every other kind.
#include "ir/Expr.h"

#include <functional>

namespace einfuse::ir {

/** The operands of e, in order (empty for leaves). */
std::vector<Expr> children(const Expr &e);

/** Calls f on every Access in e, depth first, left to right. */
void for_each_access(const Expr &e, const std::function<void(const Access &)> &f);

/** e with each child replaced by f(child); the very same node when nothing changed. */
Expr map_children(const Expr &e, const std::function<Expr(const Expr &)> &f);

} // namespace einfuse::ir
