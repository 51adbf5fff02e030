#include "passes/ChooseStrategy.h"

#include "ir/IRVisitor.h"
#include "ir/Walk.h"
#include "passes/GemmMatch.h"
#include "support/Error.h"

#include <algorithm>

#include <optional>

namespace einfuse::passes {

namespace {

using Strategy = ir::Strategy;

/** Each matcher returns nothing when the strategy fits, or the reason it does not. */
std::optional<std::string> why_not_elementwise(const ir::Reduce &r) {
    // Any reduction, at the top or nested inside the value, needs a loop per output element.
    std::vector<std::string> vars = r.reduce_vars;
    for (auto &v : ir::reduced_vars(r.body)) vars.push_back(std::move(v));
    if (vars.empty()) return std::nullopt;
    std::string list;
    for (const auto &v : vars) list += (list.empty() ? "" : ",") + v;
    return "it reduces over " + list;
}

/** On the host, a batch element too big to unroll whole runs its outer output indices as loops
 * and unrolls the rest: "bij,bjk->bik" at D=16 keeps i a loop and unrolls k and j (256
 * multiply-adds: one 16-wide vector row per i). Moves variables from `small` to the loops,
 * outermost output index first, until `work` fits; returns the note for the plan. */
std::string loop_over_rows(const ir::Definition &d, const ir::Extents &sizes, std::vector<std::string> &small,
                           int64_t &work) {
    std::string looped;
    for (const auto &v : d.indices) {
        if (work <= kMaxUnrolledWork) break;
        auto it = std::find(small.begin(), small.end(), v);
        if (it == small.end() || small.size() == 1) continue;
        auto size = sizes.find(v);
        if (size == sizes.end()) continue;
        work /= std::max<int64_t>(size->second, 1);
        looped += (looped.empty() ? "" : ",") + v;
        small.erase(it);
    }
    return looped.empty() ? "" : " per iteration of the loop over " + looped;
}

/** The unrolled strategy: one thread per point of the batch indices (those every tensor uses),
 * everything else unrolled in registers. "bij,bjk->bik" at i=j=k=2: batch b, unroll i, j, k. */
std::optional<std::string> why_not_unrolled(const ir::Program &p, const ir::Definition &d, const ir::Extents &sizes,
                                            Device device, UnrollSchedule &schedule, std::string &detail) {
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
        auto it = sizes.find(v);
        if (it == sizes.end()) return "the size of '" + v + "' is not known when planning";
        if (it->second > kMaxUnrolledExtent)
            return "index '" + v + "' has extent " + std::to_string(it->second) + ", above the unrolling limit " +
                   std::to_string(kMaxUnrolledExtent);
        work *= it->second;
    }
    std::string rows;
    if (device == Device::Host) rows = loop_over_rows(d, sizes, small, work);
    schedule.vars = small;
    detail = "a thread per batch element, " + std::to_string(work) + " multiply-adds unrolled" + rows;
    if (device == Device::Gpu) {
        int64_t widest = 0; // the largest slice of one tensor that one batch element owns
        for (std::size_t u = 0; u < uses.size(); ++u) {
            int64_t elements = 1;
            for (const auto &v : small)
                if (std::find(uses[u].begin(), uses[u].end(), v) != uses[u].end()) elements *= sizes.at(v);
            widest = std::max(widest, elements * static_cast<int64_t>(dtype_size(use_types[u])));
        }
        if (widest > kMaxGpuSliceBytes) {
            std::vector<std::string> reduced;
            for (const auto &v : small)
                if (std::find(d.indices.begin(), d.indices.end(), v) == d.indices.end()) reduced.push_back(v);
            schedule.vars = reduced;
            work = 1;
            for (const auto &v : reduced) work *= sizes.at(v);
            detail = "a thread per output element, the reduction unrolled: a batch element's slice of " +
                     std::to_string(widest) + " bytes is read faster that way on the GPU";
        }
    }
    if (work > kMaxUnrolledWork)
        return "one thread would unroll " + std::to_string(work) + " multiply-adds, above " +
               std::to_string(kMaxUnrolledWork);
    for (const auto &v : schedule.vars) schedule.extents[v] = sizes.at(v);
    return std::nullopt;
}

int64_t group_size(const std::vector<std::string> &vars, const ir::Extents &sizes) {
    int64_t n = 1;
    for (const auto &v : vars) n *= sizes.at(v);
    return n;
}

/** The GEMM strategy: a matrix product (passes/GemmMatch.h) big enough that tiling it pays (all
 * sizes unknown: assumed so). `gemm` gets the match. */
std::optional<std::string> why_not_gemm(const ir::Program &p, const ir::Definition &d, const ir::Extents &sizes,
                                        Device device, std::optional<ir::Gemm> &gemm) {
    std::string why;
    gemm = match_gemm(p, d, &why);
    if (!gemm) return "not a GEMM: " + why;
    for (const auto *g : {&gemm->m, &gemm->n, &gemm->k})
        for (const auto &v : *g)
            if (!sizes.count(v)) return std::nullopt;
    int64_t m = group_size(gemm->m, sizes), n = group_size(gemm->n, sizes), k = group_size(gemm->k, sizes);
    std::string sizes_text = "M = " + std::to_string(m) + ", N = " + std::to_string(n) + ", K = " + std::to_string(k);
    const int64_t min_k = device == Device::Gpu ? kMinGemmKGpu : kMinGemmKHost;
    if (k < min_k || std::min(m, n) < kMinGemmSide || m * n < kMinGemmTile)
        return "a GEMM (" + describe(*gemm) + "), but too small to tile (" + sizes_text + "; a GEMM needs K >= " +
               std::to_string(min_k) + ", M and N >= " + std::to_string(kMinGemmSide) + ", M*N >= " +
               std::to_string(kMinGemmTile) + "): the loop nest runs it at the memory limit";
    return std::nullopt;
}

} // namespace

ir::Kernel choose_strategy(ir::Kernel k, const ir::Program &p, std::size_t index, const ir::Extents &sizes,
                           Device device, UnrollSchedule &schedule) {
    const ir::Definition &d = p.definitions.at(index);
    const auto *r = d.value.as<ir::Reduce>();
    EINFUSE_ASSERT(r != nullptr, "a definition's value is a Reduce");

    // In order of preference; the first that fits wins, the others keep their reasons.
    // broadcast-reduce (the general loop nest) always fits, so it closes the list.
    struct Candidate {
        Strategy strategy;
        std::optional<std::string> why_not;
    };
    UnrollSchedule unroll;
    std::string unroll_detail;
    std::optional<ir::Gemm> gemm;
    const Candidate candidates[] = {
        {Strategy::Elementwise, why_not_elementwise(*r)},
        {Strategy::Unrolled, why_not_unrolled(p, d, sizes, device, unroll, unroll_detail)},
        {Strategy::Gemm, why_not_gemm(p, d, sizes, device, gemm)},
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
    schedule = k.strategy == Strategy::Unrolled ? unroll : UnrollSchedule{};
    k.strategy_detail = k.strategy == Strategy::Unrolled ? unroll_detail : "";
    if (k.strategy == Strategy::Gemm) k.gemm = std::move(gemm);
    return k;
}

} // namespace einfuse::passes
