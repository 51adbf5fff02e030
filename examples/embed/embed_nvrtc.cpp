// A host framework embedding einfuse's CUDA source: it asks einfuse for the source and launch
// configuration of an expression, compiles the text with its own NVRTC, and (on a GPU) loads the
// cubin and launches the kernel itself, without einfuse's launcher or runtime. Without a GPU it
// still compiles the source and says so.
// Build: link einfuse::einfuse, CUDA::nvrtc and CUDA::cudart. Run: ./embed_nvrtc
#include <einfuse/einfuse.hpp>

#include <cuda_runtime.h>
#include <nvrtc.h>

#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#define CHECK_CUDA(call)                                                                          \
    do {                                                                                          \
        cudaError_t err_ = (call);                                                                \
        if (err_ != cudaSuccess) {                                                                \
            std::fprintf(stderr, "%s: %s\n", #call, cudaGetErrorString(err_));                    \
            return 1;                                                                             \
        }                                                                                         \
    } while (0)

namespace {

/** The framework's own NVRTC step: the source to a cubin for `arch`; empty on failure. */
std::vector<char> compile_with_nvrtc(const std::string &source, const std::string &arch) {
    nvrtcProgram prog;
    if (nvrtcCreateProgram(&prog, source.c_str(), "einfuse_kernels.cu", 0, nullptr, nullptr) != NVRTC_SUCCESS) return {};
    std::string arch_opt = "--gpu-architecture=" + arch;
    // The toolkit's headers, for kernels of f16/bf16 (cuda_fp16.h); f32 needs none.
    const char *opts[] = {arch_opt.c_str(), "-std=c++17", "--include-path=" CUDA_INCLUDE_DIR};
    nvrtcResult r = nvrtcCompileProgram(prog, 3, opts);
    std::size_t log_size = 0;
    nvrtcGetProgramLogSize(prog, &log_size);
    if (r != NVRTC_SUCCESS) {
        std::string log(log_size, '\0');
        nvrtcGetProgramLog(prog, log.data());
        std::fprintf(stderr, "NVRTC failed: %s\n%s\n", nvrtcGetErrorString(r), log.c_str());
        nvrtcDestroyProgram(&prog);
        return {};
    }
    std::size_t size = 0;
    nvrtcGetCUBINSize(prog, &size);
    std::vector<char> cubin(size);
    nvrtcGetCUBIN(prog, cubin.data());
    nvrtcDestroyProgram(&prog);
    return cubin;
}

} // namespace

int main() {
    const int64_t B = 100000; // a batch of 3x3 products
    einfuse::EmbeddedSource embedded;
    try {
        embedded = einfuse::cuda_source("bij,bjk->bik",
                                        einfuse::Signature::einsum({einfuse::ScalarType::F32, einfuse::ScalarType::F32}),
                                        {{"b", B}, {"i", 3}, {"j", 3}, {"k", 3}});
    } catch (const einfuse::Error &e) {
        std::fprintf(stderr, "%s", e.what());
        return 1;
    }
    if (embedded.kernels.size() != 1) {
        std::fprintf(stderr, "expected one kernel, got %zu\n", embedded.kernels.size());
        return 1;
    }
    const einfuse::EmbeddedKernel &k = embedded.kernels[0];
    std::printf("kernel %s (%s), launcher %s\n  %s\n  %s: grid %lld\n", k.name.c_str(), k.strategy.c_str(),
                k.launcher.c_str(), k.statement.c_str(), k.launch.rule.c_str(), static_cast<long long>(k.launch.grid));

    int devices = 0;
    bool gpu = cudaGetDeviceCount(&devices) == cudaSuccess && devices > 0;
    std::string arch = "sm_90";
    if (gpu) {
        cudaDeviceProp prop;
        CHECK_CUDA(cudaGetDeviceProperties(&prop, 0));
        arch = "sm_" + std::to_string(prop.major) + std::to_string(prop.minor);
    }
    std::vector<char> cubin = compile_with_nvrtc(embedded.source, arch);
    if (cubin.empty()) return 1;
    std::printf("NVRTC compiled the source for %s: %zu bytes of cubin\n", arch.c_str(), cubin.size());
    if (!gpu) {
        std::printf("no CUDA device: compiled only, nothing launched\n");
        return 0;
    }

    // Load the cubin through the runtime's library API and launch the kernel itself: per
    // tensor a pointer and its strides in elements, then the sizes, in the order einfuse lists.
    cudaLibrary_t library;
    cudaKernel_t kernel;
    CHECK_CUDA(cudaLibraryLoadData(&library, cubin.data(), nullptr, nullptr, 0, nullptr, nullptr, 0));
    CHECK_CUDA(cudaLibraryGetKernel(&kernel, library, k.name.c_str()));

    const std::size_t n = static_cast<std::size_t>(B) * 9;
    std::vector<float> a(n), b(n), c(n);
    for (std::size_t i = 0; i < n; ++i) {
        a[i] = static_cast<float>(std::sin(0.37 * i));
        b[i] = static_cast<float>(std::cos(0.11 * i));
    }
    float *da, *db, *dc;
    CHECK_CUDA(cudaMalloc(&da, n * sizeof(float)));
    CHECK_CUDA(cudaMalloc(&db, n * sizeof(float)));
    CHECK_CUDA(cudaMalloc(&dc, n * sizeof(float)));
    CHECK_CUDA(cudaMemcpy(da, a.data(), n * sizeof(float), cudaMemcpyHostToDevice));
    CHECK_CUDA(cudaMemcpy(db, b.data(), n * sizeof(float), cudaMemcpyHostToDevice));

    // Every parameter is 8 bytes: a pointer or a long long.
    std::vector<long long> values;
    std::vector<void *> pointers{da, db, dc};
    std::vector<void *> args;
    const long long strides[3] = {9, 3, 1}; // C-contiguous [B, 3, 3], the same for all three
    values.reserve(64);
    for (std::size_t p = 0; p < k.params.size(); ++p) {
        values.push_back(reinterpret_cast<long long>(pointers[p]));
        for (std::size_t d = 0; d < k.params[p].indices.size(); ++d) values.push_back(strides[d]);
    }
    for (const auto &v : k.sizes) values.push_back(embedded.sizes.at(v));
    for (auto &v : values) args.push_back(&v);
    CHECK_CUDA(cudaLaunchKernel(reinterpret_cast<const void *>(kernel), dim3(static_cast<unsigned>(k.launch.grid)),
                                dim3(static_cast<unsigned>(k.launch.block)), args.data(), 0, nullptr));
    CHECK_CUDA(cudaDeviceSynchronize());
    CHECK_CUDA(cudaMemcpy(c.data(), dc, n * sizeof(float), cudaMemcpyDeviceToHost));

    double worst = 0;
    for (int64_t m = 0; m < B; m += 101)
        for (int i = 0; i < 3; ++i)
            for (int kk = 0; kk < 3; ++kk) {
                double want = 0;
                for (int j = 0; j < 3; ++j) want += double(a[9 * m + 3 * i + j]) * b[9 * m + 3 * j + kk];
                worst = std::fmax(worst, std::abs(c[9 * m + 3 * i + kk] - want) / (1 + std::abs(want)));
            }
    cudaFree(da);
    cudaFree(db);
    cudaFree(dc);
    cudaLibraryUnload(library);
    std::printf("launched on the GPU; max relative error on sampled elements: %.3g\n", worst);
    return worst <= 1e-5 ? 0 : 1;
}
