// The small dense batched GEMM variant, "<name>_gemm_small": a kernel for exactly the planned
// M, N, K of many small products ("bij,bjk->bik" at D=32, B=65,536), used only when a launch has
// those sizes and a, b and the outputs are dense row-major with a and b 16-byte aligned.
//
// Why: the generic kernels (_gemm_m32, _gemm_m64) ran these at 1.3-1.4 TB/s (D=32) and
// 2.0-2.2 TB/s (D=64) on an H200, a device copy 4.1 TB/s. ncu said both were bound by issuing
// instructions (D=32: 0.68 issued warps per scheduler, 23 cycles per instruction, DRAM 41%;
// D=64: SM 83%, 0.83 issue, occupancy 50%), not by memory: 64-bit strided addresses through
// lambdas, a bounds check per element, index splits per element in the epilogue. Here:
//  - M, N, K, BK and every stride of a and b are constants of the template, the output's strides
//    constants in the epilogue's scope (shadowing the kernel's parameters), so addresses inside a
//    batch element are 32-bit constant-folded math; 64 bits only for the batch element's base.
//  - E batch elements per block (up to kSmallTargetThreads threads), (M / TM) x (N / TN)
//    threads per element, TM x TN outputs per thread (4 x 4 where M, N allow): D=32 f32 is 4
//    elements of 64 threads, D=64 one element of 256 threads.
//  - Copies are cp.async (sm_80+; a synchronous __ldg elsewhere and in the CPU emulation)
//    straight into two shared-memory stages, no registers: a's 16 bytes at a time, b's an
//    element at a time (coalesced across the warp), scattered so that a thread's columns sit
//    side by side (below). A block walks a sequence
//    of chunks (its group of E elements, K a chunk of BK at a time), grid-stride over groups,
//    and issues chunk c + 1's copies before computing chunk c: the next group's loads are in
//    flight during this group's math. The grid is one wave of resident blocks (the target's SM
//    count x blocks per SM), so each block streams many groups.
//  - a stays row-major in shared memory ([m][k], rows padded by 16 bytes): a thread reads one
//    16-byte vector of each of its TM rows per VEC k's (as TM x VEC values). A thread's rows are
//    ty + i * (M / TM) and its columns tx + j * (N / TN): a warp's rows are neighbours (the
//    padding puts them in different banks), and its scalar stores of one (i, j) fill whole
//    32-byte sectors. b's row keeps column c at c % NT * TN + c / NT, so a thread's TN columns
//    are one 16-byte read: per 4 k's (f32) 4 + 4 shared loads for 64 FMAs (with b read in
//    place it was 4 + 16; the PTX of D=32's chunk: 256 FMAs, 32 16-byte shared loads).
//  - K <= kSmallMaxDim fully unrolled within a chunk; BK the largest divisor of K for which two
//    stages of E elements fit the target's static shared memory per block, 48 KB (D=32 f32: 4 elements, BK=16, 36 KB).
//  - The epilogue is the generic kernels' gemm_epilogue (print_gemm_lambdas), one output
//    element at a time: scalar stores, not 16-byte ones (unverified whether that costs).
#include "backends/cuda/CudaGemm.h"
#include "backends/cuda/CudaPrinter.h"
#include "support/Error.h"

#include <algorithm>

namespace einfuse::cuda_backend {

namespace detail {

namespace {

const char *const kSmall = R"(#ifndef EINFUSE_GEMM_SMALL_1
#define EINFUSE_GEMM_SMALL_1
// The small dense batched GEMM: out[t, m, n] = epilogue(sum over k of a[t][m][k] * b[t][k][n]),
// a and b dense row-major with the sizes built in. A block takes E batch elements at a time,
// grid-stride over groups of E, K a chunk of BK at a time through two shared-memory stages;
// chunk c + 1's 16-byte copies are issued before chunk c is computed.
template <class T> struct einfuse_small_vec;
template <> struct einfuse_small_vec<float> {
    typedef float4 type;
    static __device__ __forceinline__ float get(const float4 &v, int i) {
        return i == 0 ? v.x : i == 1 ? v.y : i == 2 ? v.z : v.w;
    }
};
template <> struct einfuse_small_vec<double> {
    typedef double2 type;
    static __device__ __forceinline__ double get(const double2 &v, int i) { return i == 0 ? v.x : v.y; }
};
// 16 bytes from global to shared memory: cp.async on sm_80 and newer (no registers, completes
// at einfuse_small_wait), else a load and a store.
__device__ __forceinline__ void einfuse_small_copy16(void *dst, const void *src) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16;\n" ::"r"((unsigned)__cvta_generic_to_shared(dst)),
                 "l"(src));
#else
    *(uint4 *)dst = __ldg((const uint4 *)src);
#endif
}
// One element (4 or 8 bytes) the same way: b's copies, which scatter a 16-byte run's elements.
template <class T> __device__ __forceinline__ void einfuse_small_copy1(T *dst, const T *src) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
    asm volatile("cp.async.ca.shared.global [%0], [%1], %2;\n" ::"r"((unsigned)__cvta_generic_to_shared(dst)),
                 "l"(src), "n"((int)sizeof(T)));
#else
    *dst = __ldg(src);
#endif
}
__device__ __forceinline__ void einfuse_small_commit() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
    asm volatile("cp.async.commit_group;\n" ::);
