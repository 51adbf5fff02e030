#pragma once
// Generic traversals of expressions and loop nests, built on IRVisitor and IRMutator, so that
// passes which only look for one kind of node need not list every other kind.
#include "ir/Expr.h"
#include "ir/Stmt.h"

#include <functional>

namespace einfuse::ir {

/** The operands of e, in order (empty for leaves). */
std::vector<Expr> children(const Expr &e);

/** Calls f on every Access in e, depth first, left to right. */
void for_each_access(const Expr &e, const std::function<void(const Access &)> &f);

/** The variables every Reduce in e reduces over, outer reductions first ("sum[j](exp(-sum[d](..)))"
 * gives j, d). */
std::vector<std::string> reduced_vars(const Expr &e);

/** Calls f on every Reduce in e, outer reductions first. */
void for_each_reduce(const Expr &e, const std::function<void(const Reduce &)> &f);

/** Calls f(tensor, indices) for every tensor a loop nest reads or writes, in program order. */
void for_each_tensor_use(const Stmt &s, const std::function<void(const std::string &, const std::vector<Index> &)> &f);

/** The same with each index as its variable's name, for code that runs only on loop nests whose
 * every index is a plain variable (a pass checked non_var_index); InternalError otherwise. */
void for_each_tensor_var_use(const Stmt &s,
                             const std::function<void(const std::string &, const std::vector<std::string> &)> &f);

/** The first tensor use that is indexed by something other than a plain variable, as a reason a
 * strategy cannot take it ("x's index h + r is not a plain variable"); "" when there is none. */
std::string non_var_index(const Expr &e);
std::string non_var_index(const Stmt &s);

/** Calls f on every loop of a loop nest, outermost first. */
void for_each_loop(const Stmt &s, const std::function<void(const For &)> &f);

/** The operands of a tree of `op` (an associative one): a * b * c -> a, b, c; e itself when
 * it is not an `op`. */
std::vector<Expr> flatten(const Expr &e, BinaryOp op);

/** e with each child replaced by f(child); the very same node when nothing changed. */
Expr map_children(const Expr &e, const std::function<Expr(const Expr &)> &f);

} // namespace einfuse::ir
