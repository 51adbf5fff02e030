#include "api/KernelArgs.h"

#include "ir/Walk.h"

#include "support/Error.h"

#include <functional>
#include <map>

namespace einfuse {

namespace {

/** The index variables each tensor is read or written with, from the loop nest. */
void collect_indices(const ir::Stmt &s, std::map<std::string, std::vector<std::string>> &out);

void collect_indices(const ir::Expr &e, std::map<std::string, std::vector<std::string>> &out) {
    ir::for_each_access(e, [&](const ir::Access &a) { out.emplace(a.tensor, a.indices); });
}

void collect_indices(const ir::Stmt &s, std::map<std::string, std::vector<std::string>> &out) {
    if (const auto *f = s.as<ir::For>()) collect_indices(f->body, out);
    else if (const auto *b = s.as<ir::Block>()) {
        for (const auto &x : b->stmts) collect_indices(x, out);
    } else if (const auto *st = s.as<ir::Store>()) {
        out.emplace(st->tensor, st->indices);
        collect_indices(st->value, out);
    } else if (const auto *d = s.as<ir::DeclareScalar>()) {
        collect_indices(d->init, out);
    } else if (const auto *a = s.as<ir::AssignScalar>()) {
        collect_indices(a->value, out);
    }
}

} // namespace

KernelArgs kernel_args(const ir::Kernel &k, const std::vector<const Tensor *> &tensors, const ir::Extents &extents) {
    EINFUSE_ASSERT(tensors.size() == k.params.size(), "one tensor per kernel parameter");
    std::map<std::string, std::vector<std::string>> indices;
    collect_indices(k.body, indices);

    KernelArgs args;
    for (const auto &v : k.index_vars) args.extents.push_back(extents.at(v));
    for (std::size_t p = 0; p < tensors.size(); ++p) {
        const ir::TensorInfo &info = k.params[p];
        const Tensor &t = *tensors[p];
        EINFUSE_ASSERT(t.rank() == info.rank && t.dtype() == info.dtype, "tensor " + info.name + " matches its parameter");
        const auto &vars = indices.at(info.name);
        for (int d = 0; d < t.rank(); ++d) {
            int64_t extent = extents.at(vars[d]);
            if (t.shape()[d] != extent && t.shape()[d] != 1)
                throw UserError("tensor " + info.name + " has size " + std::to_string(t.shape()[d]) + " in dimension " +
                                std::to_string(d) + " where index '" + vars[d] + "' has size " + std::to_string(extent));
            bool broadcast = t.shape()[d] == 1 && extent != 1;
            if (broadcast && p >= static_cast<std::size_t>(k.num_inputs))
                throw UserError("output " + info.name + " cannot broadcast dimension " + std::to_string(d));
            args.strides.push_back(broadcast ? 0 : t.strides()[d]);
        }
    }
    // An unrolled loop was compiled for one trip count: other sizes need another plan.
    std::function<void(const ir::Stmt &)> check_fixed = [&](const ir::Stmt &s) {
        if (const auto *f = s.as<ir::For>()) {
            if (f->loop_kind == ir::LoopKind::Unrolled && extents.at(f->var) != f->fixed_extent)
                throw UserError("kernel " + k.name + " was planned for " + f->var + "=" + std::to_string(f->fixed_extent) +
                                " but runs with " + f->var + "=" + std::to_string(extents.at(f->var)) +
                                ": plan for these sizes first (plan_for)");
            check_fixed(f->body);
        } else if (const auto *b = s.as<ir::Block>()) {
            for (const auto &x : b->stmts) check_fixed(x);
        }
    };
    check_fixed(k.body);
    auto outer = ir::parallel_vars(k);
    if (!outer.empty()) args.outer_extent = extents.at(outer.front());
    return args;
}

} // namespace einfuse