#endif
}
// Every group of copies but the newest has landed (this thread's; a barrier makes all visible).
__device__ __forceinline__ void einfuse_small_wait() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
    asm volatile("cp.async.wait_group 1;\n" ::);
#endif
}

template <class T, class Acc, int M, int N, int K, int BK, int E, int TM, int TN, class Update, class Epilogue>
__device__ __forceinline__ void einfuse_gemm_small(const T *a, const T *b, long long nbatch, Update update,
                                                   Epilogue epilogue) {
    typedef einfuse_small_vec<T> V;
    typedef typename V::type VT;
    constexpr int VEC = 16 / sizeof(T), MT = M / TM, NT = N / TN, TPE = MT * NT, THREADS = E * TPE;
    constexpr int LA = BK + VEC;            // a's rows in shared memory: k contiguous, 16 bytes of padding
    constexpr int SA = M * LA, SB = BK * N; // one element's chunk of a and of b
    constexpr int KC = K / BK;              // chunks per group
    constexpr int VA = E * M * (BK / VEC), VB = E * BK * N; // a's 16-byte and b's 1-element copies per chunk
    __shared__ __align__(16) T as[2 * E * SA];
    __shared__ __align__(16) T bs[2 * E * SB];
    const int tid = threadIdx.x, el = tid / TPE, ty = tid % TPE / NT, tx = tid % NT;
    const long long groups = (nbatch + E - 1) / E;
    long long g = blockIdx.x;
    if (g >= groups) return;
    // The copies of chunk kc of group g into stage s; elements past the batch are left alone
    // (computed on, never stored).
    auto issue = [&](long long group, int kc, int s) {
        const long long t0 = group * E;
        const int live = nbatch - t0 < E ? (int)(nbatch - t0) : E;
        const T *ga = a + t0 * (M * K) + kc * BK, *gb = b + t0 * (K * N) + kc * (BK * N);
        T *sa = as + s * (E * SA), *sb = bs + s * (E * SB);
#pragma unroll
        for (int q = 0; q < (VA + THREADS - 1) / THREADS; ++q) {
            const int e = q * THREADS + tid, x = e / (M * (BK / VEC)), r = e / (BK / VEC) % M, c = e % (BK / VEC) * VEC;
            if ((VA % THREADS == 0 || e < VA) && x < live) einfuse_small_copy16(sa + x * SA + r * LA + c, ga + x * (M * K) + r * K + c);
        }
        // b's column c goes to c % NT * TN + c / NT: a thread's columns tx + j * NT side by side.
        // Where whole passes of the block cover whole rows (D=32, 48, 64), a thread keeps one
        // column and steps by constants: one address register, not one per copy (which spilled).
        constexpr int R = THREADS % N == 0 ? THREADS / N : 1; // rows per pass
        if (THREADS % N == 0 && BK % R == 0) {
            const int row0 = tid / N, col = tid % N;
            T *dst = sb + row0 * N + col % NT * TN + col / NT; // element x's row r is row x * BK + r
            const T *src = gb + row0 * N + col;
#pragma unroll
            for (int q = 0; q < E * BK / R; ++q)
                if (q * R / BK < live) einfuse_small_copy1(dst + q * R * N, src + q * R / BK * (K * N) + q * R % BK * N);
        } else {
#pragma unroll
            for (int q = 0; q < (VB + THREADS - 1) / THREADS; ++q) {
                const int e = q * THREADS + tid, x = e / (BK * N), r = e / N % BK, c = e % N;
                if ((VB % THREADS == 0 || e < VB) && x < live)
                    einfuse_small_copy1(sb + x * SB + r * N + c % NT * TN + c / NT, gb + x * (K * N) + r * N + c);
            }
        }
    };
    Acc acc[TM][TN];
    int kc = 0, stage = 0;
    issue(g, 0, 0);
    einfuse_small_commit();
    for (;;) {
        long long g_next = g;
        int kc_next = kc + 1;
        if (kc_next == KC) {
            kc_next = 0;
            g_next += gridDim.x;
        }
        const bool more = g_next < groups;
        if (more) issue(g_next, kc_next, stage ^ 1);
        einfuse_small_commit(); // maybe empty: wait() then always means "chunk kc has landed"
        einfuse_small_wait();
        __syncthreads();
        if (kc == 0) {
#pragma unroll
            for (int i = 0; i < TM; ++i)
#pragma unroll
                for (int j = 0; j < TN; ++j) acc[i][j] = Acc(0);
        }
        const T *sa = as + stage * (E * SA) + el * SA, *sb = bs + stage * (E * SB) + el * SB;
#pragma unroll
        for (int kk = 0; kk < BK; kk += VEC) {
            VT x[TM];
#pragma unroll
            for (int i = 0; i < TM; ++i) x[i] = *(const VT *)(sa + (ty + i * MT) * LA + kk);
#pragma unroll
            for (int v = 0; v < VEC; ++v) {
                T y[TN]; // columns tx + j * NT, side by side in shared memory: 16-byte reads
#pragma unroll
                for (int j = 0; j < TN; j += VEC) {
                    const VT w = *(const VT *)(sb + (kk + v) * N + tx * TN + j);
#pragma unroll
                    for (int u = 0; u < VEC; ++u) y[j + u] = V::get(w, u);
                }
#pragma unroll
                for (int i = 0; i < TM; ++i)
#pragma unroll
                    for (int j = 0; j < TN; ++j) acc[i][j] = update(acc[i][j], V::get(x[i], v), y[j]);
            }
        }
        if (kc == KC - 1) {
            const long long t = g * E + el;
            if (t < nbatch) {
#pragma unroll
                for (int i = 0; i < TM; ++i)
#pragma unroll
                    for (int j = 0; j < TN; ++j) epilogue(t, ty + i * MT, tx + j * NT, acc[i][j]);
            }
        }
        __syncthreads(); // this stage consumed: the next iteration's copies may overwrite it
        if (!more) break;
        g = g_next;
        kc = kc_next;
        stage ^= 1;
    }
}
#endif // EINFUSE_GEMM_SMALL_1
)";

