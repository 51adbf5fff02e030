#pragma once
// Rewriting the IR (Halide style): a base whose visit() of each node, generated from the
// X-macros of Expr.h and Stmt.h, rebuilds that node from its mutated children and returns the
// very same node (`self`) when no child changed. A subclass overrides the nodes it rewrites:
//   struct DropCasts : IRMutator {
//       using IRMutator::visit;
//       Expr visit(const Cast &n, const Expr &) override { return mutate(n.value); }
//   };
#include "ir/Expr.h"
#include "ir/Stmt.h"

namespace einfuse::ir {

class IRMutator {
public:
    virtual ~IRMutator() = default;
    /** Calls the visit() of e's (or s's) own node type; undefined stays undefined. Virtual so
     * that a subclass can stop the descent (map_children applies its function to the children
     * only). */
    virtual Expr mutate(const Expr &e);
    virtual Stmt mutate(const Stmt &s);

protected:
    // `self` is the handle of the node being visited, returned as it is when nothing changes.
#define EINFUSE_DECLARE_EXPR(N) virtual Expr visit(const N &, const Expr &self);
#define EINFUSE_DECLARE_STMT(N) virtual Stmt visit(const N &, const Stmt &self);
    EINFUSE_EXPR_NODES(EINFUSE_DECLARE_EXPR)
    EINFUSE_STMT_NODES(EINFUSE_DECLARE_STMT)
#undef EINFUSE_DECLARE_EXPR
#undef EINFUSE_DECLARE_STMT
};

} // namespace einfuse::ir
