#include "passes/ContractionOrder.h"

#include "ir/Printer.h"
#include "ir/Walk.h"
#include "support/Error.h"

#include <algorithm>
#include <cmath>
#include <functional>
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

/** One operand or one pairwise step of the plan: a binary tree whose leaves are the factors.
 * Nodes are stored children first, so the list itself is an order in which to compute them. */
struct Node {
    Mask inside = 0; // the variables of every factor below
    Mask kept = 0;   // the variables of its result
    int left = -1, right = -1, factor = -1;
    int first = 0;   // the smallest factor below: that side reads first
    double cost = 0; // flops of every step below, this one included
};

class Orderer {
public:
    Orderer(const ir::Program &p, const ir::Definition &d, std::vector<ir::Expr> factors, const Sizes &sizes)
        : p_(p), d_(d), factors_(std::move(factors)) {
        for (const auto &v : p.index_vars) extent_.push_back(sizes.bucket(v, kAssumedExtent)); // one order per bucket
        for (const auto &f : factors_) {
            Mask m = 0;
            for (const auto &v : ir::expect_vars(access_of(f)->tensor, access_of(f)->indices)) m |= bit(v);
            factor_vars_.push_back(m);
            limit_ = std::max(limit_, size(m));
        }
        for (const auto &v : d.indices) out_ |= bit(v);
        limit_ = std::max(limit_, size(out_));
        for (int f = 0; f < count(); ++f) {
            Node leaf;
            leaf.inside = leaf.kept = factor_vars_[f];
            leaf.factor = leaf.first = f;
            nodes_.push_back(leaf);
        }
    }

    Mask bit(const std::string &v) const {
        auto it = std::find(p_.index_vars.begin(), p_.index_vars.end(), v);
        return Mask{1} << (it - p_.index_vars.begin());
    }
    double size(Mask m) const {
        double s = 1;
        for (; m; m &= m - 1) s *= extent_[__builtin_ctzll(m)];
        return s;
    }
    int count() const { return static_cast<int>(factors_.size()); }

    double fused_cost() const {
        Mask all = 0;
        for (Mask m : factor_vars_) all |= m;
        return count() * size(all);
    }

    /** Fills nodes_ with a plan whose last node is the root, or leaves root_ at -1 when every
     * order needs an intermediate over the memory limit. */
    void solve() {
        if (exhaustive_search()) exhaustive();
        else greedy();
    }

    bool feasible() const { return root_ >= 0; }
    double best_cost() const { return feasible() ? nodes_[root_].cost : std::numeric_limits<double>::infinity(); }
    bool exhaustive_search() const { return count() <= kExhaustiveUpTo; }

    /** The program with the product replaced by its pairwise steps. */
    ir::Program rewrite(std::vector<std::string> &notes) {
        ir::Program q = p_;
        q.definitions.clear();
        // Post-order without recursion (a greedy plan of many operands is a deep chain): a node
        // is emitted once both of its sides are, the side holding the first operand first.
        std::vector<std::optional<ir::Expr>> read(nodes_.size());
        std::vector<int> stack{root_};
        while (!stack.empty()) {
            int n = stack.back();
            const Node &node = nodes_[n];
            if (node.factor >= 0) {
                read[n] = factors_[node.factor];
                stack.pop_back();
                continue;
            }
            auto [a, b] = ordered(node);
            if (!read[a]) { stack.push_back(a); continue; }
            if (!read[b]) { stack.push_back(b); continue; }
            read[n] = emit(n, *read[a], *read[b], q, notes);
            stack.pop_back();
        }
        return q;
    }

    double peak() const { return peak_; }

private:
    double step_cost(Mask kept_a, Mask kept_b) const { return 2 * size(kept_a | kept_b); }

    int merge(int a, int b, Mask kept, double step) {
        Node n;
        n.inside = nodes_[a].inside | nodes_[b].inside;
        n.kept = kept;
        n.left = a, n.right = b;
        n.first = std::min(nodes_[a].first, nodes_[b].first);
        n.cost = nodes_[a].cost + nodes_[b].cost + step;
        nodes_.push_back(n);
        return static_cast<int>(nodes_.size()) - 1;
    }

