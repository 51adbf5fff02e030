// The canonical packed GEMM. "pi,qj,ijkl,rk,sl->pqrs" plans four GEMMs:
//   t0[i,j,k,s] = sum[l](in2[i,j,k,l] * in4[s,l])     M {i,j,k}  N {s}      K {l}
//   t2[i,q,r,s] = sum[j](in1[q,j] * t1[i,j,r,s])      M {q}      N {i,r,s}  K {j}
// and, padded to three variables a group, both become
//   p2[m0,m1,m2,n0,n1,n2] = sum[k0,k1,k2](p0[m0,m1,m2,k0,k1,k2] * p1[k0,k1,k2,n0,n1,n2])
// (t0: m = i,j,k and n = s, n1 and n2 of size 1; every stride of a padding variable 0), which
// prints the same code: one compile instead of four. The packed GEMM flattens each group at run
// time through its tables, so padding costs a few table entries, not a loop.
#include "backends/llvm/GemmShare.h"

#include "ir/IRMutator.h"
#include "ir/Walk.h"
#include "passes/HostGemm.h"

#include <algorithm>
#include <map>
#include <string>

namespace einfuse::llvm_backend {

namespace {

/** Tensor reads and writes re-addressed by the canonical names and dimensions. */
class Readdress : public ir::IRMutator {
  public:
    Readdress(const std::map<std::string, std::string> &names, const std::map<std::string, std::vector<std::string>> &dims)
        : names_(names), dims_(dims) {}

  protected:
    using ir::IRMutator::visit;
    ir::Expr visit(const ir::Access &n, const ir::Expr &) override {
        return ir::Access::make(n.type, names_.at(n.tensor), dims_.at(n.tensor));
    }
    ir::Stmt visit(const ir::Store &n, const ir::Stmt &) override {
        return ir::Store::make(names_.at(n.tensor), dims_.at(n.tensor), mutate(n.value));
    }

