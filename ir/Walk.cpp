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

std::vector<std::string> reduced_vars(const Expr &e) {
    std::vector<std::string> vars;
    if (const auto *r = e.as<Reduce>()) vars = r->reduce_vars;
    for (const auto &c : children(e))
        for (auto &v : reduced_vars(c)) vars.push_back(std::move(v));
    return vars;
}

namespace {
/** The statements directly inside s, and the expressions s itself evaluates. */
void parts(const Stmt &s, std::vector<Stmt> &inner, std::vector<Expr> &exprs) {
    if (const auto *f = s.as<For>()) inner.push_back(f->body);
    else if (const auto *b = s.as<Block>()) inner = b->stmts;
    else if (const auto *st = s.as<Store>()) exprs.push_back(st->value);
    else if (const auto *d = s.as<DeclareScalar>()) exprs.push_back(d->init);
    else if (const auto *a = s.as<AssignScalar>()) exprs.push_back(a->value);
}
} // namespace

void for_each_tensor_use(const Stmt &s,
                         const std::function<void(const std::string &, const std::vector<std::string> &)> &f) {
    std::vector<Stmt> inner;
    std::vector<Expr> exprs;
    parts(s, inner, exprs);
    for (const auto &e : exprs) for_each_access(e, [&](const Access &a) { f(a.tensor, a.indices); });
    if (const auto *st = s.as<Store>()) f(st->tensor, st->indices);
    for (const auto &x : inner) for_each_tensor_use(x, f);
}

void for_each_loop(const Stmt &s, const std::function<void(const For &)> &f) {
    if (const auto *loop = s.as<For>()) f(*loop);
    std::vector<Stmt> inner;
    std::vector<Expr> exprs;
    parts(s, inner, exprs);
    for (const auto &x : inner) for_each_loop(x, f);
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

std::vector<Expr> flatten(const Expr &e, BinaryOp op) {
    const auto *b = e.as<Binary>();
    if (!b || b->op != op) return {e};
    std::vector<Expr> out = flatten(b->a, op);
    for (auto &x : flatten(b->b, op)) out.push_back(std::move(x));
    return out;
}

} // namespace einfuse::ir
