#include "passes/ChooseStrategy.h"

#include "support/Error.h"

namespace einfuse::passes {

StrategyChoice choose_strategy(const StrategyContext &ctx) {
    StrategyChoice choice;
    // Every strategy is asked, so that the plan gives each one's own reason where it has one
    // ("gemm: ... too small to tile") rather than only "an earlier one fits".
    for (const Strategy *s : strategies()) {
        std::string why;
        std::optional<Candidate> c = s->consider(ctx, &why);
        if (c && !choice.strategy) {
            choice.strategy = s;
            choice.candidate = std::move(*c);
            continue;
        }
        if (c) why = "a strategy earlier in the order of preference fits";
        choice.rejected.push_back(std::string(ir::strategy_name(s->kind())) + ": " + why);
    }
    EINFUSE_ASSERT(choice.strategy != nullptr, "the last strategy always fits");
    choice.strategy->complete(choice.candidate, ctx);
    return choice;
}

std::string to_string(const StrategyChoice &choice) {
    std::string out = std::string(ir::strategy_name(choice.strategy->kind()));
    const UnrollSchedule &u = choice.candidate.schedule;
    for (std::size_t i = 0; i < u.vars.size(); ++i) out += (i ? ", " : ": unroll ") + u.vars[i];
    if (!choice.candidate.detail.empty()) out += " (" + choice.candidate.detail + ")";
    for (const auto &r : choice.rejected) out += "\n  not " + r;
    return out;
}

ir::Kernel lower_chosen(const StrategyContext &ctx, StrategyChoice choice) {
    ir::Kernel k = lower_to_loops(ctx.program, ctx.index, choice.candidate.schedule, choice.candidate.long_sums);
    k.strategy = choice.strategy->kind();
    k.rejected = std::move(choice.rejected);
    k.strategy_detail = std::move(choice.candidate.detail);
    k.gemm = std::move(choice.candidate.gemm);
    return k;
}

ir::Kernel refine(ir::Kernel k, const StrategyContext &ctx) {
    for (const Strategy *s : strategies())
        if (s->kind() == k.strategy) {
            s->refine(k, ctx);
            return k;
        }
    throw InternalError("no registered strategy is " + std::string(ir::strategy_name(k.strategy)));
}

} // namespace einfuse::passes