  private:
    const std::map<std::string, std::string> &names_;
    const std::map<std::string, std::vector<std::string>> &dims_;
};

} // namespace

std::optional<GemmGroupCounts> gemm_group_counts(const ir::Kernel &k) {
    if (!k.gemm || !k.gemm->host_packed) return std::nullopt;
    const ir::Gemm &g = *k.gemm;
    return GemmGroupCounts{g.batch.size(), g.m.size(), g.n.size(), g.k.size()};
}

std::optional<SharedGemm> shared_gemm(const ir::Kernel &k, const GemmGroupCounts &pads) {
    if (!k.gemm || !k.gemm->host_packed || !passes::packed_gemm_parts(k, nullptr)) return std::nullopt;
    const ir::Gemm &g = *k.gemm;
    // Canonical variables, group by group; `from` maps each back to k's variable ("" for padding).
    std::map<std::string, std::string> from;
    auto group = [&](const std::vector<std::string> &vars, std::size_t count, const char *prefix) {
        std::vector<std::string> out;
        for (std::size_t i = 0; i < count; ++i) {
            out.push_back(prefix + std::to_string(i));
            from[out.back()] = i < vars.size() ? vars[i] : "";
        }
        return out;
    };
    if (g.batch.size() > pads.batch || g.m.size() > pads.m || g.n.size() > pads.n || g.k.size() > pads.k) return std::nullopt;
    const auto batch = group(g.batch, pads.batch, "b"), m = group(g.m, pads.m, "m"), n = group(g.n, pads.n, "n"),
               kk = group(g.k, pads.k, "k");
    auto concat = [](std::vector<std::vector<std::string>> parts) {
        std::vector<std::string> all;
        for (auto &p : parts) all.insert(all.end(), p.begin(), p.end());
        return all;
    };

    // Each tensor's one index order in k: a second order, or a variable used twice, is refused.
    std::map<std::string, std::vector<std::string>> order;
    bool ok = true;
    ir::for_each_tensor_var_use(k.body, [&](const std::string &t, const std::vector<std::string> &idx) {
        auto [it, fresh] = order.emplace(t, idx);
        ok &= fresh || it->second == idx;
        for (const auto &v : idx) ok &= std::count(idx.begin(), idx.end(), v) == 1;
    });
    if (!ok) return std::nullopt;

    SharedGemm s;
    ir::Kernel &c = s.kernel;
    c.name = k.name;
    c.num_inputs = k.num_inputs;
    c.strategy = k.strategy;
    c.host_vectors = k.host_vectors;
    if (c.host_vectors) c.host_vectors->why.clear();
    c.index_vars = concat({batch, m, n, kk});
    for (const auto &v : c.index_vars) s.extent_slots.push_back(from[v].empty() ? -1 : k.var_index(from[v]));

    std::map<std::string, std::string> names;
    std::map<std::string, std::vector<std::string>> dims;
    // Parameters: A, B, then the others in k's order (inputs stay first).
    std::vector<int> first_stride{0}; // of each parameter of k, in k's strides
    for (const auto &t : k.params) first_stride.push_back(first_stride.back() + t.rank);
    s.data_slots = {k.param_index(g.a), k.param_index(g.b)};
    for (std::size_t p = 0; p < k.params.size(); ++p)
        if (k.params[p].name != g.a && k.params[p].name != g.b) s.data_slots.push_back(static_cast<int>(p));
    for (int p : s.data_slots) {
        const ir::TensorInfo &t = k.params[static_cast<std::size_t>(p)];
        const int base = first_stride[static_cast<std::size_t>(p)];
        names[t.name] = "p" + std::to_string(c.params.size());
        const auto &d = t.name == g.a ? concat({batch, m, kk}) : t.name == g.b ? concat({batch, kk, n}) : concat({batch, m, n});
        dims[t.name] = d;
        const auto used = order.find(t.name);
        for (const auto &v : d) {
            int slot = -1;
            if (used != order.end() && !from[v].empty()) {
                auto at = std::find(used->second.begin(), used->second.end(), from[v]);
                if (at != used->second.end()) slot = base + static_cast<int>(at - used->second.begin());
            }
            s.stride_slots.push_back(slot);
        }
        // Every variable the tensor is indexed by must have found its place (a group variable
        // outside the tensor's dimensions is not a GEMM this form holds); variables in no group
        // have size 1 and drop out.
        if (used != order.end())
            for (const auto &v : used->second) {
                bool grouped = false, placed = false;
                for (const auto &[cv, orig] : from) {
                    if (orig != v) continue;
                    grouped = true;
                    placed |= std::find(d.begin(), d.end(), cv) != d.end();
                }
                if (grouped && !placed) return std::nullopt;
            }
        c.params.push_back({names[t.name], t.dtype, static_cast<int>(d.size())});
    }

    // The body: parallel loops over batch, m, n; the accumulator; serial loops over k around
    // acc = acc + a * b; the epilogue. Only its tensor accesses change.
    Readdress readdress(names, dims);
    ir::AroundLoop around = ir::around_first_loop(k);
    ir::Stmt update = around.loop->body;
    while (const auto *f = update.as<ir::For>()) update = f->body;
    ir::Stmt reduction = readdress.mutate(update);
    for (auto it = kk.rbegin(); it != kk.rend(); ++it) reduction = ir::For::make(*it, ir::LoopKind::Serial, reduction);
    std::vector<ir::Stmt> stmts = around.before;
    stmts.push_back(reduction);
    for (const auto &st : around.after) stmts.push_back(readdress.mutate(st));
    c.body = ir::Block::make(stmts);
    const auto outer = concat({batch, m, n});
    for (auto it = outer.rbegin(); it != outer.rend(); ++it) c.body = ir::For::make(*it, ir::LoopKind::Parallel, c.body);

    ir::Gemm cg;
    cg.a = names.at(g.a), cg.b = names.at(g.b);
    cg.batch = batch, cg.m = m, cg.n = n, cg.k = kk;
    cg.host_packed = true;
    cg.host_vector_bits = g.host_vector_bits;
    cg.host_a_block_bytes = g.host_a_block_bytes;
    c.gemm = cg;
    if (!passes::packed_gemm_parts(c, nullptr)) return std::nullopt;
    return s;
}

} // namespace einfuse::llvm_backend
