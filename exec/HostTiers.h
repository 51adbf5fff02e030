#pragma once
// Which code each host kernel runs, and when it is compiled (issue 16's first call). A kernel's
// first calls may run cheaply compiled code (llvm_backend::CodeTier::Cold or Quick); from its
// second call on, the code it settles on is compiled on the process's one compile thread while
// the cheap code keeps running, and replaces it once whole. This is the executor's choice, not the plan's: a
// plan serves a class of sizes (bmm's for any batch), and which code is worth compiling depends
// on the sizes a call brings.
#include "backends/llvm/HostJit.h"
#include "passes/Pipeline.h"

#include <condition_variable>
#include <limits>
#include <mutex>

namespace einfuse {

/** Calls of at most this many loop iterations settle on LLVM's O2 (CodeTier::Quick) instead of
 * O3: the small kernels of opt_einsum's cases compile in less CPU time and ran as fast
 * (docs/performance.md); a larger call may gain from O3's unrolling. */
constexpr double kQuickIterations = 4096;

/** Kernels of at most this many loop iterations may start on cold code even where LLVM's
 * vectorisers write their lanes: bmm's unrolled kernels ran 6-20x slower cold (D=3: 28 ns an
 * iteration against 5), which at this size costs a few milliseconds a call until the settled
 * code arrives, against 20-60 ms saved in compiling (`...lmn,lmno->...o`'s final sum over l,m,
 * 76,800 iterations: 57 ms at O3). */
constexpr double kColdIterations = 262144;

/** Kernels whose lanes the printer writes (along a sum) start on the cheapest code generation
 * (CodeTier::ColdSmall) up to this many iterations, a run of some 10 ms, and on Cold's -O1 above,
 * where a run's slowdown would outweigh the compile time saved. `...lmn,lmno->...o` (9.2 million
 * iterations) on a Zen 3 VM: first call 59 ms instead of 94, its cold runs 11.4 ms against 9.2;
 * `ijk,k->ij` 320x256x192 (15.7 million): 28 against 41 ms, the runs as fast (13.2, 14.5). */
constexpr double kColdSmallLaneIterations = 1 << 24;

/** Whether code of this tier is cold code (the first calls'; replaced by the settled code). */
inline bool is_cold(llvm_backend::CodeTier t) {
    return t == llvm_backend::CodeTier::Cold || t == llvm_backend::CodeTier::ColdSmall;
}

struct KernelTiers {
    llvm_backend::CodeTier first = llvm_backend::CodeTier::Full;   // compiled with the executor
    llvm_backend::CodeTier settled = llvm_backend::CodeTier::Full; // what later calls run
    /** A call of more loop iterations runs Full code, compiled then (once): the cheaper tiers
     * were chosen for the plan's sizes. */
    double max_iterations = std::numeric_limits<double>::infinity();
    std::vector<int> loop_slots; // positions in k.index_vars of the variables k loops over
};

/** The tiers of k in `plan`. Packed GEMMs and lanes the printer writes itself (along a sum) start
 * cold at any size; other kernels start cold up to kColdIterations at the plan's sizes, and
 * those whose loops' sizes the plan leaves free start Full. Loop nests of at most
 * kColdIterations at the plan's sizes, and lanes kernels of at most kColdSmallLaneIterations,
 * start on ColdSmall, whose code generation is cheapest (a larger call than that runs Full
 * code, as above); larger lanes kernels on Cold. `cold_first` false: none starts cold (the
 * tiers before cold code, for comparisons: EINFUSE_HOST_COLD_CODE=0). */
KernelTiers choose_tiers(const ir::Kernel &k, const passes::Plan &plan, bool cold_first);

/** The iterations of k's loop nest at these extents (in k.index_vars order). */
double loop_iterations(const KernelTiers &tiers, const std::vector<int64_t> &extents);

/** EINFUSE_HOST_COLD_CODE: unset or anything but "0" starts kernels on cold code. */
bool cold_code_from_environment();

/** The settled code of the kernels that start cold, compiled once when asked, on the process's
 * one thread for such compiles (queued behind other executors' in the order asked), with one
 * thread of LLVM's; its objects go to the disk cache like any other; published whole. A failed
 * or cancelled compile leaves the cold code running. */
class SettledCode {
  public:
    SettledCode(std::vector<ir::Kernel> kernels, std::vector<llvm_backend::CodeTier> tiers);
    /** Takes a queued compile out of the queue, or cancels one in progress (LLVM skips its
     * remaining optional passes) and waits for it. */
    ~SettledCode();
    SettledCode(const SettledCode &) = delete;
    SettledCode &operator=(const SettledCode &) = delete;

    /** Queues the compile; later calls do nothing. Safe from any thread. */
    void start();
    /** The settled code once compiled, else nullptr. Safe from any thread, lock-free. */
    const llvm_backend::HostModule *ready() const { return ready_.load(std::memory_order_acquire); }
    /** Starts the compile if needed and waits for it: the settled code, or nullptr if it failed
     * or cannot run (a child forked from a process that compiled in the background). */
    const llvm_backend::HostModule *wait();

    /** Compiles, on the calling thread (the queue's); then wait() returns. */
    void compile();
    /** Asks a compile in progress to stop as soon as LLVM allows. */
    void cancel() { cancel_ = true; }
    /** The compile will never run (the process is exiting): wait() returns, the cold code stays. */
    void give_up();

  private:
    const std::vector<ir::Kernel> kernels_;
    const std::vector<llvm_backend::CodeTier> tiers_;
    std::once_flag started_;
    bool queued_ = false; // written once in start(), read by the destructor
    std::atomic<bool> cancel_{false};
    std::unique_ptr<llvm_backend::HostModule> module_;
    std::atomic<const llvm_backend::HostModule *> ready_{nullptr};
    std::mutex m_;
    std::condition_variable finished_;
    bool done_ = false;
};

} // namespace einfuse
