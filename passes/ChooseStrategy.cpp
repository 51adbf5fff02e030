#include "passes/ChooseStrategy.h"

#include "support/Error.h"

#include <optional>

namespace einfuse::passes {

namespace {

using Strategy = ir::Strategy;

/** Each matcher returns nothing when the strategy fits, or the reason it does not. */
std::optional<std::string> why_not_elementwise(const ir::Reduce &r) {
    if (r.reduce_vars.empty()) return std::nullopt;
    std::string vars;
    for (const auto &v : r.reduce_vars) vars += (vars.empty() ? "" : ",") + v;
    return "it reduces over " + vars;
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
