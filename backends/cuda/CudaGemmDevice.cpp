// The device half of the emitted GEMM kernels: C++ templates printed once per file (guarded, so
// several emitted files can share a translation unit). Each `<kernel>_gemm*` kernel (CudaGemm.cpp)
// only says where operand elements are, how one product is accumulated and what the epilogue
// does; the tiling below is the same for every kernel. Templates instead of per-kernel text keep
// the emitted file readable and the printer small; NVRTC and nvcc both accept them (no std
// headers: NVRTC has none).
#include "backends/cuda/CudaGemm.h"

namespace einfuse::cuda_backend::detail {

namespace {

/** Operands, the loader and the SIMT (CUDA core) main loop. */
const char *const kCommon = R"(#ifndef EINFUSE_GEMM_1
#define EINFUSE_GEMM_1
// A GEMM operand as rows (M for a, N for b) by K: element (r, c) of batch element t is
// p[off_t(t) + off_r(r) + off_c(c)]. c_fast: neighbouring c are neighbours in memory (else
// neighbouring r are), so the copy walks that dimension across threads (coalesced). vec:
// 16-byte loads along it are aligned and never straddle the matrix's edge (the kernel checked
// strides, sizes and the pointer once, uniformly).
template <class T, class OT, class OR, class OC> struct einfuse_gemm_operand {
    typedef T type;
    const T *p;
    OT off_t;
    OR off_r;
    OC off_c;
    bool c_fast, vec;
};
template <class T, class OT, class OR, class OC>
__device__ __forceinline__ einfuse_gemm_operand<T, OT, OR, OC> einfuse_gemm_make_operand(const T *p, OT t, OR r, OC c,
                                                                                      bool c_fast, bool vec) {
    einfuse_gemm_operand<T, OT, OR, OC> x = {p, t, r, c, c_fast, vec};
    return x;
}

// Element i of a 16-byte vector of T's, from its bits; not through a pointer cast, which keeps
// the vector out of local memory (ptxas put a D=64 tile's loads on the stack with one).
__device__ __forceinline__ unsigned einfuse_gemm_word(const uint4 &v, int i) {
    return i == 0 ? v.x : i == 1 ? v.y : i == 2 ? v.z : v.w;
}
template <class T> struct einfuse_gemm_bits;
template <> struct einfuse_gemm_bits<float> {
    static __device__ __forceinline__ float get(const uint4 &v, int i) { return __uint_as_float(einfuse_gemm_word(v, i)); }
};
template <> struct einfuse_gemm_bits<int> {
    static __device__ __forceinline__ int get(const uint4 &v, int i) { return (int)einfuse_gemm_word(v, i); }
};
template <> struct einfuse_gemm_bits<double> {
    static __device__ __forceinline__ double get(const uint4 &v, int i) {
        return __hiloint2double((int)einfuse_gemm_word(v, 2 * i + 1), (int)einfuse_gemm_word(v, 2 * i));
    }
};
template <> struct einfuse_gemm_bits<long long> {
    static __device__ __forceinline__ long long get(const uint4 &v, int i) {
        return (long long)(((unsigned long long)einfuse_gemm_word(v, 2 * i + 1) << 32) | einfuse_gemm_word(v, 2 * i));
    }
};

// Copies rows [r0, r0 + R) x columns [c0, c0 + C) of x (base: its batch element) into shared
// memory, element (r, c) at s[r * SR + c * SC], zeros outside nr x nc (so a partial chunk of K
// adds nothing), in two steps: fetch() issues a thread's 16-byte loads into registers, all of
// them at once (a block of a small batched GEMM copies its whole problem in one round trip),
// put() stores them; so a kernel can compute while the next chunk's loads are in flight.
// Without 16-byte loads put() copies element by element and fetch() does nothing.
template <int R, int C, int SR, int SC, int THREADS, class T> struct einfuse_gemm_copy {
    static constexpr int VEC = 16 / sizeof(T), N = R * C / VEC, Q = (N + THREADS - 1) / THREADS;
    // Along c into a transposed tile (SC != 1, CUDA cores' A), each warp takes 2 neighbouring
    // vectors (a 32-byte sector) of 16 rows: the scattered shared stores of their elements then
    // hit 32 different banks, where a warp along one row had 4- to 8-way conflicts (rows are
    // BM + 4 words apart). Along r, neighbouring threads take neighbouring vectors of a column.
    static constexpr bool sectors = SC != 1 && (C / VEC) % 2 == 0 && R % 16 == 0;
    uint4 v[Q];

    static __device__ __forceinline__ void slot(bool c_fast, int e, int &r, int &c) {
        if (!c_fast) {
            r = e % (R / VEC) * VEC;
            c = e / (R / VEC);
        } else if (sectors) {
            const int lane = e % 32, w = e / 32;
            r = w % (R / 16) * 16 + lane / 2;
            c = (w / (R / 16) * 2 + lane % 2) * VEC;
        } else {
            r = e / (C / VEC);
            c = e % (C / VEC) * VEC;
        }
    }

    template <class Op>
    __device__ __forceinline__ void fetch(const Op &x, const T *base, long long r0, long long c0, long long nr,
                                          long long nc) {
        if (!x.vec) return;
#pragma unroll
        for (int q = 0; q < Q; ++q) {
            const int e = q * THREADS + threadIdx.x;
            int r, c;
            slot(x.c_fast, e, r, c);
            v[q] = make_uint4(0, 0, 0, 0);
            if ((N % THREADS == 0 || e < N) && r0 + r < nr && c0 + c < nc)
                v[q] = __ldg((const uint4 *)(base + x.off_r(r0 + r) + x.off_c(c0 + c)));
        }
    }

    template <class Op>
    __device__ __forceinline__ void put(T *s, const Op &x, const T *base, long long r0, long long c0, long long nr,
                                        long long nc) const {
        if (x.vec) {
#pragma unroll
            for (int q = 0; q < Q; ++q) {
                const int e = q * THREADS + threadIdx.x;
                if (N % THREADS != 0 && e >= N) break;
                int r, c;
                slot(x.c_fast, e, r, c);
                const int step = x.c_fast ? SC : SR; // between the vector's elements in shared memory
                if (step == 1) {
                    *(uint4 *)(s + r * SR + c * SC) = v[q];
                } else {
#pragma unroll
                    for (int i = 0; i < VEC; ++i) s[r * SR + c * SC + i * step] = einfuse_gemm_bits<T>::get(v[q], i);
                }
            }
            return;
        }
        // Element by element (strided, grouped or misaligned operands): two loads in flight per
        // thread, not all of them: holding every element's 64-bit address made the D=32 kernel
        // spill 500 bytes at 32 registers (unrolled 4 times: 300 bytes; twice: 32).
        constexpr int NE = R * C, QE = (NE + THREADS - 1) / THREADS;
#pragma unroll 2
        for (int q = 0; q < QE; ++q) {
            const int e = q * THREADS + threadIdx.x;
            if (NE % THREADS != 0 && e >= NE) break;
            const int r = x.c_fast ? e / C : e % R, c = x.c_fast ? e % C : e / R;
            s[r * SR + c * SC] = r0 + r < nr && c0 + c < nc ? base[x.off_r(r0 + r) + x.off_c(c0 + c)] : static_cast<T>(0.0f);
        }
    }
};

// Walks K a chunk of BK at a time through shared memory (as, bs: STAGES buffers of a_size and
// b_size elements), calling chunk(as, bs) on each. STAGES 2: the next chunk's loads are issued
// before the current one is computed and stored into the other buffer after it, one barrier per
// chunk. Every call starts and ends with the buffers free (a barrier after the last chunk).
template <int STAGES, int BK, class CA, class CB, class A, class B, class Chunk>
__device__ __forceinline__ void einfuse_gemm_mainloop(typename A::type *as, int a_size, typename B::type *bs, int b_size,
                                                      const A &a, const typename A::type *pa, long long m0, long long M,
                                                      const B &b, const typename B::type *pb, long long n0, long long N,
                                                      long long K, Chunk chunk) {
    CA ca;
    CB cb;
    if (STAGES == 1) {
        // Both operands' loads in flight at once where they take few registers (D=32: one
        // 16-byte load each, so a block waits for memory once); else a's, then b's: holding
        // both made ptxas spill the D=64 kernel (168 bytes at 64 registers), and the other
        // blocks of the SM keep the memory busy meanwhile.
        constexpr bool together = CA::Q + CB::Q <= 4;
        for (long long k0 = 0; k0 < K; k0 += BK) {
            ca.fetch(a, pa, m0, k0, M, K);
            if (together) cb.fetch(b, pb, n0, k0, N, K);
            ca.put(as, a, pa, m0, k0, M, K);
            if (!together) cb.fetch(b, pb, n0, k0, N, K);
            cb.put(bs, b, pb, n0, k0, N, K);
            __syncthreads();
            chunk(as, bs);
            __syncthreads(); // consumed
        }
        return;
    }
    if (K <= 0) return;
    ca.fetch(a, pa, m0, 0, M, K);
    cb.fetch(b, pb, n0, 0, N, K);
    ca.put(as, a, pa, m0, 0, M, K);
    cb.put(bs, b, pb, n0, 0, N, K);
    __syncthreads();
    int cur = 0;
    for (long long k0 = 0; k0 < K; k0 += BK, cur ^= 1) {
        const bool next = k0 + BK < K;
        if (next) {
            ca.fetch(a, pa, m0, k0 + BK, M, K);
            cb.fetch(b, pb, n0, k0 + BK, N, K);
        }
        chunk(as + cur * a_size, bs + cur * b_size);
        if (next) {
            ca.put(as + (cur ^ 1) * a_size, a, pa, m0, k0 + BK, M, K);
            cb.put(bs + (cur ^ 1) * b_size, b, pb, n0, k0 + BK, N, K);
        }
        __syncthreads(); // the next chunk is in place, this one consumed
    }
}

// Which output tile a block works on: tiles of one batch element's output, N fastest; blocks
// stride over them, so any number of tiles fits any grid.
struct einfuse_gemm_tile {
    long long t, m0, n0;
};
__device__ __forceinline__ einfuse_gemm_tile einfuse_gemm_tile_at(long long tile, long long tiles_m,
                                                                  long long tiles_n, int bm, int bn) {
    einfuse_gemm_tile x = {tile / (tiles_n * tiles_m), tile / tiles_n % tiles_m * bm, tile % tiles_n * bn};
    return x;
}

// CUDA cores: BM x BN per block, TM x TN per thread. Thread (ty, tx) owns rows ty * TM + i
// (one 16-byte shared read for TM = 4, the same for half a warp: a broadcast) and columns
// tx + j * BN / TN (the threads of a warp read neighbouring words, conflict-free, and store
// neighbouring columns of a row: coalesced where the output's N stride is 1).
template <int BM_, int BN_, int BK_, int TM_, int TN_, int STAGES_> struct einfuse_simt_cfg {
    static constexpr int BM = BM_, BN = BN_, BK = BK_, TM = TM_, TN = TN_, STAGES = STAGES_;
    static constexpr int threads = (BM / TM) * (BN / TN);
};

// For every output element of the tile: acc = update(acc, a[m, k], b[k, n]) over k in order,
// then epilogue(t, m, n, acc). Shared memory holds a and b K-major (row k of the chunk is
// contiguous in m or n), padded by 16 bytes per row.
template <class Cfg, class Acc, class A, class B, class Update, class Epilogue>
__device__ __forceinline__ void einfuse_gemm_simt(const A &a, const B &b, long long nbatch, long long M, long long N,
                                                  long long K, Update update, Epilogue epilogue) {
    typedef typename A::type TA;
    typedef typename B::type TB;
    constexpr int BM = Cfg::BM, BN = Cfg::BN, BK = Cfg::BK, TM = Cfg::TM, TN = Cfg::TN;
    constexpr int LA = BM + 16 / sizeof(TA), LB = BN + 16 / sizeof(TB);
    __shared__ __align__(16) TA as[Cfg::STAGES * BK * LA];
    __shared__ __align__(16) TB bs[Cfg::STAGES * BK * LB];
    const int tx = threadIdx.x % (BN / TN), ty = threadIdx.x / (BN / TN);
    const long long tiles_m = (M + BM - 1) / BM, tiles_n = (N + BN - 1) / BN, tiles = tiles_m * tiles_n * nbatch;
    for (long long tile = blockIdx.x; tile < tiles; tile += gridDim.x) {
        const einfuse_gemm_tile at = einfuse_gemm_tile_at(tile, tiles_m, tiles_n, BM, BN);
        Acc acc[TM][TN];
#pragma unroll
        for (int i = 0; i < TM; ++i)
#pragma unroll
            for (int j = 0; j < TN; ++j) acc[i][j] = Acc(0);
        einfuse_gemm_mainloop<Cfg::STAGES, BK, einfuse_gemm_copy<BM, BK, 1, LA, Cfg::threads, TA>,
                              einfuse_gemm_copy<BN, BK, 1, LB, Cfg::threads, TB>>(
            as, BK * LA, bs, BK * LB, a, a.p + a.off_t(at.t), at.m0, M, b, b.p + b.off_t(at.t), at.n0, N, K,
            [&](const TA *sa, const TB *sb) {
#pragma unroll
                for (int kk = 0; kk < BK; ++kk) {
                    TA x[TM];
                    TB y[TN];
#pragma unroll
                    for (int i = 0; i < TM; ++i) x[i] = sa[kk * LA + ty * TM + i];
#pragma unroll
                    for (int j = 0; j < TN; ++j) y[j] = sb[kk * LB + tx + j * (BN / TN)];
#pragma unroll
                    for (int i = 0; i < TM; ++i)
#pragma unroll
                        for (int j = 0; j < TN; ++j) acc[i][j] = update(acc[i][j], x[i], y[j]);
                }
            });
#pragma unroll
        for (int i = 0; i < TM; ++i)
#pragma unroll
            for (int j = 0; j < TN; ++j) {
                const long long m = at.m0 + ty * TM + i, n = at.n0 + tx + j * (BN / TN);
                if (m < M && n < N) epilogue(at.t, m, n, acc[i][j]);
            }
    }
}
#endif // EINFUSE_GEMM_1
)";

/** Tensor cores: the mma.sync main loop and the tf32 instruction (float is always tf32 here). */
const char *const kMma = R"(#ifndef EINFUSE_GEMM_MMA_1
#define EINFUSE_GEMM_MMA_1
// Tensor cores through mma.sync (sm_80 and newer; sm_75 computes the same tiles on CUDA cores): BM x BN per block, WM x WN warps, each warp
// (BM / WM) x (BN / WN) in m16 x n8 pieces; f32 accumulators. Shared memory holds a and b
// row-major in K (k contiguous), rows padded by 16 bytes, which makes the fragment reads
// conflict-free. Fragment layouts are the PTX ISA's (groupID g = lane / 4, t = lane % 4).
template <int BM_, int BN_, int BK_, int WM_, int WN_, int STAGES_> struct einfuse_mma_cfg {
    static constexpr int BM = BM_, BN = BN_, BK = BK_, WM = WM_, WN = WN_, STAGES = STAGES_;
    static constexpr int threads = WM * WN * 32;
    static constexpr int MT = BM / WM / 16, NT = BN / WN / 8;
};
template <class T> struct einfuse_mma;

template <class Cfg, class A, class B, class Epilogue>
__device__ __forceinline__ void einfuse_gemm_mma(const A &a, const B &b, long long nbatch, long long M, long long N,
                                                 long long K, Epilogue epilogue) {
    typedef typename A::type T;
    typedef einfuse_mma<T> Mma;
    constexpr int BM = Cfg::BM, BN = Cfg::BN, BK = Cfg::BK, MT = Cfg::MT, NT = Cfg::NT;
    constexpr int LD = BK + 16 / sizeof(T);
    __shared__ __align__(16) T as[Cfg::STAGES * BM * LD];
    __shared__ __align__(16) T bs[Cfg::STAGES * BN * LD];
    const int lane = threadIdx.x % 32, warp = threadIdx.x / 32, g = lane / 4, t4 = lane % 4;
    const int wm = warp % Cfg::WM * (BM / Cfg::WM), wn = warp / Cfg::WM * (BN / Cfg::WN);
    const long long tiles_m = (M + BM - 1) / BM, tiles_n = (N + BN - 1) / BN, tiles = tiles_m * tiles_n * nbatch;
    for (long long tile = blockIdx.x; tile < tiles; tile += gridDim.x) {
        const einfuse_gemm_tile at = einfuse_gemm_tile_at(tile, tiles_m, tiles_n, BM, BN);
        float acc[MT][NT][4];
#pragma unroll
        for (int i = 0; i < MT; ++i)
#pragma unroll
            for (int j = 0; j < NT; ++j)
#pragma unroll
                for (int c = 0; c < 4; ++c) acc[i][j][c] = 0.0f;
        einfuse_gemm_mainloop<Cfg::STAGES, BK, einfuse_gemm_copy<BM, BK, LD, 1, Cfg::threads, T>,
                              einfuse_gemm_copy<BN, BK, LD, 1, Cfg::threads, T>>(
            as, BM * LD, bs, BN * LD, a, a.p + a.off_t(at.t), at.m0, M, b, b.p + b.off_t(at.t), at.n0, N, K,
            [&](const T *sa, const T *sb) {
#pragma unroll
                for (int ks = 0; ks < BK; ks += Mma::KS) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ < 800
                    // No mma.sync before sm_80: the same products on CUDA cores, same accumulators.
#pragma unroll
                    for (int i = 0; i < MT; ++i)
#pragma unroll
                        for (int j = 0; j < NT; ++j)
#pragma unroll
                            for (int c = 0; c < 4; ++c)
#pragma unroll
                                for (int kk = 0; kk < Mma::KS; ++kk)
                                    acc[i][j][c] += Mma::value(sa[(wm + i * 16 + g + c / 2 * 8) * LD + ks + kk]) *
                                                    Mma::value(sb[(wn + j * 8 + 2 * t4 + c % 2) * LD + ks + kk]);
#else
                    unsigned fa[MT][4], fb[NT][2];
#pragma unroll
                    for (int i = 0; i < MT; ++i) Mma::frag_a(fa[i], sa + (wm + i * 16) * LD + ks, LD, g, t4);
#pragma unroll
                    for (int j = 0; j < NT; ++j) Mma::frag_b(fb[j], sb + (wn + j * 8) * LD + ks, LD, g, t4);
#pragma unroll
                    for (int i = 0; i < MT; ++i)
#pragma unroll
                        for (int j = 0; j < NT; ++j) Mma::mma(acc[i][j], fa[i], fb[j]);
#endif
                }
            });
        // Accumulator c of piece (i, j): row g (+8 for c >= 2), column 2 t + c % 2.
#pragma unroll
        for (int i = 0; i < MT; ++i)
#pragma unroll
            for (int j = 0; j < NT; ++j)
#pragma unroll
                for (int c = 0; c < 4; ++c) {
                    const long long m = at.m0 + wm + i * 16 + g + c / 2 * 8, n = at.n0 + wn + j * 8 + 2 * t4 + c % 2;
                    if (m < M && n < N) epilogue(at.t, m, n, acc[i][j][c]);
                }
    }
}