std::string ll(int64_t v) { return std::to_string(v) + "LL"; }

} // namespace

std::string gemm_small_library() { return kSmall; }

std::string print_gemm_small_kernel(const ir::Kernel &k, const KernelNames &names) {
    const SmallGemm s = *gemm_small_config(k);
    const ir::Gemm &g = *k.gemm;
    auto n = [](int x) { return std::to_string(x); };
    std::string out = "// " + k.name + " for its planned sizes (M " + n(s.m) + ", N " + n(s.n) + ", K " + n(s.k) + "), " +
                      n(s.elements) + " batch elements per block, " + n(s.tm) + "x" + n(s.tn) +
                      " per thread; for dense a, b and outputs only (the launcher checks).\n";
    out += kernel_signature(k, names,
                            "__launch_bounds__(" + n(s.threads()) + ", " + n(s.min_blocks) + ") " + k.name +
                                "_gemm_small") +
           " {\n    {\n";
    // The outputs' strides as constants: dense row-major at the planned sizes.
    auto accesses = tensor_accesses(k);
    for (std::size_t p = static_cast<std::size_t>(k.num_inputs); p < k.params.size(); ++p) {
        const auto &t = k.params[p];
        auto it = accesses.find(t.name);
        if (it == accesses.end()) continue;
        const std::vector<std::string> &idx = it->second.front();
        std::string decl;
        int64_t stride = 1;
        for (std::size_t d = idx.size(); d-- > 0;) {
            decl = names.stride(t.name, static_cast<int>(d)) + " = " + ll(stride) + (decl.empty() ? "" : ", ") + decl;
            stride *= g.planned->at(idx[d]);
        }
        if (!decl.empty()) out += "        const long long " + decl + ";\n";
    }
    std::string lambdas = print_gemm_lambdas(k, names), indented;
    for (std::size_t at = 0; at < lambdas.size();) { // one level deeper
        std::size_t end = lambdas.find('\n', at);
        indented += "    " + lambdas.substr(at, end - at + 1);
        at = end + 1;
    }
    out += indented;
    const std::string type = c_type(s.type);
    out += "        einfuse_gemm_small<" + type + ", decltype(gemm_update(" + type + "(0), " + type + "(0), " + type +
           "(0))), " + n(s.m) + ", " + n(s.n) + ", " + n(s.k) + ", " + n(s.bk) + ", " + n(s.elements) + ", " + n(s.tm) +
           ", " + n(s.tn) + ">(" + names.tensor(g.a) + ", " + names.tensor(g.b) + ", " +
           (g.batch.empty() ? std::string("1LL") : names.extent(g.batch[0])) + ", gemm_update, gemm_epilogue);\n";
    return out + "    }\n}\n";
}

} // namespace detail

} // namespace einfuse::cuda_backend
