#include "exec/ThreadPool.h"

#include "support/Error.h"

#include <string>
#include <system_error>

namespace einfuse {

namespace {

/** Polls done() for up to ThreadPool::kSpin; true once it holds. */
template <class Done> bool spin_until(Done done) {
    const auto until = std::chrono::steady_clock::now() + ThreadPool::kSpin;
    do {
        for (int i = 0; i < 64; ++i) {
            if (done()) return true;
#if defined(__x86_64__) || defined(__i386__)
            __builtin_ia32_pause();
#endif
        }
    } while (std::chrono::steady_clock::now() < until);
    return done();
}

} // namespace

ThreadPool &ThreadPool::shared() {
    static ThreadPool pool;
    return pool;
}

ThreadPool::~ThreadPool() {
    {
        std::lock_guard<std::mutex> lock(m_);
        stop_ = true;
    }
    wake_.notify_all();
    for (auto &t : workers_) t.join();
}

void ThreadPool::add_workers(int count) {
    while (static_cast<int>(workers_.size()) < count) {
        int number = static_cast<int>(workers_.size()) + 1;
        try {
            workers_.emplace_back([this] { work(); });
        } catch (const std::system_error &e) {
            // The system refused a thread (a process or memory limit): the caller's problem to
            // size, not an einfuse bug. The workers started so far stay and serve later calls.
            throw TargetError("cannot start host worker thread " + std::to_string(number) + " of " +
                              std::to_string(count) + ": " + e.what() +
                              " (a process, thread or memory limit; ask for fewer threads: --threads, "
                              "KernelOptions::threads)");
        }
    }
}

/** Each worker waits for a new generation, then runs the call's unclaimed parts until none is left. */
void ThreadPool::work() {
    unsigned long seen = 0;
    for (;;) {
        spin_until([&] { return stop_.load(std::memory_order_acquire) || generation_.load(std::memory_order_acquire) != seen; });
        std::unique_lock<std::mutex> lock(m_);
        wake_.wait(lock, [&] { return stop_ || generation_ != seen; });
        if (stop_) return;
        seen = generation_;
        while (task_ && next_part_ < parts_) {
            const std::function<void(int)> *task = task_;
            int part = next_part_++;
            ++running_;
            lock.unlock();
            (*task)(part);
            lock.lock();
            if (--running_ == 0) done_.notify_one();
        }
    }
}

void ThreadPool::run(int parts, const std::function<void(int)> &task) {
    std::unique_lock<std::mutex> busy(busy_, std::try_to_lock);
    if (parts <= 1 || !busy.owns_lock()) {
        for (int p = 0; p < parts; ++p) task(p);
        return;
    }
    {
        std::lock_guard<std::mutex> lock(m_);
        add_workers(parts - 1);
        task_ = &task;
        parts_ = parts;
        next_part_ = 1;
        running_ = 0;
        ++generation_;
    }
    wake_.notify_all();
    task(0);
    // The parts no worker has claimed yet run here: a worker still waking up (a halted vCPU takes
    // 0.1-5 ms on a 2-vCPU VM) then finds nothing left, and the call never waits for it.
    for (;;) {
        int part;
        {
            std::lock_guard<std::mutex> lock(m_);
            if (next_part_ >= parts_) break;
            part = next_part_++;
        }
        task(part);
    }
    spin_until([&] { return running_.load(std::memory_order_acquire) == 0; });
    std::unique_lock<std::mutex> lock(m_);
    done_.wait(lock, [&] { return running_ == 0; });
    task_ = nullptr;
}

} // namespace einfuse