// float inputs on tensor cores: tf32 (10-bit mantissa, rounded to nearest), m16n8k8.
template <> struct einfuse_mma<float> {
    static constexpr int KS = 8;
    static __device__ __forceinline__ float value(float x) { return x; }
    static __device__ __forceinline__ unsigned tf32(float x) {
        unsigned r;
        asm("cvt.rna.tf32.f32 %0, %1;" : "=r"(r) : "f"(x));
        return r;
    }
    static __device__ __forceinline__ void frag_a(unsigned (&r)[4], const float *s, int ld, int g, int t) {
        r[0] = tf32(s[g * ld + t]);
        r[1] = tf32(s[(g + 8) * ld + t]);
        r[2] = tf32(s[g * ld + t + 4]);
        r[3] = tf32(s[(g + 8) * ld + t + 4]);
    }
    static __device__ __forceinline__ void frag_b(unsigned (&r)[2], const float *s, int ld, int g, int t) {
        r[0] = tf32(s[g * ld + t]);
        r[1] = tf32(s[g * ld + t + 4]);
    }
    static __device__ __forceinline__ void mma(float (&d)[4], const unsigned (&a)[4], const unsigned (&b)[2]) {
        asm volatile("mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
                     "{%0,%1,%2,%3};\n"
                     : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
                     : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
    }
};
#endif // EINFUSE_GEMM_MMA_1
)";

