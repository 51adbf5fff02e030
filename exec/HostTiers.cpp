#include "exec/HostTiers.h"

#include "ir/Walk.h"

#include <algorithm>
#include <deque>
#include <cstdlib>
#include <set>
#include <string>
#include <thread>

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
    std::vector<int64_t> planned_extents(k.index_vars.size(), 1);
    for (int s : tiers.loop_slots) planned_extents[static_cast<std::size_t>(s)] = plan.sizes.at(k.index_vars[s]);
    const double planned = loop_iterations(tiers, planned_extents);
    if (planned <= kQuickIterations) {
        tiers.settled = CodeTier::Quick;
        tiers.first = cold_first ? CodeTier::ColdSmall : CodeTier::Quick;
        tiers.max_iterations = kQuickIterations;
    } else if (cold_first && (planned <= kColdIterations || (own_lanes && planned <= kColdSmallLaneIterations))) {
        tiers.first = CodeTier::ColdSmall;
        tiers.max_iterations = own_lanes ? kColdSmallLaneIterations : kColdIterations;
    } else if (cold_first && own_lanes) {
        tiers.first = CodeTier::Cold;
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

namespace {

/** The one thread that compiles settled code, for every executor of the process, one job at a
 * time in the order asked: a framework whose hundreds of kernels reach their second call at once
 * gets one compile at a time, not hundreds of threads and their memory. Started at the first
 * job. At exit (an atexit handler, registered after LLVM's statics were made, so it runs before
 * they are destroyed: make_compiler_statics makes those of O3 first, as cold code generated at
 * -O0 does not; a fresh-clone CI run crashed at exit twice without it) it cancels the job it runs and is joined; the queue itself is never
 * destroyed, so executors destroyed later still find it. In a child forked from a process that
 * had it, it is not there: the child's jobs are never run (their cold code stays). */
class SettledCodeQueue {
  public:
    static SettledCodeQueue &shared() {
        static SettledCodeQueue *queue = [] {
            llvm_backend::make_compiler_statics(); // before the handler below, which must outlive them
            auto *q = new SettledCodeQueue;
            std::atexit([] { shared().shut_down(); });
            return q;
        }();
        return *queue;
    }

    /** Whether queued jobs run in this process. */
    bool runs_here() const { return !forked(); }

    /** Queues `job`; false when no thread can run it (none could be started, or a forked child). */
    bool push(SettledCode *job) {
        std::lock_guard<std::mutex> hold(m_);
        if (forked() || stop_) return false;
        if (!worker_.joinable()) {
            try {
                worker_ = std::thread([this] { work(); });
            } catch (...) {
                return false;
            }
        }
        jobs_.push_back(job);
        wake_.notify_all();
        return true;
    }

    /** Takes `job` out of the queue, or waits until the worker has finished it. */
    void forget(SettledCode *job) {
        std::unique_lock<std::mutex> hold(m_);
        jobs_.erase(std::remove(jobs_.begin(), jobs_.end(), job), jobs_.end());
        if (forked()) return; // nothing runs here
        idle_.wait(hold, [&] { return running_ != job; });
    }

    void shut_down() {
        std::unique_lock<std::mutex> hold(m_);
        stop_ = true;
        for (SettledCode *job : jobs_) job->give_up(); // never to run: its waiters return
        jobs_.clear();
        if (running_) running_->cancel();
        wake_.notify_all();
        hold.unlock();
        if (!worker_.joinable()) return;
        if (forked()) new std::thread(std::move(worker_)); // the parent's thread: not ours to join
        else worker_.join();
    }

  private:
    SettledCodeQueue() : owner_(getpid()) {}
    bool forked() const { return getpid() != owner_; }

    void work() {
        std::unique_lock<std::mutex> hold(m_);
        for (;;) {
            wake_.wait(hold, [&] { return stop_ || !jobs_.empty(); });
            if (stop_) return;
            running_ = jobs_.front();
            jobs_.pop_front();
            hold.unlock();
            running_->compile();
            hold.lock();
            running_ = nullptr;
            idle_.notify_all();
        }
    }

    const pid_t owner_;
    std::mutex m_;
    std::condition_variable wake_, idle_;
    std::deque<SettledCode *> jobs_;
    SettledCode *running_ = nullptr;
    bool stop_ = false;
    std::thread worker_;
};

} // namespace

SettledCode::SettledCode(std::vector<ir::Kernel> kernels, std::vector<CodeTier> tiers)
    : kernels_(std::move(kernels)), tiers_(std::move(tiers)) {}

SettledCode::~SettledCode() {
    cancel();
    if (queued_) SettledCodeQueue::shared().forget(this);
}

void SettledCode::start() {
    std::call_once(started_, [&] {
        queued_ = SettledCodeQueue::shared().push(this);
        if (queued_) return;
        std::lock_guard<std::mutex> hold(m_); // no thread to run it: the cold code stays
        done_ = true;
        finished_.notify_all();
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

void SettledCode::give_up() {
    std::lock_guard<std::mutex> hold(m_);
    done_ = true;
    finished_.notify_all();
}

const llvm_backend::HostModule *SettledCode::wait() {
    start();
    if (!SettledCodeQueue::shared().runs_here()) return ready(); // forked while it was queued
    std::unique_lock<std::mutex> hold(m_);
    finished_.wait(hold, [&] { return done_; });
    return module_.get();
}

} // namespace einfuse
