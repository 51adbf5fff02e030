// einfuse's C++ API on GPU memory: tensors allocated with the CUDA runtime (cudaMalloc) are used
// in place; the result stays on the device. Without a GPU it says so and exits 0.
// Build: link einfuse::einfuse and CUDA::cudart. Run: ./einsum_gpu
#include <einfuse/einfuse.hpp>

#include <cuda_runtime.h>

#include <cmath>
#include <cstdio>
#include <vector>

#define CHECK_CUDA(call)                                                                          \
    do {                                                                                          \
        cudaError_t err_ = (call);                                                                \
        if (err_ != cudaSuccess) {                                                                \
            std::fprintf(stderr, "%s: %s\n", #call, cudaGetErrorString(err_));                    \
            return 1;                                                                             \
        }                                                                                         \
    } while (0)

int main() {
    int devices = 0;
    if (cudaGetDeviceCount(&devices) != cudaSuccess || devices == 0) {
        std::printf("no CUDA device: nothing to run (the example needs a GPU)\n");
        return 0;
    }
    CHECK_CUDA(cudaSetDevice(0)); // einfuse runs on device 0, in its primary context

    // One million 2x2 matrix products.
    const int64_t batch = 1 << 20;
    const std::size_t n = static_cast<std::size_t>(batch) * 4;
    std::vector<float> a(n), b(n), c(n);
    for (std::size_t i = 0; i < n; ++i) {
        a[i] = static_cast<float>(std::sin(0.01 * i));
        b[i] = static_cast<float>(std::cos(0.03 * i));
    }
    float *da = nullptr, *db = nullptr, *dc = nullptr;
    CHECK_CUDA(cudaMalloc(&da, n * sizeof(float)));
    CHECK_CUDA(cudaMalloc(&db, n * sizeof(float)));
    CHECK_CUDA(cudaMalloc(&dc, n * sizeof(float)));
    CHECK_CUDA(cudaMemcpy(da, a.data(), n * sizeof(float), cudaMemcpyHostToDevice));
    CHECK_CUDA(cudaMemcpy(db, b.data(), n * sizeof(float), cudaMemcpyHostToDevice));

    auto gpu = einfuse::Device::cuda(0);
    einfuse::View va(da, {batch, 2, 2}, {}, gpu), vb(db, {batch, 2, 2}, {}, gpu), vc(dc, {batch, 2, 2}, {}, gpu);
    try {
        einfuse::einsum_into("bij,bjk->bik", {va, vb}, vc); // on the GPU: the views are there

        // The same through a compiled kernel, whose plan says what einfuse chose.
        einfuse::Kernel k = einfuse::compile("bij,bjk->bik", einfuse::Signature::of({va, vb}), einfuse::DeviceKind::Cuda);
        k.run({va, vb}, {vc});
        std::printf("plan:\n%s", k.plan().c_str());
    } catch (const einfuse::Error &e) {
        std::fprintf(stderr, "%s", e.what());
        return 1;
    }
    CHECK_CUDA(cudaMemcpy(c.data(), dc, n * sizeof(float), cudaMemcpyDeviceToHost));

    double worst = 0;
    for (int64_t m = 0; m < batch; m += 997)
        for (int i = 0; i < 2; ++i)
            for (int k = 0; k < 2; ++k) {
                double want = 0;
                for (int j = 0; j < 2; ++j) want += double(a[4 * m + 2 * i + j]) * b[4 * m + 2 * j + k];
                worst = std::fmax(worst, std::abs(c[4 * m + 2 * i + k] - want) / (1 + std::abs(want)));
            }
    std::printf("max relative error on sampled elements: %.3g\n", worst);
    cudaFree(da);
    cudaFree(db);
    cudaFree(dc);
    if (worst > 1e-5) return 1;
    std::printf("ok\n");
    return 0;
}
