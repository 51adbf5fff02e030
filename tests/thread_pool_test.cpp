// The host backend's persistent thread pool: every part runs exactly once, repeatedly, whether
// the workers are awake or still waking; workers do take parts in parallel; and a nested or
// concurrent call still completes (its parts run inline).
#include "exec/ThreadPool.h"

#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <set>
#include <thread>

using einfuse::ThreadPool;

TEST_CASE("thread pool: each part once, call after call, with the workers awake or asleep") {
    for (int round = 0; round < 200; ++round) {
        // Every tenth round the workers have slept past their spin: the caller then usually runs
        // the parts itself, and a worker waking late must find nothing left to run.
        if (round % 10 == 0) std::this_thread::sleep_for(ThreadPool::kSpin * 5);
        for (int parts : {1, 2, 3, 5}) {
            std::vector<std::atomic<int>> hits(parts);
            std::thread::id first;
            ThreadPool::shared().run(parts, [&](int p) {
                ++hits[p];
                if (p == 0) first = std::this_thread::get_id();
            });
            for (int p = 0; p < parts; ++p) CHECK(hits[p] == 1);
            bool on_caller = first == std::this_thread::get_id(); // part 0 runs on the caller
            CHECK(on_caller);
        }
    }
}

TEST_CASE("thread pool: workers take parts while the caller's part runs") {
    // Part 0 waits until every part has started: only workers can start the others meanwhile.
    for (int parts : {2, 4}) {
        std::mutex m;
        std::condition_variable started_cv;
        int started = 0;
        std::set<std::thread::id> who;
        bool all_started = false;
        ThreadPool::shared().run(parts, [&](int) {
            std::unique_lock<std::mutex> lock(m);
            ++started;
            who.insert(std::this_thread::get_id());
            started_cv.notify_all();
            all_started = started_cv.wait_for(lock, std::chrono::seconds(20), [&] { return started == parts; });
        });
        CHECK(all_started);
        CHECK(who.size() == static_cast<std::size_t>(parts));
    }
}

TEST_CASE("thread pool: nested and concurrent calls complete") {
    std::atomic<int> inner{0};
    ThreadPool::shared().run(3, [&](int) { ThreadPool::shared().run(4, [&](int) { ++inner; }); });
    CHECK(inner == 12);

    std::atomic<int> total{0};
    std::vector<std::thread> users;
    for (int u = 0; u < 4; ++u)
        users.emplace_back([&] {
            for (int r = 0; r < 100; ++r) ThreadPool::shared().run(3, [&](int) { ++total; });
        });
    for (auto &t : users) t.join();
    CHECK(total == 4 * 100 * 3);
}
