// The C ABI from C++, against an installed einfuse: a batched 2x2 product in float64 through a
// cached kernel, checked against a loop. With einfuse/einfuse.hpp installed, the C++ API too.
#include <einfuse/einfuse.h>
#include <einfuse/version.h>
#if __has_include(<einfuse/einfuse.hpp>)
#include <einfuse/einfuse.hpp>
#define CONSUMER_HAVE_CPP_API 1
#endif

#include <cmath>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

namespace {

DLTensor host_f64(std::vector<double> &data, std::vector<int64_t> &shape) {
    DLTensor t{};
    t.data = data.data();
    t.device = {kDLCPU, 0};
    t.ndim = static_cast<int>(shape.size());
    t.dtype = {kDLFloat, 64, 1};
    t.shape = shape.data();
    return t;
}

} // namespace

int main() {
    int failures = 0;
    auto expect = [&](bool ok, const char *what) {
        if (!ok) {
            std::fprintf(stderr, "consumer_cpp: check failed: %s (%s)\n", what, einfuse_last_error());
            ++failures;
        }
    };

    const int64_t B = 1000;
    std::vector<double> a(B * 4), b(B * 4), c(B * 4);
    for (std::size_t n = 0; n < a.size(); ++n) {
        a[n] = std::sin(0.1 * static_cast<double>(n) + 0.3);
        b[n] = std::cos(0.7 * static_cast<double>(n) - 0.2);
    }
    std::vector<int64_t> shape{B, 2, 2};
    DLTensor in[2] = {host_f64(a, shape), host_f64(b, shape)};
    DLTensor out = host_f64(c, shape);

    DLDataType f64{kDLFloat, 64, 1};
    DLDataType dtypes[2] = {f64, f64};
    std::unique_ptr<einfuse_kernel, void (*)(einfuse_kernel *)> k(
        einfuse_compile("bij,bjk->bik", 2, dtypes, nullptr, kDLCPU), einfuse_free);
    expect(k != nullptr, "einfuse_compile");
    if (!k) return 1;
    for (int round = 0; round < 3; ++round)
        expect(einfuse_run(k.get(), 2, in, 1, &out) == EINFUSE_OK, "einfuse_run");
    double worst = 0;
    for (int64_t bi = 0; bi < B; ++bi)
        for (int i = 0; i < 2; ++i)
            for (int j = 0; j < 2; ++j) {
                double want = a[bi * 4 + i * 2] * b[bi * 4 + j] + a[bi * 4 + i * 2 + 1] * b[bi * 4 + 2 + j];
                worst = std::fmax(worst, std::fabs(c[bi * 4 + i * 2 + j] - want));
            }
    expect(worst < 1e-12, "bij,bjk->bik matches the loop");

    std::string source = einfuse_kernel_source(k.get()) ? einfuse_kernel_source(k.get()) : "";
    expect(source.find("extern \"C\"") != std::string::npos, "kernel source has a launcher");

    // einfuse_einsum with the same signature uses the cache: twice, no recompilation.
    for (int round = 0; round < 2; ++round)
        expect(einfuse_einsum("bij,bjk->bik", 2, in, &out) == EINFUSE_OK, "einfuse_einsum");
    expect(einfuse_einsum("bij,bjk->bik", 2, in, nullptr) == EINFUSE_ERROR_ARGUMENT, "null output is an error");

#ifdef CONSUMER_HAVE_CPP_API
    // The C++ API on the same DLPack tensors: the same numbers, and the same cache: the kernel
    // einfuse_einsum compiled is a hit here.
    einfuse::CacheStats before = einfuse::compile_cache_stats();
    einfuse::Array r = einfuse::einsum("bij,bjk->bik", einfuse::from_dlpack(in[0]), einfuse::from_dlpack(in[1]));
    einfuse::CacheStats after = einfuse::compile_cache_stats();
    expect(after.hits == before.hits + 1 && after.misses == before.misses, "one cache for the C ABI and the C++ API");
    expect(after.entries <= after.capacity && after.capacity > 0, "the cache is bounded");
    std::vector<double> got = r.to_doubles();
    bool same = got.size() == c.size();
    for (std::size_t n = 0; same && n < c.size(); ++n)
        same = std::fabs(got[n] - c[n]) < 1e-12;
    expect(same, "einfuse::einsum (C++ API) matches the C ABI");
#endif
    expect(std::string(einfuse_version()) == EINFUSE_VERSION_STRING, "einfuse_version() is EINFUSE_VERSION_STRING");
    expect(EINFUSE_VERSION_NUMBER == EINFUSE_VERSION_MAJOR * 10000 + EINFUSE_VERSION_MINOR * 100 + EINFUSE_VERSION_PATCH,
           "EINFUSE_VERSION_NUMBER");
    if (failures) return 1;
    std::printf("consumer_cpp: einfuse %s: all checks passed\n", einfuse_version());
    return 0;
}
