#pragma once
// Runs an emitted .cu on the CPU, for the machines without a GPU: force-included (g++ -include)
// before the file, after emulated_cu() rewrote its launches and inline PTX. Each CUDA thread of
// a block is a std::thread, __syncthreads() a barrier, __shared__ a static (blocks run one after
// another), device memory is host memory; mma.sync is computed from the fragments the 32 lanes
// of a warp hold, laid out as the PTX ISA documents them. Slow, and only as faithful as that:
// it checks indexing, tiling, edges, the launcher and the epilogue, not timing or the hardware's
// rounding order.
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <barrier>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <math.h>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#undef __shared__
#define __shared__ static
#undef __launch_bounds__
#define __launch_bounds__(...)

struct einfuse_emu_dim {
    unsigned x = 0, y = 0, z = 0;
};
inline thread_local einfuse_emu_dim threadIdx, blockIdx;
inline einfuse_emu_dim blockDim, gridDim;
inline std::barrier<> *einfuse_emu_barrier = nullptr;

inline void __syncthreads() { einfuse_emu_barrier->arrive_and_wait(); }
inline float __uint_as_float(unsigned u) {
    float f;
    std::memcpy(&f, &u, 4);
    return f;
}
inline float __int_as_float(int i) {
    float f;
    std::memcpy(&f, &i, 4);
    return f;
}
/** CUDA's integer min of the tiled kernels' bounds. */
inline long long min(long long a, long long b) { return a < b ? a : b; }
inline double __hiloint2double(int hi, int lo) {
    unsigned long long u = (unsigned long long)(unsigned)hi << 32 | (unsigned)lo;
    double d;
    std::memcpy(&d, &u, 8);
    return d;
}
/** CUDA's float to 64-bit integer conversions: toward zero, saturating, NaN gives 0 (the prelude's
 * einfuse_to_u64 calls them). */
inline long long __double2ll_rz(double x) {
    if (x != x) return 0;
    if (x >= 0x1p63) return 0x7fffffffffffffffLL;
    if (x <= -0x1p63) return -0x7fffffffffffffffLL - 1;
    return (long long)x;
}
inline unsigned long long __double2ull_rz(double x) {
    if (x != x || x <= 0) return 0;
    if (x >= 0x1p64) return ~0ULL;
    return (unsigned long long)x;
}
/** A GPU faults on a misaligned load; here it would pass silently, so it aborts. */
template <class T> T __ldg(const T *p) {
    if (reinterpret_cast<std::uintptr_t>(p) % alignof(T) != 0) std::abort();
    return *p;
}

// The runtime API the launchers and the test harness call (cuda_fp16.h declared it), on host
// memory. Defined here, so nothing links cudart.
extern "C" cudaError_t cudaGetLastError(void) { return cudaSuccess; }
extern "C" cudaError_t cudaDeviceSynchronize(void) { return cudaSuccess; }
extern "C" cudaError_t cudaMalloc(void **p, size_t bytes) {
    *p = std::aligned_alloc(256, (bytes + 255) / 256 * 256 + 256);
    return *p ? cudaSuccess : cudaErrorMemoryAllocation;
}
extern "C" cudaError_t cudaMemcpy(void *dst, const void *src, size_t bytes, cudaMemcpyKind) {
    std::memcpy(dst, src, bytes);
    return cudaSuccess;
}

/** kernel<<<dim3(grid, grid_y), block>>>: blocks in turn (at most 4 along x: the kernels stride
 * over their work; every one along y, the parts of a split reduction), each with `block` threads. */
inline void einfuse_emu_launch(unsigned grid, unsigned block, const std::function<void()> &kernel, unsigned grid_y = 1) {
    gridDim.x = grid < 4 ? grid : 4;
    gridDim.y = grid_y;
    blockDim.x = block;
    for (unsigned y = 0; y < gridDim.y; ++y)
        for (unsigned b = 0; b < gridDim.x; ++b) {
            std::barrier<> bar(block);
            einfuse_emu_barrier = &bar;
            std::vector<std::thread> threads;
            for (unsigned t = 0; t < block; ++t)
                threads.emplace_back([&, b, t, y] {
                    blockIdx.x = b;
                    blockIdx.y = y;
                    threadIdx.x = t;
                    kernel();
                });
            for (auto &th : threads)
                th.join();
        }
}

