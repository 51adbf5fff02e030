// The host backend's persistent thread pool: every part runs exactly once, on as many threads as
// asked, repeatedly, and a nested or concurrent call still completes (its parts run inline).
#include "exec/ThreadPool.h"

#include <doctest/doctest.h>

#include <atomic>
#include <set>
#include <thread>

using einfuse::ThreadPool;

TEST_CASE("thread pool: each part once, on distinct threads, call after call") {
    for (int round = 0; round < 50; ++round)
        for (int parts : {1, 2, 3, 5}) {
            std::vector<int> hits(parts, 0);
            std::vector<std::thread::id> who(parts);
            ThreadPool::shared().run(parts, [&](int p) {
                ++hits[p];
                who[p] = std::this_thread::get_id();
            });
            for (int p = 0; p < parts; ++p) CHECK(hits[p] == 1);
            bool on_caller = who[0] == std::this_thread::get_id(); // part 0 runs on the caller
            CHECK(on_caller);
            CHECK(std::set<std::thread::id>(who.begin(), who.end()).size() == static_cast<std::size_t>(parts));
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
