#include "passes/ChooseStrategy.h"

#include "ir/Walk.h"
#include "support/Error.h"

#include <functional>

#include <optional>

namespace einfuse::passes {

namespace {

using Strategy = ir::Strategy;

/** Each matcher returns nothing when the strategy fits, or the reason it does not. */
std::optional<std::string> why_not_elementwise(const ir::Reduce &r) {
    // Any reduction, at the top or nested inside the value, needs a loop per output element.
    std::vector<std::string> vars;
    std::function<void(const ir::Expr &)> walk = [&](const ir::Expr &e) {
        if (const auto *x = e.as<ir::Reduce>()) vars.insert(vars.end(), x->reduce_vars.begin(), x->reduce_vars.end());
        for (const auto &c : ir::children(e)) walk(c);
    };
    walk(r.body);
    vars.insert(vars.begin(), r.reduce_vars.begin(), r.reduce_vars.end());
    if (vars.empty()) return std::nullopt;
    std::string list;
    for (const auto &v : vars) list += (list.empty() ? "" : ",") + v;
    return "it reduces over " + list;
}

std::optional<std::string> why_not_unrolled(const ir::Reduce &) {
    return std::string("not implemented yet: needs extents fixed at compile time");
}

std::optional<std::string> why_not_gemm(const ir::Reduce &) {
    return std::string("not implemented yet: no GEMM lowering in this build");
}

} // namespace

ir::Kernel choose_strategy(ir::Kernel k, const ir::Program &p, std::size_t index) {
    const auto *r = p.definitions.at(index).value.as<ir::Reduce>();
    EINFUSE_ASSERT(r != nullptr, "a definition's value is a Reduce");

    // In order of preference; the first that fits wins, the others keep their reasons.
    // broadcast-reduce (the general loop nest) always fits, so it closes the list.
    struct Candidate {
        Strategy strategy;
        std::optional<std::string> why_not;
    };
    const Candidate candidates[] = {
        {Strategy::Elementwise, why_not_elementwise(*r)},
        {Strategy::Unrolled, why_not_unrolled(*r)},
        {Strategy::Gemm, why_not_gemm(*r)},
        {Strategy::BroadcastReduce, std::nullopt},
    };
    bool chosen = false;
    k.rejected.clear();
    for (const auto &c : candidates) {
        if (!chosen && !c.why_not) {
            k.strategy = c.strategy;
            chosen = true;
        } else {
            std::string why = c.why_not ? *c.why_not : "a strategy earlier in the order of preference fits";
            k.rejected.push_back(std::string(ir::strategy_name(c.strategy)) + ": " + why);
        }
    }
    return k;
}

} // namespace einfuse::passes
