#include "ir/Program.h"

#include "ir/Walk.h"
#include "support/Error.h"

#include <algorithm>
#include <cstdlib>
#include <set>

namespace einfuse::ir {

const TensorInfo *Program::find_tensor(const std::string &name) const {
    for (const auto *list : {&inputs, &outputs, &temporaries})
        for (const auto &t : *list)
            if (t.name == name) return &t;
    return nullptr;
}

namespace {

/** Index coefficients and constants stay below 2^32, so that an index over sizes below 2^31
 * cannot overflow int64 when it is evaluated. */
constexpr int64_t kMaxIndexValue = int64_t{1} << 32;

/** Walks a definition's value, checking each node against the program's declarations. */
class Verifier {
public:
    explicit Verifier(const Program &p) : p_(p) {}

    void check(const Expr &e, const std::set<std::string> &bound) {
        EINFUSE_ASSERT(e.defined(), "undefined expression");
        visit(e, [&](const auto &n) { check_node(n, bound); });
    }

private:
    void check_node(const Const &, const std::set<std::string> &) {}
    void check_node(const ScalarRef &n, const std::set<std::string> &) {
        EINFUSE_ASSERT(false, "ScalarRef '" + n.name + "' outside a loop nest");
    }
    void check_node(const Access &n, const std::set<std::string> &bound) {
        const TensorInfo *t = p_.find_tensor(n.tensor);
        EINFUSE_ASSERT(t != nullptr, "access to undeclared tensor '" + n.tensor + "'");
        EINFUSE_ASSERT(static_cast<int>(n.indices.size()) == t->rank,
                       "tensor '" + n.tensor + "' has rank " + std::to_string(t->rank));
        EINFUSE_ASSERT(n.type == t->dtype, "access type differs from tensor '" + n.tensor + "'");
        for (const auto &index : n.indices) {
            for (const auto &t : index.terms()) {
                EINFUSE_ASSERT(bound.count(t.var), "index '" + t.var + "' is not bound here");
                EINFUSE_ASSERT(t.coeff != 0 && std::abs(t.coeff) <= kMaxIndexValue,
                               "coefficient " + std::to_string(t.coeff) + " of '" + t.var + "' in " + n.tensor + "'s index " +
                                   to_string(index) + " is out of range");
            }
            EINFUSE_ASSERT(std::abs(index.constant()) <= kMaxIndexValue,
                           "constant of " + n.tensor + "'s index " + to_string(index) + " is out of range");
        }
    }
    void check_node(const Cast &n, const std::set<std::string> &bound) { check(n.value, bound); }
    void check_node(const Unary &n, const std::set<std::string> &bound) { check(n.a, bound); }
    void check_node(const Select &n, const std::set<std::string> &bound) {
        check(n.cond, bound);
        check(n.a, bound);
        check(n.b, bound);
    }
    void check_node(const Binary &n, const std::set<std::string> &bound) {
        check(n.a, bound);
        check(n.b, bound);
    }
    void check_node(const Reduce &n, const std::set<std::string> &bound) {
        std::set<std::string> inner = bound;
        for (const auto &v : n.reduce_vars) {
            EINFUSE_ASSERT(!bound.count(v), "reduction variable '" + v + "' is already bound");
            inner.insert(v);
        }
        check(n.body, inner);
    }

    const Program &p_;
};

} // namespace

namespace {
bool expr_has_complex_type(const Expr &e) {
    if (is_complex(e.type())) return true;
    for (const auto &c : children(e))
        if (expr_has_complex_type(c)) return true;
    return false;
}
} // namespace

bool has_complex_type(const Program &p) {
    for (const auto *list : {&p.inputs, &p.outputs, &p.temporaries})
        for (const auto &t : *list)
            if (is_complex(t.dtype)) return true;
    for (const auto &d : p.definitions)
        if (expr_has_complex_type(d.value)) return true;
    return false;
}

void verify(const Program &p) {
    std::set<std::string> declared(p.index_vars.begin(), p.index_vars.end());
    EINFUSE_ASSERT(declared.size() == p.index_vars.size(), "an index variable is declared twice");
    for (const auto &d : p.definitions) {
        const TensorInfo *t = p.find_tensor(d.tensor);
        EINFUSE_ASSERT(t != nullptr, "definition of undeclared tensor '" + d.tensor + "'");
        EINFUSE_ASSERT(static_cast<int>(d.indices.size()) == t->rank, "definition of '" + d.tensor + "' has wrong rank");
        const auto *r = d.value.as<Reduce>();
        EINFUSE_ASSERT(r != nullptr, "a definition's value is a Reduce");
        EINFUSE_ASSERT(r->out_vars == d.indices, "the Reduce's out_vars are the definition's indices");
        std::set<std::string> seen;
        for (const auto &v : d.indices) {
            EINFUSE_ASSERT(declared.count(v), "undeclared index '" + v + "'");
            EINFUSE_ASSERT(seen.insert(v).second, "output index '" + v + "' repeated");
        }
        for (const auto &v : r->reduce_vars) EINFUSE_ASSERT(declared.count(v), "undeclared index '" + v + "'");
        Verifier(p).check(d.value, seen);
    }
}

} // namespace einfuse::ir
