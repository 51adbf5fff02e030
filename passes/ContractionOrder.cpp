#include "passes/ContractionOrder.h"

#include "ir/Printer.h"
#include "ir/Walk.h"
#include "support/Error.h"

#include <algorithm>
#include <cmath>
#include <fmt/format.h>
#include <limits>
#include <optional>
#include <fmt/ranges.h>

namespace einfuse::passes {

namespace {

using Mask = uint64_t; // a set of index variables, bit v = program.index_vars[v]

constexpr int kExhaustiveUpTo = 8;       // operands: 3^8 subset splits is still instant
constexpr int64_t kAssumedExtent = 16;   // for sizes the caller does not know yet

const ir::Access *access_of(const ir::Expr &e) {
    if (const auto *c = e.as<ir::Cast>()) return c->value.as<ir::Access>();
    return e.as<ir::Access>();
}

class Orderer {
public:
    Orderer(const ir::Program &p, const ir::Definition &d, std::vector<ir::Expr> factors, const ir::Extents &sizes)
        : p_(p), d_(d), factors_(std::move(factors)) {
        for (const auto &v : p.index_vars) {
            auto it = sizes.find(v);
            extent_.push_back(static_cast<double>(it == sizes.end() ? kAssumedExtent : it->second));
        }
        for (const auto &f : factors_) {
            Mask m = 0;
            for (const auto &v : ir::expect_vars(access_of(f)->tensor, access_of(f)->indices)) m |= bit(v);
            factor_vars_.push_back(m);
            limit_ = std::max(limit_, size(m));
        }
        for (const auto &v : d.indices) out_ |= bit(v);
        limit_ = std::max(limit_, size(out_));
    }

    Mask bit(const std::string &v) const {
        auto it = std::find(p_.index_vars.begin(), p_.index_vars.end(), v);
        return Mask{1} << (it - p_.index_vars.begin());
    }
    double size(Mask m) const {
        double s = 1;
        for (std::size_t v = 0; v < extent_.size(); ++v)
            if (m >> v & 1) s *= extent_[v];
        return s;
    }
    int count() const { return static_cast<int>(factors_.size()); }
    Mask full() const { return (Mask{1} << count()) - 1; }

    /** The variables of the tensor that subset s of the factors becomes: those still needed by
     * the output or by a factor outside s. A single factor is the input itself. */
    Mask kept(Mask s) const {
        Mask inside = 0, outside = out_;
        for (int f = 0; f < count(); ++f) (s >> f & 1 ? inside : outside) |= factor_vars_[f];
        if (__builtin_popcountll(s) == 1) return inside;
        return inside & outside;
    }

    double fused_cost() const {
        Mask all = 0;
        for (Mask m : factor_vars_) all |= m;
        return count() * size(all);
    }

    /** Best split of every subset: cost[s] in flops, split[s] = one side. */
    void solve() {
        std::size_t n = std::size_t{1} << count();
        cost_.assign(n, std::numeric_limits<double>::infinity());
        split_.assign(n, 0);
        for (int f = 0; f < count(); ++f) cost_[Mask{1} << f] = 0;
        if (count() <= kExhaustiveUpTo) exhaustive(n);
        else greedy();
    }

    bool feasible() const { return std::isfinite(cost_[full()]); }
    double best_cost() const { return cost_[full()]; }
    bool exhaustive_search() const { return count() <= kExhaustiveUpTo; }

    /** The program with the product replaced by its pairwise steps. */
    ir::Program rewrite(std::vector<std::string> &notes) {
        ir::Program q = p_;
        q.definitions.clear();
        build(full(), q, notes);
        return q;
    }

    double peak() const { return peak_; }

private:
    double step_cost(Mask a, Mask b) const { return 2 * size(kept(a) | kept(b)); }

    void exhaustive(std::size_t n) {
        for (Mask s = 1; s < n; ++s) {
            if (__builtin_popcountll(s) < 2) continue;
            if (s != full() && size(kept(s)) > limit_) continue; // over the memory limit
            for (Mask a = (s - 1) & s; a > 0; a = (a - 1) & s) {
                Mask b = s ^ a;
                if (a < b) continue; // each split once
                double c = cost_[a] + cost_[b] + step_cost(a, b);
                if (c < cost_[s]) cost_[s] = c, split_[s] = a;
            }
        }
    }

    /** Many operands: repeatedly contract the pair whose step is cheapest. */
    void greedy() {
        std::vector<Mask> live;
        for (int f = 0; f < count(); ++f) live.push_back(Mask{1} << f);
        while (live.size() > 1) {
            double best = std::numeric_limits<double>::infinity();
            std::size_t bi = 0, bj = 1;
            for (std::size_t i = 0; i < live.size(); ++i)
                for (std::size_t j = i + 1; j < live.size(); ++j) {
                    Mask s = live[i] | live[j];
                    if (s != full() && size(kept(s)) > limit_) continue;
                    double c = step_cost(live[i], live[j]);
                    if (c < best) best = c, bi = i, bj = j;
                }
            if (!std::isfinite(best)) return; // nothing fits: leave cost_[full()] infinite
            Mask s = live[bi] | live[bj];
            cost_[s] = cost_[live[bi]] + cost_[live[bj]] + best;
            split_[s] = live[bi];
            live.erase(live.begin() + static_cast<std::ptrdiff_t>(bj));
            live[bi] = s;
        }
    }

