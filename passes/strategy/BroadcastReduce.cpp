// broadcast-reduce: the general loop nest, parallel over the output with the reduction in
// registers and the whole elementwise chain fused in ("nc,nc->n", the Gaussian kernel sum). It
// always fits, so it closes the order of preference. On the GPU, the short loops inside the
// reduction are unrolled (sizes known) and the reduced operands are tiled through shared memory,
// the reduction split across blocks when the output is small (passes/GpuTiling).
#include "passes/strategy/Strategy.h"

#include "passes/GpuTiling.h"

namespace einfuse::passes {

namespace {

class BroadcastReduce : public Strategy {
  public:
    ir::Strategy kind() const override { return ir::Strategy::BroadcastReduce; }

    std::optional<Candidate> consider(const StrategyContext &ctx, std::string *) const override {
        Candidate c;
        if (ctx.gpu()) c.schedule = inner_unroll_schedule(ctx.definition(), ctx.sizes);
        return c;
    }

    /** The GPU: the tiling and split of the reduction, noted in the plan. */
    void refine(ir::Kernel &k, const StrategyContext &ctx) const override {
        if (!ctx.gpu()) return;
        std::string why_not;
        k.tiling = plan_gpu_tiling(k, ctx.sizes, &why_not);
        if (!k.tiling) {
            k.strategy_detail = "not tiled: " + why_not;
            return;
        }
        std::string tensors;
        for (const auto &t : k.tiling->tensors) tensors += (tensors.empty() ? "" : ", ") + t;
        k.strategy_detail = tensors + " tiled through shared memory along '" + k.tiling->reduce_var + "'" +
                            (k.tiling->combine ? ", the reduction split across blocks when the output is small"
                                               : "; not split: the loop does more than accumulate one value");
    }
};

} // namespace

const Strategy &broadcast_reduce_strategy() {
    static const BroadcastReduce s;
    return s;
}

} // namespace einfuse::passes