/** The m16n8k16 instruction for a 16-bit type: its C name, its PTX name and guard. */
std::string mma16(const char *type, const char *to_float, const char *ptx, const char *guard) {
    std::string t = type;
    return std::string("#ifndef ") + guard + "\n#define " + guard + "\n// " + t +
           " inputs on tensor cores: m16n8k16, products exact in f32, accumulated in f32. A fragment\n"
           "// register holds two neighbours in k: one 32-bit shared-memory read.\n"
           "template <> struct einfuse_mma<" +
           t +
           "> {\n"
           "    static constexpr int KS = 16;\n"
           "    static __device__ __forceinline__ float value(" +
           t + " x) { return " + to_float +
           "(x); }\n"
           "    static __device__ __forceinline__ unsigned pair(const " +
           t +
           " *s) { return *(const unsigned *)s; }\n"
           "    static __device__ __forceinline__ void frag_a(unsigned (&r)[4], const " +
           t +
           " *s, int ld, int g, int t) {\n"
           "        r[0] = pair(s + g * ld + 2 * t);\n"
           "        r[1] = pair(s + (g + 8) * ld + 2 * t);\n"
           "        r[2] = pair(s + g * ld + 2 * t + 8);\n"
           "        r[3] = pair(s + (g + 8) * ld + 2 * t + 8);\n"
           "    }\n"
           "    static __device__ __forceinline__ void frag_b(unsigned (&r)[2], const " +
           t +
           " *s, int ld, int g, int t) {\n"
           "        r[0] = pair(s + g * ld + 2 * t);\n"
           "        r[1] = pair(s + g * ld + 2 * t + 8);\n"
           "    }\n"
           "    static __device__ __forceinline__ void mma(float (&d)[4], const unsigned (&a)[4], const unsigned "
           "(&b)[2]) {\n"
           "        asm volatile(\"mma.sync.aligned.m16n8k16.row.col.f32." +
           ptx + "." + ptx +
           ".f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, \"\n"
           "                     \"{%0,%1,%2,%3};\\n\"\n"
           "                     : \"+f\"(d[0]), \"+f\"(d[1]), \"+f\"(d[2]), \"+f\"(d[3])\n"
           "                     : \"r\"(a[0]), \"r\"(a[1]), \"r\"(a[2]), \"r\"(a[3]), \"r\"(b[0]), \"r\"(b[1]));\n"
           "    }\n"
           "};\n#endif // " +
           guard + "\n";
}

