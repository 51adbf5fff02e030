#include "passes/Simplify.h"

#include "ir/Walk.h"

#include <functional>
#include <optional>

namespace einfuse::passes {

namespace {

using Rule = std::function<std::optional<ir::Expr>(const ir::Expr &)>;

/** b of a ^ b when b is the literal `value`. */
const ir::Binary *power_of(const ir::Expr &e, double value) {
    const auto *b = e.as<ir::Binary>();
    if (!b || b->op != ir::BinaryOp::Pow) return nullptr;
    const auto *c = b->b.as<ir::Const>();
    return c && c->value == value ? b : nullptr;
}

const Rule kRules[] = {
    [](const ir::Expr &e) -> std::optional<ir::Expr> {
        if (const auto *b = power_of(e, 2)) return ir::Binary::make(ir::BinaryOp::Mul, b->a, b->a);
        return std::nullopt;
    },
    [](const ir::Expr &e) -> std::optional<ir::Expr> {
        if (const auto *b = power_of(e, 1)) return b->a;
        return std::nullopt;
    },
};

ir::Expr rewrite(const ir::Expr &e) {
    ir::Expr x = ir::map_children(e, rewrite);
    for (const auto &rule : kRules)
        if (auto r = rule(x)) return rewrite(*r);
    return x;
}

} // namespace

ir::Program simplify(const ir::Program &p) {
    ir::Program q = p;
    for (auto &d : q.definitions) d.value = rewrite(d.value);
    return q;
}

} // namespace einfuse::passes