/** cudaLaunchKernel(kernel, grid, block, args, shared, stream), as the launchers call it: the
 * kernel's parameter types unpack args. */
template <class... A, std::size_t... I>
void einfuse_emu_call(void (*f)(A...), void **args, std::index_sequence<I...>) {
    f(*static_cast<std::remove_reference_t<A> *>(args[I])...);
}
template <class... A>
cudaError_t cudaLaunchKernel(void (*f)(A...), dim3 grid, dim3 block, void **args, size_t, cudaStream_t) {
    einfuse_emu_launch(grid.x, block.x, [&] { einfuse_emu_call(f, args, std::index_sequence_for<A...>{}); }, grid.y);
    return cudaSuccess;
}
extern "C" cudaError_t cudaMallocAsync(void **p, size_t bytes, cudaStream_t) { return cudaMalloc(p, bytes); }
extern "C" cudaError_t cudaFreeAsync(void *p, cudaStream_t) {
    std::free(p);
    return cudaSuccess;
}
extern "C" cudaError_t cudaFree(void *p) {
    std::free(p);
    return cudaSuccess;
}

/** cvt.rna.tf32.f32: round to 10 mantissa bits, ties away from zero. */
inline unsigned einfuse_emu_tf32(float x) {
    unsigned u;
    std::memcpy(&u, &x, 4);
    return (u + 0x1000u) & ~0x1fffu;
}

template <class T> float einfuse_emu_half(unsigned bits) {
    unsigned short h = static_cast<unsigned short>(bits);
    T x;
    std::memcpy(&x, &h, 2);
    return static_cast<float>(x);
}

/** One warp's mma.sync: every lane leaves its fragments, then computes its accumulators from the
 * whole warp's. KS 16: f16/bf16 m16n8k16 (two elements per register); KS 8: tf32 m16n8k8. */
template <int KS, class T> void einfuse_emu_mma(float (&d)[4], const unsigned (&a)[4], const unsigned (&b)[2]) {
    static unsigned fa[32][32][4], fb[32][32][2]; // [warp][lane][register]
    const unsigned lane = threadIdx.x % 32, warp = threadIdx.x / 32;
    std::memcpy(fa[warp][lane], a, sizeof a);
    std::memcpy(fb[warp][lane], b, sizeof b);
    __syncthreads();
    auto a_at = [&](int row, int k) -> float {
        if (KS == 8) {
            unsigned bits = fa[warp][(row % 8) * 4 + k % 4][row / 8 + (k / 4) * 2];
            float x;
            std::memcpy(&x, &bits, 4);
            return x;
        }
        unsigned bits = fa[warp][(row % 8) * 4 + (k % 8) / 2][row / 8 + (k / 8) * 2];
        return einfuse_emu_half<T>(bits >> (16 * (k % 2)));
    };
    auto b_at = [&](int k, int n) -> float {
        if (KS == 8) {
            unsigned bits = fb[warp][n * 4 + k % 4][k / 4];
            float x;
            std::memcpy(&x, &bits, 4);
            return x;
        }
        unsigned bits = fb[warp][n * 4 + (k % 8) / 2][k / 8];
        return einfuse_emu_half<T>(bits >> (16 * (k % 2)));
    };
    const int g = lane / 4, t = lane % 4;
    for (int i = 0; i < 4; ++i) {
        const int row = g + (i / 2) * 8, col = 2 * t + i % 2;
        float sum = d[i];
        for (int k = 0; k < KS; ++k)
            sum += a_at(row, k) * b_at(k, col);
        d[i] = sum;
    }
    __syncthreads(); // before the next call overwrites the fragments
}
