#include "exec/HostExecutor.h"

#include "exec/KernelArgs.h"
#include "exec/ThreadPool.h"
#include "ir/Walk.h"
#include "support/Error.h"

#include <algorithm>
#include <atomic>
#include <mutex>
#include <map>
#include <set>

#ifdef EINFUSE_HAVE_LLVM
#include "backends/llvm/HostJit.h"
#include "backends/llvm/Workspace.h"
#include "exec/HostTiers.h"
#endif

namespace einfuse {

#ifdef EINFUSE_HAVE_LLVM

/** Each kernel starts on the code its tiers say (exec/HostTiers.h): the kernels that start on
 * cheaper code keep it for calls of up to their max_iterations, and the first call with more
 * compiles them at full optimisation (once) and keeps both; kernels that start cold run their
 * settled code from when it is ready, compiled in the background from their second call on. */
struct HostExecutor::Impl {
    std::unique_ptr<llvm_backend::HostModule> module;
    std::set<std::string> packed_gemm;           // kernels compiled as the packed GEMM: they split batch x M
    std::map<std::string, KernelTiers> cheaper;  // kernels whose first code is not Full
    mutable std::map<std::string, std::atomic<bool>> ran; // those that start cold: called before?
    std::vector<ir::Kernel> cheaper_kernels;
    std::unique_ptr<SettledCode> settled;        // the settled code of those that start cold
    mutable std::once_flag full_once;
    mutable std::unique_ptr<llvm_backend::HostModule> full; // cheaper_kernels at full optimisation

