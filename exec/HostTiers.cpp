#include "exec/HostTiers.h"

#include "ir/Walk.h"

#include <algorithm>
#include <cstdlib>
#include <set>
#include <string>

#include <unistd.h>

namespace einfuse {

using llvm_backend::CodeTier;

KernelTiers choose_tiers(const ir::Kernel &k, const passes::Plan &plan, bool cold_first) {
    KernelTiers tiers;
    if (k.gemm && k.gemm->host_packed) { // its cold code only skips the unrolling: as fast, or nearly
        if (cold_first) tiers.first = CodeTier::Cold;
        return tiers;
    }
    std::set<std::string> loops;
    ir::for_each_loop(k.body, [&](const ir::For &f) { loops.insert(f.var); });
    bool sized = true;
    for (const auto &v : loops) {
        tiers.loop_slots.push_back(k.var_index(v));
        sized &= tiers.loop_slots.back() >= 0 && plan.sizes.count(v) > 0;
    }
    const bool own_lanes = k.host_vectors && k.host_vectors->reduction_lanes;
    if (!sized) {
        if (own_lanes && cold_first) tiers.first = CodeTier::Cold; // measured as fast as Full's
        return tiers;
    }
    double planned = 1;
    for (int s : tiers.loop_slots) planned *= static_cast<double>(std::max<int64_t>(plan.sizes.at(k.index_vars[s]), 1));
    if (planned <= kQuickIterations) {
        tiers.settled = CodeTier::Quick;
        tiers.first = cold_first ? CodeTier::Cold : CodeTier::Quick;
        tiers.max_iterations = kQuickIterations;
    } else if (cold_first && (own_lanes || planned <= kColdIterations)) {
        tiers.first = CodeTier::Cold;
        if (!own_lanes) tiers.max_iterations = kColdIterations;
    }
    return tiers;
}

double loop_iterations(const KernelTiers &tiers, const std::vector<int64_t> &extents) {
    double n = 1;
    for (int s : tiers.loop_slots) n *= static_cast<double>(std::max<int64_t>(extents[static_cast<std::size_t>(s)], 1));
    return n;
}

bool cold_code_from_environment() {
    const char *e = std::getenv("EINFUSE_HOST_COLD_CODE");
    return !e || std::string(e) != "0";
}

SettledCode::SettledCode(std::vector<ir::Kernel> kernels, std::vector<CodeTier> tiers)
    : kernels_(std::move(kernels)), tiers_(std::move(tiers)) {}

SettledCode::~SettledCode() {
    cancel_ = true;
    if (!thread_.joinable()) return;
    if (forked()) { // the compile's thread was not copied into this process: nothing to join
        new std::thread(std::move(thread_)); // left unjoined, never destroyed
        return;
    }
    thread_.join();
}

bool SettledCode::forked() const { return owner_ != getpid(); }

void SettledCode::start() {
    std::call_once(started_, [&] {
        owner_ = getpid();
        try {
            thread_ = std::thread([this] { compile(); });
        } catch (...) { // no thread to be had: the cold code keeps running
            std::lock_guard<std::mutex> hold(m_);
            done_ = true;
        }
    });
}

void SettledCode::compile() {
    std::unique_ptr<llvm_backend::HostModule> module;
    try {
        llvm_backend::CompileControl control;
        control.cancel = &cancel_;
        control.threads = 1; // the caller's work has the other cores
        module = llvm_backend::HostModule::compile(kernels_, tiers_, control);
    } catch (...) { // cancelled, or LLVM failed where the cold code compiled: keep the cold code
    }
    std::lock_guard<std::mutex> hold(m_);
    module_ = std::move(module);
    ready_.store(module_.get(), std::memory_order_release);
    done_ = true;
    finished_.notify_all();
}

const llvm_backend::HostModule *SettledCode::wait() {
    start();
    if (forked()) return ready(); // a fork during the compile: this process keeps its cold code
    std::unique_lock<std::mutex> hold(m_);
    finished_.wait(hold, [&] { return done_; });
    return module_.get();
}

} // namespace einfuse
