// einfuse_kernel_source and einfuse_run on one kernel from two threads (issue 14 item 10): a text
// handed out stays as it was until einfuse_free. Before, the kernel kept one string and the next
// einfuse_kernel_source (after a run at new sizes) freed the text another thread was reading.
#include "einfuse/einfuse.h"

#include "CAbiTensors.h"

#include <doctest/doctest.h>

#include <atomic>
#include <cstdint>
#include <cstring>
#include <string>
#include <thread>
#include <utility>
#include <vector>

using einfuse::test::host_f32;

namespace {


/** Runs k once on (b, 2, 2) inputs: the kernel's sizes, and so its source, follow b. */
int run_at(einfuse_kernel *k, int64_t b) {
    std::vector<float> x(static_cast<std::size_t>(b) * 4, 1.0f), y(x.size());
    int64_t shape[3] = {b, 2, 2};
    DLTensor in[2] = {host_f32(x.data(), 3, shape), host_f32(x.data(), 3, shape)};
    DLTensor out = host_f32(y.data(), 3, shape);
    return einfuse_run(k, 2, in, 1, &out);
}

} // namespace

TEST_CASE("C ABI threads: a source text stays valid while another thread runs and asks again") {
    einfuse_kernel *k = einfuse_compile("bij,bjk->bik", 2, nullptr, nullptr, kDLCPU);
    REQUIRE(k != nullptr);

    SUBCASE("in sequence: the first text survives a run at new sizes and a second call") {
        REQUIRE(run_at(k, 3) == EINFUSE_OK);
        const char *first = einfuse_kernel_source(k);
        REQUIRE(first != nullptr);
        const std::string saved = first;
        REQUIRE(run_at(k, 5000) == EINFUSE_OK);
        const char *second = einfuse_kernel_source(k);
        REQUIRE(second != nullptr);
        CHECK(saved == first);                     // read through the old pointer: freed before the fix
        CHECK(einfuse_kernel_source(k) == second); // the same text again: the same copy
    }

    SUBCASE("in parallel: one thread runs at changing sizes and asks for the source, another reads") {
        std::atomic<bool> stop{false};
        std::atomic<int> failures{0};
        std::thread runner([&] {
            for (int i = 0; i < 60; ++i) {
                if (run_at(k, 1 + (i % 4) * 1000) != EINFUSE_OK) ++failures;
                if (!einfuse_kernel_source(k)) ++failures;
            }
            stop = true;
        });
        std::vector<std::pair<const char *, std::string>> seen;
        while (!stop) {
            const char *text = einfuse_kernel_source(k);
            if (!text) {
                ++failures;
                continue;
            }
            seen.emplace_back(text, std::string(text));
            for (auto it = seen.end() - std::min<std::ptrdiff_t>(8, static_cast<std::ptrdiff_t>(seen.size()));
                 it != seen.end(); ++it)
                if (std::strcmp(it->first, it->second.c_str()) != 0) ++failures; // changed under us
        }
        runner.join();
        CHECK(failures == 0);
        CHECK(!seen.empty());
        for (const auto &[pointer, text] : seen)
            CHECK(text == pointer);
    }
    einfuse_free(k);
}
