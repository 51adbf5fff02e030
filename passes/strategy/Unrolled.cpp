// unrolled: small dimensions known when planning are unrolled into registers, one thread (or a
// few) per batch element. "bij,bjk->bik" at D=2: a thread per b, i, j, k unrolled. On the GPU
// its variant stages the inputs through shared memory (passes/GpuStaging).
#include "passes/strategy/Strategy.h"

#include "ir/IRVisitor.h"
#include "ir/Walk.h"
#include "passes/GpuStaging.h"

#include <algorithm>

namespace einfuse::passes {

namespace {

/** On the GPU, a thread that owns a whole batch element reads each tensor's slice with scalar
 * loads strided across the warp; that pays only while a slice fits one 16-byte access. Measured
 * on an H200 (bij,bjk->bik, fp32, inputs past L2): D=2 at 105% of the copy bandwidth against 40%
 * for a thread per output element, but D=3, 4, 8 at 36%, 28%, 17% against 40%, 40%, 33%. Above
 * this size the output is a thread per element, with the reduction unrolled and the inputs
 * staged through shared memory (passes/GpuStaging.h). */
constexpr int64_t kMaxGpuSliceBytes = 16;

/** On the host, a batch element too big to unroll whole runs its outer output indices as loops
 * and unrolls the rest: "bij,bjk->bik" at D=16 keeps i a loop and unrolls k and j (256
 * multiply-adds: one 16-wide vector row per i). Moves variables from `small` to the loops,
 * outermost output index first, until `work` fits; returns the note for the plan. */
std::string loop_over_rows(const ir::Definition &d, const Sizes &sizes, std::vector<std::string> &small,
                           int64_t &work) {
    std::string looped;
    for (const auto &v : d.indices) {
        if (work <= kMaxUnrolledWork) break;
        auto it = std::find(small.begin(), small.end(), v);
        if (it == small.end() || small.size() == 1) continue;
        work /= std::max<int64_t>(sizes.exact(v), 1); // every small index is known (why_not_unrolled)
        looped += (looped.empty() ? "" : ",") + v;
        small.erase(it);
    }
    return looped.empty() ? "" : " per iteration of the loop over " + looped;
}

/** The unrolled strategy: one thread per point of the batch indices (those every tensor uses),
 * everything else unrolled in registers. "bij,bjk->bik" at i=j=k=2: batch b, unroll i, j, k. */
std::optional<std::string> why_not_unrolled(const ir::Program &p, const ir::Definition &d, const Sizes &sizes,
                                            ir::DeviceKind device, UnrollSchedule &schedule, std::string &detail) {
    if (sizes.empty()) return std::string("index sizes are not known when planning (unrolling fixes them)");
    // Batch and unrolled indices are variables; x[h + r] is neither.
    if (std::string why = ir::non_var_index(d.value); !why.empty()) return why;
    std::vector<std::vector<std::string>> uses{d.indices};
    std::vector<DType> use_types{p.find_tensor(d.tensor)->dtype};
    std::vector<std::string> all(d.indices);
    /** Every read's indices and type, and whether a reduction sits inside another. */
    struct Uses : ir::IRVisitor {
        std::vector<std::vector<std::string>> &uses;
        std::vector<DType> &use_types;
        std::vector<std::string> &all;
        bool nested = false;
        int depth = 0;
        Uses(std::vector<std::vector<std::string>> &u, std::vector<DType> &t, std::vector<std::string> &a)
            : uses(u), use_types(t), all(a) {}
        using ir::IRVisitor::visit;
        void visit(const ir::Access &a) override {
            uses.push_back(ir::expect_vars(a.tensor, a.indices));
            use_types.push_back(a.type);
        }
        void visit(const ir::Reduce &r) override {
            bool reduces = !r.reduce_vars.empty();
            nested |= depth > 0 && reduces;
            all.insert(all.end(), r.reduce_vars.begin(), r.reduce_vars.end());
            depth += reduces;
            ir::IRVisitor::visit(r);
            depth -= reduces;
        }
    } found(uses, use_types, all);
    found.walk(d.value);
    bool nested = found.nested;
    if (nested) return std::string("nested reductions are not unrolled");
    std::vector<std::string> batch, small;
    for (const auto &v : all) {
        bool everywhere = std::all_of(uses.begin(), uses.end(), [&](const std::vector<std::string> &u) {
            return std::find(u.begin(), u.end(), v) != u.end();
        });
        auto &list = everywhere ? batch : small;
        if (std::find(list.begin(), list.end(), v) == list.end()) list.push_back(v);
    }
    if (batch.empty()) return std::string("no batch index is shared by every tensor");
    int64_t work = 1;
    for (const auto &v : small) {
        if (!sizes.known(v)) return "the size of '" + v + "' is not known when planning";
        std::optional<int64_t> n = sizes.exact_up_to(v, kMaxUnrolledExtent);
        if (!n)
            return "index '" + v + "' has extent " + std::to_string(sizes.shown({v})) + ", above the unrolling limit " +
                   std::to_string(kMaxUnrolledExtent);
        work *= *n;
    }
    std::string rows;
    if (device == ir::DeviceKind::Host) rows = loop_over_rows(d, sizes, small, work);
    schedule.vars = small;
    detail = "a thread per batch element, " + std::to_string(work) + " multiply-adds unrolled" + rows;
    if (device == ir::DeviceKind::Gpu) {
        int64_t widest = 0; // the largest slice of one tensor that one batch element owns
        for (std::size_t u = 0; u < uses.size(); ++u) {
            int64_t elements = 1;
            for (const auto &v : small)
                if (std::find(uses[u].begin(), uses[u].end(), v) != uses[u].end()) elements *= sizes.exact(v);
            widest = std::max(widest, elements * static_cast<int64_t>(dtype_size(use_types[u])));
        }
        if (widest > kMaxGpuSliceBytes) {
            std::vector<std::string> reduced;
            for (const auto &v : small)
                if (std::find(d.indices.begin(), d.indices.end(), v) == d.indices.end()) reduced.push_back(v);
            schedule.vars = reduced;
            work = 1;
            for (const auto &v : reduced) work *= sizes.exact(v);
            detail = "a thread per output element, the reduction unrolled: a batch element's slice of " +
                     std::to_string(widest) + " bytes is read faster that way on the GPU";
        }
    }
    if (work > kMaxUnrolledWork)
        return "one thread would unroll " + std::to_string(work) + " multiply-adds, above " +
               std::to_string(kMaxUnrolledWork);
    for (const auto &v : schedule.vars) schedule.extents[v] = sizes.exact(v);
    return std::nullopt;
}

class Unrolled : public Strategy {
  public:
    ir::Strategy kind() const override { return ir::Strategy::Unrolled; }

    std::optional<Candidate> consider(const StrategyContext &ctx, std::string *why_not) const override {
        Candidate c;
        if (auto why = why_not_unrolled(ctx.program, ctx.definition(), ctx.sizes, ctx.options.target.kind, c.schedule,
                                        c.detail)) {
            *why_not = *why;
            return std::nullopt;
        }
        return c;
    }

    /** The GPU: the variant that stages the inputs through shared memory, where it pays. */
    void refine(ir::Kernel &k, const StrategyContext &ctx) const override {
        if (!ctx.gpu()) return;
        std::string why_not;
        k.staging = plan_gpu_staging(k, ctx.sizes, &why_not);
        k.strategy_detail += k.staging ? ", inputs staged through shared memory " +
                                             std::to_string(k.staging->batch_per_block) + " batch elements at a time"
                                       : "; inputs not staged: " + why_not;
    }
};

} // namespace

const Strategy &unrolled_strategy() {
    static const Unrolled s;
    return s;
}

} // namespace einfuse::passes
