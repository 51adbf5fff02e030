// The host time of a cached call through the public C++ API: the kernel compiled once, device
// arrays, and run() called in a burst short enough that the GPU's queue never fills, so that the
// wall time per call is einfuse's own work plus the driver's launch (not the kernel's run time).
// Beside it, the same burst of bare driver launches (cuLaunchKernel of an empty kernel), the
// floor any launcher pays; and the call with a new batch size every time (a shape class's plan
// and code reused: issue 17). A benchmark, not a test: it prints, it asserts nothing.
// Usage: gpu_call_overhead [CALLS]
#include <einfuse/einfuse.hpp>

#include "runtime/CudaDriver.h"
#include "runtime/Nvrtc.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <vector>

int main(int argc, char **argv) {
    const int calls = argc > 1 ? std::atoi(argv[1]) : 200;
    using einfuse::Array;
    using einfuse::Device;
    using einfuse::ScalarType;
    const std::int64_t b = 4096; // 4 us of kernel at most: the queue stays short
    // Uninitialised device memory: the values do not change the host time being measured.
    Array a(ScalarType::F32, {b, 2, 2}, Device::cuda()), c(ScalarType::F32, {b, 2, 2}, Device::cuda());
    Array out(ScalarType::F32, {b, 2, 2}, Device::cuda());
    einfuse::Kernel k = einfuse::compile("bij,bjk->bik", einfuse::Signature::of({a.view(), c.view()}),
                                         einfuse::DeviceKind::Cuda);
    k.run({a.view(), c.view()}, {out.view()}); // plans, compiles, loads: not timed
    std::vector<double> per_call_us;
    for (int round = 0; round < 20; ++round) {
        (void)out.to_doubles(); // waits for the queue to drain (the copy is on the default stream)
        auto start = std::chrono::steady_clock::now();
        for (int i = 0; i < calls; ++i) k.run({a.view(), c.view()}, {out.view()});
        auto end = std::chrono::steady_clock::now();
        per_call_us.push_back(std::chrono::duration<double, std::micro>(end - start).count() / calls);
    }
    std::sort(per_call_us.begin(), per_call_us.end());
    std::printf("cached call of bij,bjk->bik (B=%lld, D=2, device arrays): %.2f us host time per call "
                "(median of 20 bursts of %d; best %.2f us)\n",
                static_cast<long long>(b), per_call_us[per_call_us.size() / 2], calls, per_call_us.front());

    // A new batch size every call (b - 1, b - 2, ...: views of the same arrays), as a framework
    // with variable batches calls it: the plan and code of the shape class serve every one.
    std::vector<double> fresh_us;
    std::int64_t next = b;
    auto view_of = [](Array &x, std::int64_t n) {
        return einfuse::View(x.data(), ScalarType::F32, {n, 2, 2}, {}, Device::cuda());
    };
    for (int round = 0; round < 20; ++round) {
        (void)out.to_doubles();
        auto start = std::chrono::steady_clock::now();
        for (int i = 0; i < calls && next > 1; ++i, --next)
            k.run({view_of(a, next), view_of(c, next)}, {view_of(out, next)});
        auto end = std::chrono::steady_clock::now();
        fresh_us.push_back(std::chrono::duration<double, std::micro>(end - start).count() / calls);
    }
    std::sort(fresh_us.begin(), fresh_us.end());
    std::printf("the same with a new batch size every call (%lld down to %lld): %.2f us host time per call\n",
                static_cast<long long>(b), static_cast<long long>(next), fresh_us[fresh_us.size() / 2]);

    einfuse::CudaContext &ctx = einfuse::CudaContext::get();
    einfuse::CudaModule module(einfuse::cuda_cubin("extern \"C\" __global__ void empty() {}", ctx.arch()));
    einfuse::CudaFunction empty = module.function("empty");
    std::vector<double> bare_us;
    for (int round = 0; round < 20; ++round) {
        ctx.synchronize();
        auto start = std::chrono::steady_clock::now();
        for (int i = 0; i < calls; ++i) einfuse::cuda_launch(empty, 1, 32, nullptr);
        auto end = std::chrono::steady_clock::now();
        bare_us.push_back(std::chrono::duration<double, std::micro>(end - start).count() / calls);
    }
    std::sort(bare_us.begin(), bare_us.end());
    std::printf("bare cuLaunchKernel of an empty kernel, same bursts: %.2f us per launch (best %.2f us)\n",
                bare_us[bare_us.size() / 2], bare_us.front());
    return 0;
}
