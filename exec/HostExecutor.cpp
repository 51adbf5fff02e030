#include "exec/HostExecutor.h"

#include "exec/KernelArgs.h"
#include "exec/ThreadPool.h"
#include "ir/Walk.h"
#include "support/Error.h"

#include <algorithm>
#include <atomic>
#include <mutex>
#include <map>
#include <optional>
#include <set>
#include <thread>

#ifdef EINFUSE_HAVE_LLVM
#include "backends/llvm/HostJit.h"
#include "backends/llvm/Workspace.h"
#endif

namespace einfuse {

#ifdef EINFUSE_HAVE_LLVM

namespace {

/** Calls of at most this many loop iterations run code compiled quickly (LLVM's O2 instead of
 * O3): the small kernels of opt_einsum's cases compile in less CPU time and ran as fast
 * (docs/performance.md); a larger call may gain from O3's unrolling. */
constexpr double kQuickIterations = 4096;

/** The positions in k.index_vars of the variables k loops over; nothing when one is not there. */
std::optional<std::vector<int>> loop_slots(const ir::Kernel &k) {
    std::set<std::string> loops;
    ir::for_each_loop(k.body, [&](const ir::For &f) { loops.insert(f.var); });
    std::vector<int> slots;
    for (const auto &v : loops) {
        slots.push_back(k.var_index(v));
        if (slots.back() < 0) return std::nullopt;
    }
    return slots;
}

/** The iterations of a loop nest: the product of the extents at `slots`. */
template <class F> double iterations(const std::vector<int> &slots, F &&extent) {
    double n = 1;
    for (int s : slots) n *= static_cast<double>(std::max<int64_t>(extent(s), 1));
    return n;
}

} // namespace

/** The code tier is the executor's, not the plan's: a plan serves a class of sizes (bmm's for
 * any batch), and which code is worth compiling depends on the call. Kernels that run few
 * iterations at the sizes the plan was made for compile quickly; the first call with more
 * iterations compiles them again with the full pipeline (once) and keeps both. */
struct HostExecutor::Impl {
    std::unique_ptr<llvm_backend::HostModule> module;
    std::set<std::string> packed_gemm; // kernels compiled as the packed GEMM: they split batch x M
    std::map<std::string, std::vector<int>> quick; // kernels module holds compiled quickly: their loops' slots
    std::vector<ir::Kernel> quick_kernels;
    mutable std::once_flag full_once;
    mutable std::unique_ptr<llvm_backend::HostModule> full; // quick_kernels at full optimisation
};

HostExecutor::HostExecutor(const passes::Plan &plan) : impl_(std::make_unique<Impl>()) {
    std::vector<bool> quick;
    for (const auto &k : plan.kernels) {
        if (k.gemm && k.gemm->host_packed) impl_->packed_gemm.insert(k.name); // as the passes chose
        auto slots = loop_slots(k);
        bool sized = slots && std::all_of(slots->begin(), slots->end(), [&](int s) { return plan.sizes.count(k.index_vars[s]); });
        quick.push_back(sized && !impl_->packed_gemm.count(k.name) &&
                        iterations(*slots, [&](int s) { return plan.sizes.at(k.index_vars[s]); }) <= kQuickIterations);
        if (quick.back()) impl_->quick[k.name] = *slots, impl_->quick_kernels.push_back(k);
    }
    impl_->module = llvm_backend::HostModule::compile(plan.kernels, quick);
}

HostExecutor::~HostExecutor() = default;

void HostExecutor::run(const ir::Kernel &k, const std::vector<const Tensor *> &tensors,
                       const ir::Extents &extents) const {
    KernelArgs args = kernel_args(k, tensors, extents);
    const llvm_backend::HostModule *module = impl_->module.get();
    auto quick = impl_->quick.find(k.name);
    if (quick != impl_->quick.end() &&
        iterations(quick->second, [&](int s) { return args.extents[static_cast<std::size_t>(s)]; }) > kQuickIterations) {
        std::call_once(impl_->full_once, [&] { impl_->full = llvm_backend::HostModule::compile(impl_->quick_kernels); });
        module = impl_->full.get();
    }
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

#else

struct HostExecutor::Impl {};
HostExecutor::HostExecutor(const passes::Plan &) {
    throw TargetError("the host backend is not part of this build (configured with EINFUSE_ENABLE_LLVM=OFF)");
}
HostExecutor::~HostExecutor() = default;
void HostExecutor::run(const ir::Kernel &, const std::vector<const Tensor *> &, const ir::Extents &) const {}

#endif

} // namespace einfuse
