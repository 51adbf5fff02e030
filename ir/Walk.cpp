#include "ir/Walk.h"

namespace einfuse::ir {

std::vector<Expr> children(const Expr &e) {
    struct Children {
        std::vector<Expr> operator()(const Const &) const { return {}; }
        std::vector<Expr> operator()(const Access &) const { return {}; }
        std::vector<Expr> operator()(const ScalarRef &) const { return {}; }
        std::vector<Expr> operator()(const Cast &n) const { return {n.value}; }
        std::vector<Expr> operator()(const Unary &n) const { return {n.a}; }
        std::vector<Expr> operator()(const Binary &n) const { return {n.a, n.b}; }
        std::vector<Expr> operator()(const Select &n) const { return {n.cond, n.a, n.b}; }
        std::vector<Expr> operator()(const Reduce &n) const { return {n.body}; }
    };
    return visit(e, Children{});
}

void for_each_access(const Expr &e, const std::function<void(const Access &)> &f) {
    if (const auto *a = e.as<Access>()) f(*a);
    for (const auto &c : children(e)) for_each_access(c, f);
}

Expr map_children(const Expr &e, const std::function<Expr(const Expr &)> &f) {
    std::vector<Expr> old = children(e), now;
    bool changed = false;
    for (const auto &c : old) {
        now.push_back(f(c));
        changed |= !now.back().same_as(c);
    }
    if (!changed) return e;
    struct Rebuild {
        const std::vector<Expr> &c;
        Expr operator()(const Const &) const { return Expr(); }
        Expr operator()(const Access &) const { return Expr(); }
        Expr operator()(const ScalarRef &) const { return Expr(); }
        Expr operator()(const Cast &n) const { return Cast::make(n.type, c[0]); }
        Expr operator()(const Unary &n) const { return Unary::make(n.op, c[0]); }
        Expr operator()(const Binary &n) const { return Binary::make(n.op, c[0], c[1]); }
        Expr operator()(const Select &) const { return Select::make(c[0], c[1], c[2]); }
        Expr operator()(const Reduce &n) const { return Reduce::make(n.out_vars, n.reduce_vars, n.op, c[0]); }
    };
    return visit(e, Rebuild{now});
}

} // namespace einfuse::ir