/** einfuse_gemm_bits for a 16-bit type, for files that include its header. */
std::string bits16(const char *type, const char *from_bits, const char *guard) {
    std::string t = type;
    return std::string("#ifndef ") + guard + "\n#define " + guard + "\ntemplate <> struct einfuse_gemm_bits<" + t +
           "> {\n    static __device__ __forceinline__ " + t + " get(const uint4 &v, int i) {\n        return " +
           from_bits + "((unsigned short)(einfuse_gemm_word(v, i / 2) >> (16 * (i % 2))));\n    }\n};\n#endif // " +
           guard + "\n";
}

/** einfuse_gemm_bits for bool and the 8/16-bit and unsigned integers: element i of the vector is
 * bytes [i * size, (i + 1) * size) of its words (little-endian), a 64-bit one two words. */
std::string bits_integer(DType t) {
    const std::string type = c_type(t), name = std::string(dtype_name(t)), guard = "EINFUSE_GEMM_BITS_" + name + "_1";
    const std::size_t size = dtype_size(t);
    std::string value;
    if (size == 8)
        value = "(" + type + ")(((unsigned long long)einfuse_gemm_word(v, 2 * i + 1) << 32) | einfuse_gemm_word(v, 2 * i))";
    else if (size == 4)
        value = "(" + type + ")einfuse_gemm_word(v, i)";
    else {
        const std::string per = std::to_string(4 / size), bits = std::to_string(8 * size);
        value = "(einfuse_gemm_word(v, i / " + per + ") >> (" + bits + " * (i % " + per + "))) & " +
                (size == 1 ? "0xffu" : "0xffffu");
        value = t == DType::Bool ? "(" + value + ") != 0u" : "(" + type + ")(" + value + ")";
    }
    return "#ifndef " + guard + "\n#define " + guard + "\ntemplate <> struct einfuse_gemm_bits<" + type +
           "> {\n    static __device__ __forceinline__ " + type + " get(const uint4 &v, int i) { return " + value +
           "; }\n};\n#endif // " + guard + "\n";
}

} // namespace

std::string gemm_device_library(bool mma, const std::set<DType> &mma_types, const std::set<DType> &types) {
    std::string out = kCommon;
    if (types.count(DType::F16)) out += bits16("__half", "__ushort_as_half", "EINFUSE_GEMM_BITS_F16_1");
    if (types.count(DType::BF16)) out += bits16("__nv_bfloat16", "__ushort_as_bfloat16", "EINFUSE_GEMM_BITS_BF16_1");
    for (DType t : {DType::Bool, DType::I8, DType::I16, DType::U8, DType::U16, DType::U32, DType::U64})
        if (types.count(t)) out += bits_integer(t);
    if (!mma) return out;
    out += kMma;
    if (mma_types.count(DType::F16)) out += mma16("__half", "__half2float", "f16", "EINFUSE_GEMM_MMA_F16_1");
    if (mma_types.count(DType::BF16))
        out += mma16("__nv_bfloat16", "__bfloat162float", "bf16", "EINFUSE_GEMM_MMA_BF16_1");
    return out;
}

} // namespace einfuse::cuda_backend::detail
