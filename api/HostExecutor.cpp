#include "api/HostExecutor.h"

#include "api/KernelArgs.h"
#include "support/Error.h"

#include <algorithm>
#include <thread>

#ifdef EINFUSE_HAVE_LLVM
#include "backends/llvm/HostJit.h"
#endif

namespace einfuse {

#ifdef EINFUSE_HAVE_LLVM

struct HostExecutor::Impl {
    std::unique_ptr<llvm_backend::HostModule> module;
    int threads;
};

HostExecutor::HostExecutor(const passes::Plan &plan, int threads) : impl_(std::make_unique<Impl>()) {
    impl_->module = llvm_backend::HostModule::compile(plan.kernels);
    unsigned cores = std::max(1u, std::thread::hardware_concurrency());
    impl_->threads = threads > 0 ? threads : static_cast<int>(cores);
}

HostExecutor::~HostExecutor() = default;

void HostExecutor::run(const ir::Kernel &k, const std::vector<const Tensor *> &tensors,
                       const ir::Extents &extents) const {
    KernelArgs args = kernel_args(k, tensors, extents);
    std::vector<void *> data;
    for (const Tensor *t : tensors) data.push_back(const_cast<void *>(t->data()));
    auto fn = impl_->module->function(k.name);

    // The outermost parallel loop is split into one contiguous range per worker; every element
    // is computed by the same code whatever the split, so results do not depend on the count.
    int64_t n = args.outer_extent;
    int workers = static_cast<int>(std::min<int64_t>(impl_->threads, std::max<int64_t>(n, 1)));
    auto range = [&](int w) { return std::pair<int64_t, int64_t>{n * w / workers, n * (w + 1) / workers}; };
    if (workers <= 1) {
        fn(data.data(), args.strides.data(), args.extents.data(), 0, n);
        return;
    }
    std::vector<std::thread> pool;
    for (int w = 1; w < workers; ++w)
        pool.emplace_back([&, w] {
            auto [begin, end] = range(w);
            fn(data.data(), args.strides.data(), args.extents.data(), begin, end);
        });
    auto [begin, end] = range(0);
    fn(data.data(), args.strides.data(), args.extents.data(), begin, end);
    for (auto &t : pool) t.join();
}

#else

struct HostExecutor::Impl {};
HostExecutor::HostExecutor(const passes::Plan &, int) {
    throw TargetError("the host backend is not part of this build (configured with EINFUSE_ENABLE_LLVM=OFF)");
}
HostExecutor::~HostExecutor() = default;
void HostExecutor::run(const ir::Kernel &, const std::vector<const Tensor *> &, const ir::Extents &) const {}

#endif

} // namespace einfuse