    struct Code {
        const llvm_backend::HostModule *module;
        llvm_backend::CodeTier tier;
    };
    /** The code a call of k at `extents` (k.index_vars' order) runs. `calling`: the call is about
     * to run, so a kernel's second call starts its settled code's compile, and a call larger
     * than its cheaper code's limit compiles Full code. */
    Code code_for(const ir::Kernel &k, const std::vector<int64_t> &extents, bool calling) const {
        auto cheaper_it = cheaper.find(k.name);
        if (cheaper_it == cheaper.end()) return {module.get(), llvm_backend::CodeTier::Full};
        const KernelTiers &tiers = cheaper_it->second;
        if (loop_iterations(tiers, extents) > tiers.max_iterations) {
            if (calling) std::call_once(full_once, [&] { full = llvm_backend::HostModule::compile(cheaper_kernels); });
            return {full.get(), llvm_backend::CodeTier::Full};
        }
        if (is_cold(tiers.first)) {
            if (const llvm_backend::HostModule *code = settled->ready()) return {code, tiers.settled};
            if (calling && ran.at(k.name).exchange(true)) settled->start(); // its second call
        }
        return {module.get(), tiers.first};
    }
};

HostExecutor::HostExecutor(const passes::Plan &plan) : HostExecutor(plan, cold_code_from_environment()) {}

HostExecutor::HostExecutor(const passes::Plan &plan, bool cold_first) : impl_(std::make_unique<Impl>()) {
    std::vector<llvm_backend::CodeTier> first;
    std::vector<ir::Kernel> cold;
    std::vector<llvm_backend::CodeTier> settled;
    for (const auto &k : plan.kernels) {
        if (k.gemm && k.gemm->host_packed) impl_->packed_gemm.insert(k.name); // as the passes chose
        KernelTiers tiers = choose_tiers(k, plan, cold_first);
        first.push_back(tiers.first);
        if (tiers.first == llvm_backend::CodeTier::Full) continue;
        if (is_cold(tiers.first)) {
            cold.push_back(k), settled.push_back(tiers.settled);
            impl_->ran[k.name] = false;
        }
        impl_->cheaper_kernels.push_back(k);
        impl_->cheaper.emplace(k.name, std::move(tiers));
    }
    impl_->module = llvm_backend::HostModule::compile(plan.kernels, first);
    if (!cold.empty()) impl_->settled = std::make_unique<SettledCode>(std::move(cold), std::move(settled));
}

HostExecutor::~HostExecutor() = default;

void HostExecutor::run(const ir::Kernel &k, const std::vector<const Tensor *> &tensors,
                       const ir::Extents &extents) const {
    KernelArgs args = kernel_args(k, tensors, extents);
    const llvm_backend::HostModule *module = impl_->code_for(k, args.extents, true).module;
    const auto &entry = module->entry(k.name);
    std::vector<void *> data;
    for (const Tensor *t : tensors) data.push_back(const_cast<void *>(t->data()));
    if (!entry.data_slots.empty()) {
        std::vector<void *> in_order;
        for (int slot : entry.data_slots) in_order.push_back(data[static_cast<std::size_t>(slot)]);
        data = std::move(in_order);
    }
    auto fn = entry.fn;
    std::vector<int64_t> shared_extents, shared_strides; // what a kernel whose code is shared takes
    for (int slot : entry.extent_slots) shared_extents.push_back(slot < 0 ? 1 : args.extents[slot]);
    for (int slot : entry.stride_slots) shared_strides.push_back(slot < 0 ? 0 : args.strides[slot]);
    const int64_t *extents_ptr = entry.extent_slots.empty() ? args.extents.data() : shared_extents.data();
    const int64_t *strides_ptr = entry.stride_slots.empty() ? args.strides.data() : shared_strides.data();

    // The outermost parallel loop is split into one contiguous range per part, as the plan's
    // k.host_split says (passes/HostSplit); results do not depend on the count.
    if (impl_->packed_gemm.count(k.name)) {
        // A variable the kernel reads but no GEMM group holds was planned with size 1: the
        // packed GEMM reads it at 0. (Variables the kernel does not use may have any size.)
        const ir::Gemm &g = *k.gemm;
        for (std::size_t v = 0; v < k.index_vars.size(); ++v) {
            bool grouped = false;
            for (const auto *grp : {&g.batch, &g.m, &g.n, &g.k})
                grouped |= std::find(grp->begin(), grp->end(), k.index_vars[v]) != grp->end();
            if (!grouped && args.extents[v] != 1 && ir::uses_var(k, k.index_vars[v]))
                throw UserError("kernel " + k.name + " was planned for " + k.index_vars[v] + "=1 but runs with " +
                                k.index_vars[v] + "=" + std::to_string(args.extents[v]) +
                                ": plan for these sizes first (plan_for)");
        }
    }
    // A packed GEMM splits its rows (batch points x M) instead, in whole micro-tile strips.
    int64_t n = impl_->packed_gemm.count(k.name) ? llvm_backend::gemm_parallel_extent(k, args.extents) : args.outer_extent;
    const ir::HostSplit split = k.host_split.value_or(ir::HostSplit{});
    int64_t parts64 = std::min<int64_t>(split.threads, std::max<int64_t>(n, 1));
    if (split.fewer_when_small) {
        double iterations = 1;
        for (int64_t e : args.extents) iterations *= static_cast<double>(std::max<int64_t>(e, 1));
        parts64 = std::min<int64_t>(parts64, static_cast<int64_t>(iterations / static_cast<double>(split.min_iterations_per_part)) + 1);
    }
    int parts = static_cast<int>(parts64);
    std::atomic<int64_t> missing{0}; // a packed GEMM's workspace that could not be allocated
    ThreadPool::shared().run(parts, [&](int p) {
        fn(data.data(), strides_ptr, extents_ptr, n * p / parts, n * (p + 1) / parts);
        if (int64_t bytes = llvm_backend::take_workspace_failure()) missing = bytes;
        llvm_backend::release_large_workspace();
    });
    if (int64_t bytes = missing.load())
        throw UserError("cannot allocate " + std::to_string(bytes) + " bytes for the workspace of kernel " + k.name +
                        " (its packed panels and tables): out of memory");
}

void HostExecutor::settle() const {
    if (impl_->settled) impl_->settled->wait();
}

const char *HostExecutor::code_tier(const ir::Kernel &k, const std::vector<const Tensor *> &tensors,
                                    const ir::Extents &extents) const {
    switch (impl_->code_for(k, kernel_args(k, tensors, extents).extents, false).tier) {
    case llvm_backend::CodeTier::Cold:
    case llvm_backend::CodeTier::ColdSmall: return "cold";
    case llvm_backend::CodeTier::Quick: return "quick";
    case llvm_backend::CodeTier::Full: break;
    }
    return "full";
}

#else

struct HostExecutor::Impl {};
HostExecutor::HostExecutor(const passes::Plan &plan) : HostExecutor(plan, false) {}
HostExecutor::HostExecutor(const passes::Plan &, bool) {
    throw TargetError("the host backend is not part of this build (configured with EINFUSE_ENABLE_LLVM=OFF)");
}
HostExecutor::~HostExecutor() = default;
void HostExecutor::run(const ir::Kernel &, const std::vector<const Tensor *> &, const ir::Extents &) const {}
void HostExecutor::settle() const {}
const char *HostExecutor::code_tier(const ir::Kernel &, const std::vector<const Tensor *> &, const ir::Extents &) const {
    return "full";
}

#endif

} // namespace einfuse