    /** Few operands: the cheapest split of every subset of factors (3^n steps, n <= 8). */
    void exhaustive() {
        const Mask full = (Mask{1} << count()) - 1;
        auto kept = [&](Mask s) {
            Mask inside = 0, outside = out_;
            for (int f = 0; f < count(); ++f) (s >> f & 1 ? inside : outside) |= factor_vars_[f];
            return s == full ? out_ : __builtin_popcountll(s) == 1 ? inside : inside & outside;
        };
        std::vector<double> cost(std::size_t{1} << count(), std::numeric_limits<double>::infinity());
        std::vector<Mask> split(cost.size(), 0);
        for (int f = 0; f < count(); ++f) cost[Mask{1} << f] = 0;
        for (Mask s = 1; s <= full; ++s) {
            if (__builtin_popcountll(s) < 2) continue;
            if (s != full && size(kept(s)) > limit_) continue; // over the memory limit
            for (Mask a = (s - 1) & s; a > 0; a = (a - 1) & s) {
                Mask b = s ^ a;
                if (a < b) continue; // each split once
                double c = cost[a] + cost[b] + step_cost(kept(a), kept(b));
                if (c < cost[s]) cost[s] = c, split[s] = a;
            }
        }
        if (!std::isfinite(cost[full])) return;
        // The splits as nodes, children first (the depth is at most count()).
        std::function<int(Mask)> node_of = [&](Mask s) -> int {
            if (__builtin_popcountll(s) == 1) return __builtin_ctzll(s);
            int a = node_of(split[s]), b = node_of(s ^ split[s]);
            return merge(a, b, kept(s), step_cost(kept(split[s]), kept(s ^ split[s])));
        };
        root_ = node_of(full);
    }

    /** Many operands: repeatedly contract the pair whose step is cheapest, in O(n^2) time and
     * O(n) memory for n operands (no pair list: 1,000 operands plan in milliseconds). A pair's
     * result keeps the variables that the output or another live operand still needs; with
     * uses[v] the live operands reading v, for a pair (a, b) that is v in a|b with uses[v]
     * minus its uses in a and b still positive, which the masks `twice` and `thrice` (uses >= 2,
     * >= 3) give without a scan. Each live operand remembers its cheapest partner; a merge
     * offers the new operand to every other (ties go to the newest); one whose partner was merged
     * away takes the new operand for now and looks again only if it comes up as the cheapest,
     * so a run of equal costs (i,i,...,i) costs O(n) a step. Costs only fall as operands
     * merge; a remembered cost that is stale is a heuristic's loss, not a wrong plan. */
    void greedy() {
        const double inf = std::numeric_limits<double>::infinity();
        std::vector<int> uses(p_.index_vars.size(), 0);
        for (Mask m : factor_vars_)
            for (; m; m &= m - 1) ++uses[__builtin_ctzll(m)];
        Mask twice = 0, thrice = 0;
        auto count_masks = [&] {
            twice = thrice = 0;
            for (std::size_t v = 0; v < uses.size(); ++v) {
                if (uses[v] >= 2) twice |= Mask{1} << v;
                if (uses[v] >= 3) thrice |= Mask{1} << v;
            }
        };
        std::vector<int> live(count());
        for (int f = 0; f < count(); ++f) live[f] = f;
        auto kept = [&](int a, int b) {
            Mask ia = nodes_[a].inside, ib = nodes_[b].inside;
            if (live.size() == 2) return (ia | ib) & out_;
            return (ia | ib) & (out_ | (thrice & ia & ib) | (twice & (ia ^ ib)));
        };
        auto cost_of = [&](int a, int b) {
            if (live.size() > 2 && size(kept(a, b)) > limit_) return inf; // over the memory limit
            return step_cost(nodes_[a].kept, nodes_[b].kept);
        };
        // partner[n], best[n]: node n's cheapest partner among the live ones, and that cost.
        std::vector<int> partner(2 * count(), -1);
        std::vector<double> best(2 * count(), inf);
        std::vector<bool> alive(2 * count(), false);
        for (int n : live) alive[n] = true;
        std::vector<bool> stale(2 * count(), false); // partner merged away; best is an upper bound
        auto rescan = [&](int n) {
            best[n] = inf, partner[n] = -1, stale[n] = false;
            for (int o : live)
                if (o != n) {
                    double c = cost_of(n, o);
                    if (c <= best[n]) best[n] = c, partner[n] = o;
                }
        };
        count_masks();
        for (int n : live) rescan(n);
        bool fresh = true; // every remembered cost is current
        while (live.size() > 1) {
            int a = -1;
            for (int n : live)
                if (a < 0 || best[n] < best[a]) a = n;
            if (stale[a]) { // its partner was merged away: look again before choosing it
                rescan(a);
                continue;
            }
            if (!std::isfinite(best[a])) {
                if (fresh) return; // nothing fits: no root
                for (int n : live) rescan(n);
                fresh = true;
                continue;
            }
            int b = partner[a];
            double now = cost_of(a, b);
            if (now != best[a]) { // stale: the masks changed since
                best[a] = now;
                continue;
            }
            int n = merge(a, b, kept(a, b), now);
            alive[a] = alive[b] = false;
            alive[n] = true;
            live.erase(std::remove_if(live.begin(), live.end(), [&](int o) { return o == a || o == b; }), live.end());
            for (Mask m = nodes_[a].inside & nodes_[b].inside; m; m &= m - 1) --uses[__builtin_ctzll(m)];
            count_masks();
            fresh = false;
            live.push_back(n);
            for (int o : live) { // offer the new operand to every other
                if (o == n) continue;
                double c = cost_of(o, n);
                if (partner[o] < 0 || !alive[partner[o]]) best[o] = c, partner[o] = n, stale[o] = true;
                else if (c <= best[o]) best[o] = c, partner[o] = n;
                if (c <= best[n]) best[n] = c, partner[n] = o;
            }
        }
        root_ = static_cast<int>(nodes_.size()) - 1;
    }

