#include "ir/IRMutator.h"

namespace einfuse::ir {

Expr IRMutator::mutate(const Expr &e) {
    if (!e.defined()) return e;
    return ir::visit(e, [&](const auto &n) { return visit(n, e); });
}

Stmt IRMutator::mutate(const Stmt &s) {
    if (!s.defined()) return s;
    return ir::visit(s, [&](const auto &n) { return visit(n, s); });
}

Expr IRMutator::visit(const Const &, const Expr &self) { return self; }
Expr IRMutator::visit(const Access &, const Expr &self) { return self; }
Expr IRMutator::visit(const ScalarRef &, const Expr &self) { return self; }

Expr IRMutator::visit(const Cast &n, const Expr &self) {
    Expr v = mutate(n.value);
    return v.same_as(n.value) ? self : Cast::make(n.type, v);
}

Expr IRMutator::visit(const Unary &n, const Expr &self) {
    Expr a = mutate(n.a);
    return a.same_as(n.a) ? self : Unary::make(n.op, a);
}

Expr IRMutator::visit(const Binary &n, const Expr &self) {
    Expr a = mutate(n.a), b = mutate(n.b);
    return a.same_as(n.a) && b.same_as(n.b) ? self : Binary::make(n.op, a, b);
}

Expr IRMutator::visit(const Select &n, const Expr &self) {
    Expr c = mutate(n.cond), a = mutate(n.a), b = mutate(n.b);
    return c.same_as(n.cond) && a.same_as(n.a) && b.same_as(n.b) ? self : Select::make(c, a, b);
}

Expr IRMutator::visit(const Reduce &n, const Expr &self) {
    Expr body = mutate(n.body);
    return body.same_as(n.body) ? self : Reduce::make(n.out_vars, n.reduce_vars, n.op, body);
}

Stmt IRMutator::visit(const For &n, const Stmt &self) {
    Stmt body = mutate(n.body);
    return body.same_as(n.body) ? self : For::make(n.var, n.loop_kind, body, n.fixed_extent);
}

Stmt IRMutator::visit(const Block &n, const Stmt &self) {
    std::vector<Stmt> stmts;
    bool changed = false;
    for (const auto &s : n.stmts) {
        stmts.push_back(mutate(s));
        changed |= !stmts.back().same_as(s);
    }
    return changed ? Block::make(std::move(stmts)) : self;
}

Stmt IRMutator::visit(const Store &n, const Stmt &self) {
    Expr v = mutate(n.value);
    return v.same_as(n.value) ? self : Store::make(n.tensor, n.indices, v);
}

Stmt IRMutator::visit(const DeclareScalar &n, const Stmt &self) {
    Expr init = mutate(n.init);
    return init.same_as(n.init) ? self : DeclareScalar::make(n.name, n.type, init);
}

Stmt IRMutator::visit(const AssignScalar &n, const Stmt &self) {
    Expr v = mutate(n.value);
    return v.same_as(n.value) ? self : AssignScalar::make(n.name, v);
}

} // namespace einfuse::ir
