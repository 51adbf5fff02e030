#pragma once
// A persistent pool of worker threads for the host backend: threads are started once and wait
// between calls, so a kernel call costs a wake-up, not a thread start. A sleeping thread's
// wake-up is itself costly on a virtual machine (27 us per two-thread call of a tiny kernel on a
// 2-vCPU AMD EPYC Zen 5 VM; 0.1-5 ms on a Zen 3 one), so workers, and the caller waiting for
// them, spin for kSpin before they sleep: the kernels of one program, run back to back, find
// the workers awake. And parts are claimed, not assigned: the caller runs every part no worker
// has claimed by the time its own is done, so a call never waits for a worker still waking up.
// Knows nothing of kernels or the IR.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace einfuse {

class ThreadPool {
  public:
    /** The process's pool; workers are added on demand and live until exit. */
    static ThreadPool &shared();

    /** Runs task(0), ..., task(parts - 1) and returns when all have finished: part 0 on the
     * calling thread, the others on whichever thread claims them first (a worker, or the caller
     * once its part is done). Which thread runs a part never changes what the part computes, so
     * results do not depend on the pool. While another call holds the pool (another
     * user thread, or a task that calls run again) the parts run one after another on the caller
     * instead of waiting. Tasks must not throw. */
    void run(int parts, const std::function<void(int)> &task);

    ~ThreadPool();

    /** How long a worker polls for the next call, and the caller for the workers to finish,
     * before sleeping on a condition variable. */
    static constexpr std::chrono::microseconds kSpin{100};

  private:
    ThreadPool() = default;
    void add_workers(int count);
    void work();

    std::mutex busy_;                 // held for a whole run()
    std::mutex m_;                    // guards everything below (the atomics are written under it
                                      // too, and read without it only to stop spinning)
    std::condition_variable wake_, done_;
    std::vector<std::thread> workers_;
    const std::function<void(int)> *task_ = nullptr; // the call's task; null between calls
    int parts_ = 0;
    int next_part_ = 0;             // the call's first part no thread has claimed
    std::atomic<int> running_{0};   // parts claimed by workers and not finished
    std::atomic<unsigned long> generation_{0};
    std::atomic<bool> stop_{false};
};

} // namespace einfuse
