// broadcast-reduce: the general loop nest, parallel over the output with the reduction in
// registers and the whole elementwise chain fused in ("nc,nc->n", the Gaussian kernel sum). It
// always fits, so it closes the order of preference. On the GPU, the short loops inside the
// reduction are unrolled (sizes known) and the reduced operands are tiled through shared memory,
// the reduction split across blocks when the output is small (passes/GpuTiling).
#include "passes/strategy/Strategy.h"

#include "passes/LongSums.h"
#include "passes/GpuTiling.h"
#include "ir/Walk.h"

#include <algorithm>

namespace einfuse::passes {

namespace {

/** The host: the variables of reductions nested inside the summand whose sizes are known and
 * at most kMaxUnrolledExtent ("sum[d]" at d=3 in the Gaussian sum), unrolled. The lane loop
 * over i then reads x[i,0], x[i,1], x[i,2]: loop-invariant in j, hoisted out of it, one gather
 * each per 16 values of i instead of three per (i, j) step. The definition's own reduced
 * variables keep their loops (unrolling "sum[f,h,j,m,k]" of 360 terms would only cost compile
 * time). */
UnrollSchedule host_inner_unroll(const ir::Definition &d, const Sizes &sizes) {
    UnrollSchedule schedule;
    const auto *top = d.value.as<ir::Reduce>();
    if (!top) return schedule;
    ir::for_each_reduce(top->body, [&](const ir::Reduce &r) {
        for (const auto &v : r.reduce_vars) {
            bool top_var = std::find(top->reduce_vars.begin(), top->reduce_vars.end(), v) != top->reduce_vars.end();
            if (top_var || schedule.extents.count(v)) continue;
            std::optional<int64_t> n = sizes.exact_up_to(v, kMaxUnrolledExtent); // baked into the code
            if (!n) continue;
            schedule.vars.push_back(v);
            schedule.extents[v] = *n;
        }
    });
    // Output variables of at most kSmallOutput (product), when a long one stays innermost among
    // the parallel loops: the lanes run across that one, not across 3 values that fill 3 of 16.
    // "s0[l,o,n] = sum[m](in0[l,m,n] * in1[l,m,n,o])" (o=3, n=120): lanes over n, the loop
    // over o inside them, so each lane vector of in0 is read from memory once, not once per o.
    // Likewise when the definition's own sum is long: passes/ReductionLanes may run the lanes
    // along it with the small variables as rows. "s0[l,m,o] = sum[n](in0[l,m,n] * in1[l,m,n,o])"
    // at l=m=10, n=30720: 51 ms with the lanes across o (gathered), 3.6 with o unrolled.
    constexpr int64_t kSmallOutput = 4, kLongLanes = 16;
    // One output variable has no other to run the lanes across: its size is not read, so that
    // it stays free in the plan's shape class (the Gaussian sum's i, whatever it is).
    if (d.indices.size() < 2) return schedule;
    // Innermost first: the last dimensions are the ones a row of lanes reads side by side
    // (at l=2, m=3, o=3 it is o, the stride-3 read ReductionLanes deinterleaves, not l).
    std::vector<std::string> small, rest;
    ir::Extents small_sizes;
    int64_t product = 1;
    for (auto it = d.indices.rbegin(); it != d.indices.rend(); ++it) {
        std::optional<int64_t> n = sizes.exact_up_to(*it, kSmallOutput / product);
        (n ? small : rest).push_back(*it);
        if (n) product *= std::max<int64_t>(*n, 1), small_sizes[*it] = *n;
    }
    std::reverse(small.begin(), small.end());
    std::reverse(rest.begin(), rest.end());
    auto long_one = [&](const std::string &v) { return sizes.known(v) && sizes.at_least({v}, kLongLanes); };
    if (!small.empty() && !rest.empty() &&
        (long_one(rest.back()) || std::any_of(top->reduce_vars.begin(), top->reduce_vars.end(), long_one)))
        for (const auto &v : small) {
            schedule.vars.push_back(v);
            schedule.extents[v] = small_sizes.at(v);
        }
    return schedule;
}

class BroadcastReduce : public Strategy {
  public:
    ir::Strategy kind() const override { return ir::Strategy::BroadcastReduce; }

    /** This is the loop nest that takes reductions of any length, fused over several operands
     * ("abc,cfd,dbe,efa->" sums 64M terms in one nest): its long sums accumulate accurately. */
    std::optional<Candidate> consider(const StrategyContext &, std::string *) const override { return Candidate{}; }

    /** It always fits, so everything size-dependent is detail, read only once it is chosen. */
    void complete(Candidate &c, const StrategyContext &ctx) const override {
        c.schedule = ctx.gpu() ? inner_unroll_schedule(ctx.definition(), ctx.sizes)
                               : host_inner_unroll(ctx.definition(), ctx.sizes);
        c.long_sums = long_sums(ctx.definition(), ctx.sizes, ctx.options.target);
        for (const auto &s : c.long_sums) c.detail += (c.detail.empty() ? "" : ", ") + describe(s);
    }

    /** The GPU: the tiling and split of the reduction, noted in the plan. */
    void refine(ir::Kernel &k, const StrategyContext &ctx) const override {
        if (!ctx.gpu()) return;
        std::string why_not;
        k.tiling = plan_gpu_tiling(k, ctx.sizes, &why_not);
        std::string &detail = k.strategy_detail;
        detail += detail.empty() ? "" : "; ";
        if (!k.tiling) {
            detail += "not tiled: " + why_not;
            return;
        }
        std::string tensors;
        for (const auto &t : k.tiling->tensors) tensors += (tensors.empty() ? "" : ", ") + t;
        detail += tensors + " tiled through shared memory along '" + k.tiling->reduce_var + "'" +
                            (k.tiling->combine ? ", the reduction split across blocks when the output is small"
                                               : "; not split: the loop does more than accumulate one value");
        if (k.tiling->blocks)
            detail += "; compensated " + std::to_string(k.tiling->blocks->terms) + " terms at a time (a block's running sum)";
    }
};

} // namespace

const Strategy &broadcast_reduce_strategy() {
    static const BroadcastReduce s;
    return s;
}

} // namespace einfuse::passes
