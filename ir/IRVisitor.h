#pragma once
// Walking the IR (Halide style): a base whose visit() of each node, generated from the X-macros
// of Expr.h and Stmt.h, visits that node's children. A subclass overrides the nodes it cares
// about and calls the base's visit() where it wants to keep walking below them:
//   struct CountReads : IRVisitor {
//       int reads = 0;
//       using IRVisitor::visit;
//       void visit(const Access &) override { ++reads; }
//   };
#include "ir/Expr.h"
#include "ir/Stmt.h"

namespace einfuse::ir {

/** Visits every node below what walk() is given, depth first: operands left to right, then
 * statements in program order (a Store's value before the Store itself). */
class IRVisitor {
public:
    virtual ~IRVisitor() = default;
    /** Calls the visit() of e's (or s's) own node type. Virtual, so that a subclass can see every
     * expression's handle on the way down (its type, or to compare identity). */
    virtual void walk(const Expr &e);
    virtual void walk(const Stmt &s);

protected:
#define EINFUSE_DECLARE(N) virtual void visit(const N &);
    EINFUSE_EXPR_NODES(EINFUSE_DECLARE)
    EINFUSE_STMT_NODES(EINFUSE_DECLARE)
#undef EINFUSE_DECLARE
};

} // namespace einfuse::ir
