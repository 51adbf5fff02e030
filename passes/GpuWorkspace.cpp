#include "passes/GpuWorkspace.h"

#include "support/Error.h"

namespace einfuse::passes {

using ir::lit;
using ir::SizeExpr;

WorkspaceLayout gpu_workspace(const ir::Program &program, const std::vector<ir::Kernel> &kernels) {
    WorkspaceLayout out;
    for (const auto &t : program.temporaries) {
        const ir::Definition *def = nullptr;
        for (const auto &d : program.definitions)
            if (d.tensor == t.name) def = &d;
        EINFUSE_ASSERT(def != nullptr, "a temporary is defined");
        SizeExpr count = lit(1);
        for (const auto &v : def->indices) count = count * SizeExpr::size(v);
        SizeExpr bytes = count * lit(static_cast<int64_t>(dtype_size(t.dtype)));
        out.temporaries.push_back({t.name, t.dtype, def->indices, ir::ceil_div(bytes, lit(kWorkspaceAlign)) * lit(kWorkspaceAlign)});
    }
    for (std::size_t i = 0; i < kernels.size(); ++i)
        for (std::size_t vi = 0; vi < kernels[i].launch.size(); ++vi) {
            const ir::LaunchVariant &v = kernels[i].launch[vi];
            if (!v.combine) continue;
            // The tiled variant's parts: splits * total accumulators when it splits (its guard
            // always holds; a variant before it may run instead, and then they go unused).
            SizeExpr total = v.combine->part_args.at(0), splits = SizeExpr::named("einfuse_splits", v.splits);
            SizeExpr bytes = SizeExpr::select(ir::compare(ir::SizeOp::Gt, splits, lit(1)),
                                              splits * total * lit(static_cast<int64_t>(dtype_size(v.combine->partial))),
                                              lit(0));
            out.parts.push_back({i, vi, ir::parallel_vars(kernels[i]), v.grid, splits, bytes});
        }
    return out;
}

std::string to_string(const WorkspaceLayout &layout) {
    std::string out;
    for (const auto &t : layout.temporaries)
        out += "temporary " + t.name + " (" + std::string(dtype_name(t.dtype)) + "): " + t.bytes.to_string() + " bytes\n";
    for (const auto &p : layout.parts)
        out += "parts of kernel " + std::to_string(p.kernel) + ": " + p.bytes.to_string() + " bytes\n";
    return out.empty() ? "no workspace\n" : out;
}

} // namespace einfuse::passes
