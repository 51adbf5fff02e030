#include "passes/GemmMatch.h"

#include "ir/Walk.h"

#include <algorithm>

namespace einfuse::passes {

namespace {

bool contains(const std::vector<std::string> &v, const std::string &x) {
    return std::find(v.begin(), v.end(), x) != v.end();
}

/** The Access under any Casts (f16 operands are read as Cast(f32, x[...])). */
const ir::Access *operand(const ir::Expr &e) {
    if (const auto *c = e.as<ir::Cast>()) return operand(c->value);
    return e.as<ir::Access>();
}

std::string join(const std::vector<std::string> &v) {
    std::string out;
    for (const auto &x : v) out += (out.empty() ? "" : ",") + x;
    return out.empty() ? "-" : out;
}

} // namespace

std::optional<GemmShape> match_gemm(const ir::Definition &d, std::string *why_not) {
    auto refuse = [&](std::string why) -> std::optional<GemmShape> {
        *why_not = std::move(why);
        return std::nullopt;
    };
    const auto *r = d.value.as<ir::Reduce>();
    if (!r || r->op != ir::ReduceOp::Sum) return refuse("not a sum");
    if (r->reduce_vars.empty())
        return refuse(ir::reduced_vars(r->body).empty() ? "nothing is contracted"
                                                        : "the sum is nested inside other arithmetic");
    const auto *mul = r->body.as<ir::Binary>();
    if (!mul || mul->op != ir::BinaryOp::Mul) return refuse("the summand is not a product of two tensors");
    const ir::Access *a = operand(mul->a), *b = operand(mul->b);
    if (!a || !b) return refuse("the summand is not a product of two tensor reads");
    for (const ir::Access *x : {a, b})
        for (const auto &v : x->indices)
            if (std::count(x->indices.begin(), x->indices.end(), v) > 1)
                return refuse(x->tensor + " is read on a diagonal of '" + v + "'");
    for (const auto &v : d.indices)
        if (!contains(a->indices, v) && !contains(b->indices, v))
            return refuse("the output index '" + v + "' is in neither operand (a broadcast of the result)");

    GemmShape g{a->tensor, b->tensor, {}, {}, {}, {}};
    for (const auto &v : d.indices) {
        bool in_a = contains(a->indices, v), in_b = contains(b->indices, v);
        (in_a && in_b ? g.batch : in_a ? g.m : g.n).push_back(v);
    }
    for (const auto &v : a->indices)
        if (!contains(d.indices, v)) {
            if (!contains(b->indices, v)) return refuse("'" + v + "' is summed over " + a->tensor + " alone");
            g.k.push_back(v);
        }
    for (const auto &v : b->indices)
        if (!contains(d.indices, v) && !contains(a->indices, v))
            return refuse("'" + v + "' is summed over " + b->tensor + " alone");
    if (g.k.empty()) return refuse("nothing is contracted between the two operands");
    return g;
}

std::string describe(const GemmShape &g) {
    return "batch " + join(g.batch) + ", M " + join(g.m) + ", N " + join(g.n) + ", K " + join(g.k) + " (A = " + g.a +
           ", B = " + g.b + ")";
}

} // namespace einfuse::passes
