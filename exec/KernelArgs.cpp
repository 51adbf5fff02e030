#include "exec/KernelArgs.h"

#include "ir/Walk.h"

#include "support/Error.h"

#include <map>

namespace einfuse {


KernelArgs kernel_args(const ir::Kernel &k, const std::vector<const Tensor *> &tensors, const ir::Extents &extents) {
    EINFUSE_ASSERT(tensors.size() == k.params.size(), "one tensor per kernel parameter");
    // The index variables each tensor is read or written with, from the loop nest.
    std::map<std::string, std::vector<ir::Index>> indices;
    ir::for_each_tensor_use(k.body, [&](const std::string &t, const std::vector<ir::Index> &idx) { indices.emplace(t, idx); });

    KernelArgs args;
    for (const auto &v : k.index_vars) args.extents.push_back(extents.at(v));
    for (std::size_t p = 0; p < tensors.size(); ++p) {
        const ir::TensorInfo &info = k.params[p];
        const Tensor &t = *tensors[p];
        EINFUSE_ASSERT(t.rank() == info.rank && t.dtype() == info.dtype, "tensor " + info.name + " matches its parameter");
        const auto &index = indices.at(info.name);
        for (int d = 0; d < t.rank(); ++d) {
            const std::string *var = index[d].as_var();
            if (!var) { // an affine index: every value it takes must lie inside the dimension
                std::string why = ir::index_out_of_range(info.name, d, index[d], t.shape()[d], extents);
                if (!why.empty()) throw UserError(why);
                args.strides.push_back(t.strides()[d]);
                continue;
            }
            int64_t extent = extents.at(*var);
            if (t.shape()[d] != extent && t.shape()[d] != 1)
                throw UserError("tensor " + info.name + " has size " + std::to_string(t.shape()[d]) + " in dimension " +
                                std::to_string(d) + " where index '" + *var + "' has size " + std::to_string(extent));
            bool broadcast = t.shape()[d] == 1 && extent != 1;
            if (broadcast && p >= static_cast<std::size_t>(k.num_inputs))
                throw UserError("output " + info.name + " cannot broadcast dimension " + std::to_string(d));
            args.strides.push_back(broadcast ? 0 : t.strides()[d]);
        }
    }
    // An unrolled loop was compiled for one trip count: other sizes need another plan.
    ir::for_each_loop(k.body, [&](const ir::For &f) {
        if (f.loop_kind == ir::LoopKind::Unrolled && extents.at(f.var) != f.fixed_extent)
            throw UserError("kernel " + k.name + " was planned for " + f.var + "=" + std::to_string(f.fixed_extent) +
                            " but runs with " + f.var + "=" + std::to_string(extents.at(f.var)) +
                            ": plan for these sizes first (plan_for)");
    });
    auto outer = ir::parallel_vars(k);
    if (!outer.empty()) args.outer_extent = extents.at(outer.front());
    return args;
}

} // namespace einfuse
