// The host time of a compiled einsum called with changing sizes, as a framework with variable
// batch sizes calls it: batch 100, then 5000, then 100, ... (sizes seen before), and a new batch
// size every call (never seen), near 5000 and near 100. Beside them, the same calls at one
// repeated size. The kernel runs too (b x 3x3 products, at most 0.2 ms at b=5000): each figure is
// a median per call over bursts, and the difference to the repeated size is what changing sizes
// costs. A benchmark, not a test.
// Usage: host_size_switch [CALLS]
#include <einfuse/einfuse.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <vector>

namespace {

double median_us(int calls, const std::function<void(int)> &call) {
    std::vector<double> per_call;
    for (int round = 0; round < 9; ++round) {
        auto start = std::chrono::steady_clock::now();
        for (int i = 0; i < calls; ++i) call(round * calls + i);
        auto end = std::chrono::steady_clock::now();
        per_call.push_back(std::chrono::duration<double, std::micro>(end - start).count() / calls);
    }
    std::sort(per_call.begin(), per_call.end());
    return per_call[per_call.size() / 2];
}

} // namespace

int main(int argc, char **argv) {
    const int calls = argc > 1 ? std::atoi(argv[1]) : 40;
    using einfuse::ScalarType;
    using einfuse::View;
    const std::int64_t most = 5000 + 9 * calls + 1;
    std::vector<float> a(most * 9, 0.5f), c(most * 9, 0.25f), out(most * 9);
    einfuse::Kernel k = einfuse::compile("bij,bjk->bik", einfuse::Signature::einsum({ScalarType::F32, ScalarType::F32}),
                                         einfuse::DeviceKind::Cpu, einfuse::KernelOptions{});
    auto run = [&](std::int64_t b) {
        k.run({View(a.data(), ScalarType::F32, {b, 3, 3}), View(c.data(), ScalarType::F32, {b, 3, 3})},
              {View(out.data(), ScalarType::F32, {b, 3, 3})});
    };
    run(100), run(5000); // plans and compiles both: not timed
    double same_small = median_us(calls, [&](int) { run(100); });
    double same_large = median_us(calls, [&](int) { run(5000); });
    double alternating = median_us(calls, [&](int i) { run(i % 2 ? 5000 : 100); });
    double fresh = median_us(calls, [&](int i) { run(5001 + i); });
    double fresh_small = median_us(calls, [&](int i) { run(101 + i); }); // b = 101 ... 100 + 9 * calls
    std::printf("bij,bjk->bik, D=3, host, per call: repeated b=100 %.1f us, repeated b=5000 %.1f us; "
                "alternating 100/5000 %.1f us (their mean %.1f); a new b every call %.1f us (near 5000), "
                "%.1f us (near 100)\n",
                same_small, same_large, alternating, (same_small + same_large) / 2, fresh, fresh_small);
    return 0;
}
