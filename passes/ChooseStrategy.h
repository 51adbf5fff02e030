#pragma once
// Chooses how a definition is lowered: asks every registered strategy (passes/strategy/), in
// order of preference, and takes the first that offers a candidate; every other one is noted
// with its reason ("gemm: not a GEMM: ...") for --emit plan.
#include "passes/strategy/Strategy.h"

namespace einfuse::passes {

struct StrategyChoice {
    const Strategy *strategy = nullptr;
    Candidate candidate;
    std::vector<std::string> rejected; // "unrolled: index 'i' has extent 17, ..." per strategy not chosen
};

/** The choice for ctx's definition; decided before lowering, so the kernel is lowered once with
 * the candidate's schedule. */
StrategyChoice choose_strategy(const StrategyContext &ctx);

/** "unrolled: unroll i, j, k" and the reasons, for EINFUSE_PRINT_AFTER=choose_strategy. */
std::string to_string(const StrategyChoice &choice);

/** The kernel of ctx's definition, lowered once with the choice's schedule (lower_to_loops) and
 * carrying its strategy, reasons, detail and GEMM. */
ir::Kernel lower_chosen(const StrategyContext &ctx, StrategyChoice choice);

/** k refined by its strategy (Strategy::refine: GPU variants, who runs a GEMM). */
ir::Kernel refine(ir::Kernel k, const StrategyContext &ctx);

} // namespace einfuse::passes