    std::vector<std::string> vars_of(Mask m) const {
        std::vector<std::string> vars;
        for (std::size_t v = 0; v < p_.index_vars.size(); ++v)
            if (m >> v & 1) vars.push_back(p_.index_vars[v]);
        return vars;
    }

    /** Emits the definitions computing subset s; returns the expression that reads its result. */
    ir::Expr build(Mask s, ir::Program &q, std::vector<std::string> &notes) {
        if (__builtin_popcountll(s) == 1) return factors_[__builtin_ctzll(s)];
        Mask a = split_[s], b = s ^ a;
        if ((a & -a) > (b & -b)) std::swap(a, b); // the side with the first operand reads first
        ir::Expr ea = build(a, q, notes), eb = build(b, q, notes);
        ir::Expr product = ir::Binary::make(ir::BinaryOp::Mul, ea, eb);
        Mask keep = s == full() ? out_ : kept(s);
        std::vector<std::string> reduce = vars_of((kept(a) | kept(b)) & ~keep);
        std::string name = s == full() ? d_.tensor : "t" + std::to_string(q.temporaries.size());
        std::vector<std::string> indices = s == full() ? d_.indices : vars_of(keep);
        DType type = product.type();
        if (s != full()) {
            q.temporaries.push_back({name, type, static_cast<int>(indices.size())});
            peak_ = std::max(peak_, size(keep));
        }
        q.definitions.push_back({name, indices, ir::Reduce::make(indices, reduce, ir::ReduceOp::Sum, product)});
        notes.push_back(fmt::format("  step {}: {}[{}] = {}: {:.3g} flops, {:.0f} elements", q.definitions.size(), name,
                                    fmt::join(indices, ","), ir::to_string(q.definitions.back().value),
                                    step_cost(a, b), size(keep)));
        return ir::Access::make(type, name, indices);
    }

    const ir::Program &p_;
    const ir::Definition &d_;
    std::vector<ir::Expr> factors_;
    std::vector<double> extent_;
    std::vector<Mask> factor_vars_;
    Mask out_ = 0;
    double limit_ = 0;
    double peak_ = 0;
    std::vector<double> cost_;
    std::vector<Mask> split_;
};

/** The factors of a sum of products of three or more tensors, or nothing. */
std::optional<std::vector<ir::Expr>> product_factors(const ir::Definition &d) {
    const auto *r = d.value.as<ir::Reduce>();
    if (!r || r->op != ir::ReduceOp::Sum) return std::nullopt;
    std::vector<ir::Expr> factors = ir::flatten(r->body, ir::BinaryOp::Mul);
    if (factors.size() < 3) return std::nullopt;
    for (const auto &f : factors)
        if (!access_of(f) || !ir::plain_vars(access_of(f)->tensor, access_of(f)->indices)) return std::nullopt;
    return factors;
}

} // namespace

ir::Program order_contractions(const ir::Program &p, const ir::Extents &sizes, std::vector<std::string> &notes) {
    if (p.definitions.size() != 1 || p.index_vars.size() > 64) return p;
    const ir::Definition &d = p.definitions.front();
    auto factors = product_factors(d);
    if (!factors) return p;

    Orderer order(p, d, *factors, sizes);
    order.solve();
    std::string search = order.exhaustive_search() ? "exhaustive" : "greedy";
    std::string assumed = sizes.empty() ? " (sizes unknown: each index assumed " + std::to_string(kAssumedExtent) + ")" : "";
    if (!order.feasible() || order.best_cost() >= order.fused_cost()) {
        notes.push_back(fmt::format("contraction order ({} over {} operands{}): one fused loop nest, {:.3g} flops; "
                                    "{}",
                                    search, order.count(), assumed, order.fused_cost(),
                                    order.feasible() ? fmt::format("the best pairwise order costs {:.3g}", order.best_cost())
                                                     : std::string("no pairwise order keeps its intermediates "
                                                                   "within the largest operand's size")));
        return p;
    }
    notes.push_back(fmt::format("contraction order ({} over {} operands{}): {:.3g} flops in pairwise steps, "
                                "against {:.3g} for one fused loop nest",
                                search, order.count(), assumed, order.best_cost(), order.fused_cost()));
    ir::Program q = order.rewrite(notes);
    notes.push_back(fmt::format("  peak intermediate: {:.0f} elements", order.peak()));
    ir::verify(q);
    return q;
}

} // namespace einfuse::passes