    std::pair<int, int> ordered(const Node &n) const {
        return nodes_[n.left].first <= nodes_[n.right].first ? std::pair{n.left, n.right} : std::pair{n.right, n.left};
    }

    std::vector<std::string> vars_of(Mask m) const {
        std::vector<std::string> vars;
        for (std::size_t v = 0; v < p_.index_vars.size(); ++v)
            if (m >> v & 1) vars.push_back(p_.index_vars[v]);
        return vars;
    }

    /** Emits the definition computing node n from its two sides; returns what reads its result. */
    ir::Expr emit(int n, const ir::Expr &ea, const ir::Expr &eb, ir::Program &q, std::vector<std::string> &notes) {
        bool root = n == root_;
        auto [a, b] = ordered(nodes_[n]);
        Mask ka = nodes_[a].kept, kb = nodes_[b].kept;
        ir::Expr product = ir::Binary::make(ir::BinaryOp::Mul, ea, eb);
        Mask keep = root ? out_ : nodes_[n].kept;
        std::vector<std::string> reduce = vars_of((ka | kb) & ~keep);
        std::string name = root ? d_.tensor : "t" + std::to_string(q.temporaries.size());
        std::vector<std::string> indices = root ? d_.indices : vars_of(keep);
        DType type = product.type();
        if (!root) {
            q.temporaries.push_back({name, type, static_cast<int>(indices.size())});
            peak_ = std::max(peak_, size(keep));
        }
        q.definitions.push_back({name, indices, ir::Reduce::make(indices, reduce, ir::ReduceOp::Sum, product)});
        notes.push_back(fmt::format("  step {}: {}[{}] = {}: {:.3g} flops, {:.0f} elements", q.definitions.size(), name,
                                    fmt::join(indices, ","), ir::to_string(q.definitions.back().value),
                                    step_cost(ka, kb), size(keep)));
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
    std::vector<Node> nodes_;
    int root_ = -1;
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

ir::Program order_contractions(const ir::Program &p, const Sizes &sizes, std::vector<std::string> &notes) {
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
