#include "ir/Walk.h"

#include "ir/IRMutator.h"
#include "ir/IRVisitor.h"

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

namespace {

/** Hands every Access (and, with on_store, every Store) to callbacks, in program order. */
class Uses : public IRVisitor {
public:
    std::function<void(const Access &)> on_access;
    std::function<void(const Store &)> on_store;
    std::function<void(const For &)> on_loop;
    std::function<void(const Reduce &)> on_reduce;

    using IRVisitor::visit;
    void visit(const Access &n) override {
        if (on_access) on_access(n);
        IRVisitor::visit(n);
    }
    void visit(const Store &n) override {
        IRVisitor::visit(n); // the value is read before the store writes
        if (on_store) on_store(n);
    }
    void visit(const For &n) override {
        if (on_loop) on_loop(n);
        IRVisitor::visit(n);
    }
    void visit(const Reduce &n) override {
        if (on_reduce) on_reduce(n);
        IRVisitor::visit(n);
    }
};

} // namespace

void for_each_access(const Expr &e, const std::function<void(const Access &)> &f) {
    Uses u;
    u.on_access = f;
    u.walk(e);
}

std::vector<std::string> reduced_vars(const Expr &e) {
    std::vector<std::string> vars;
    for_each_reduce(e, [&](const Reduce &r) { vars.insert(vars.end(), r.reduce_vars.begin(), r.reduce_vars.end()); });
    return vars;
}

void for_each_reduce(const Expr &e, const std::function<void(const Reduce &)> &f) {
    Uses u;
    u.on_reduce = f;
    u.walk(e);
}

void for_each_tensor_use(const Stmt &s, const std::function<void(const std::string &, const std::vector<Index> &)> &f) {
    Uses u;
    u.on_access = [&](const Access &a) { f(a.tensor, a.indices); };
    u.on_store = [&](const Store &st) { f(st.tensor, st.indices); };
    u.walk(s);
}

void for_each_tensor_var_use(const Stmt &s,
                             const std::function<void(const std::string &, const std::vector<std::string> &)> &f) {
    for_each_tensor_use(s, [&](const std::string &t, const std::vector<Index> &idx) { f(t, expect_vars(t, idx)); });
}

namespace {
template <class Node> std::string first_non_var(const Node &n) {
    std::string why;
    Uses u;
    auto check = [&](const std::string &t, const std::vector<Index> &idx) {
        if (why.empty()) plain_vars(t, idx, &why);
    };
    u.on_access = [&](const Access &a) { check(a.tensor, a.indices); };
    u.on_store = [&](const Store &st) { check(st.tensor, st.indices); };
    u.walk(n);
    return why;
}
} // namespace

std::string non_var_index(const Expr &e) { return first_non_var(e); }
std::string non_var_index(const Stmt &s) { return first_non_var(s); }

void for_each_loop(const Stmt &s, const std::function<void(const For &)> &f) {
    Uses u;
    u.on_loop = f;
    u.walk(s);
}

Expr map_children(const Expr &e, const std::function<Expr(const Expr &)> &f) {
    /** Rebuilds the root from f of its children: the mutator's descent stops one level down. */
    class ChildMap : public IRMutator {
    public:
        explicit ChildMap(const std::function<Expr(const Expr &)> &f) : f_(f) {}
        using IRMutator::mutate;
        Expr mutate(const Expr &x) override {
            if (!at_root_) return f_(x);
            at_root_ = false;
            return IRMutator::mutate(x);
        }

    private:
        const std::function<Expr(const Expr &)> &f_;
        bool at_root_ = true;
    };
    return ChildMap(f).mutate(e);
}

std::vector<Expr> flatten(const Expr &e, BinaryOp op) {
    const auto *b = e.as<Binary>();
    if (!b || b->op != op) return {e};
    std::vector<Expr> out = flatten(b->a, op);
    for (auto &x : flatten(b->b, op)) out.push_back(std::move(x));
    return out;
}

} // namespace einfuse::ir
