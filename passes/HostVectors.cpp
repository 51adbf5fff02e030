#include "passes/HostVectors.h"

#include "ir/Walk.h"

#include <algorithm>

namespace einfuse::passes {

namespace {

/** Why gathers are off for the kernels LLVM vectorises itself. "bij,bjk->bik" at D=3 across
 * batch elements is a stride-9 access: LLVM forms interleaved groups only up to 8 members, so it
 * chose a masked gather per element instead (46 gathers and 10 scatters at D=3 with AVX-512,
 * 239 gathers at D=4 on an AMD EPYC, where they ran at 12-16% of the copy bandwidth). Without
 * them it loads whole vectors: interleaved groups (D=2) or a batch element's rows (SLP), the same
 * bytes at the memory limit on every CPU, so the choice needs no measurement. */
const char *kNoGathers = "masked gathers and scatters off: each batch element's slice is contiguous, loaded as whole "
                         "vectors and rearranged with shuffles, whatever this CPU's gathers cost";

/** The fixed length of the output's rows: its innermost index's extent when that loop is
 * unrolled; 0 otherwise. */
int64_t unrolled_row(const ir::Kernel &k) {
    if (k.num_inputs >= static_cast<int>(k.params.size())) return 0;
    const ir::TensorInfo &out = k.params[k.num_inputs];
    std::string row_var;
    ir::for_each_tensor_var_use(k.body, [&](const std::string &t, const std::vector<std::string> &vars) {
        if (t == out.name && !vars.empty()) row_var = vars.back();
    });
    int64_t row = 0;
    ir::for_each_loop(k.body, [&](const ir::For &f) {
        if (f.var == row_var && f.loop_kind == ir::LoopKind::Unrolled) row = f.fixed_extent;
    });
    return row;
}

/** The output's rows' length if a row fills a vector of `bits`; 0 otherwise. "bij,bjk->bik": k's
 * extent, 8 at D=8 (8 f32 lanes at 256 bits; rows of at least 8): LLVM then vectorises along the
 * rows, B's rows loaded whole and A's elements broadcast, and never considers a gather; turning
 * gathers off there changes its cost model (LLVM 19 then leaves the rows to the SLP vectoriser,
 * which builds them from scalars), so it is done only for shorter rows, where LLVM vectorises
 * across batch elements. */
int64_t full_rows(const ir::Kernel &k, int bits) {
    std::size_t widest = 1;
    for (const auto &t : k.params) widest = std::max(widest, dtype_size(t.dtype));
    const int64_t row = unrolled_row(k);
    // Rows shorter than 8 are unrolled away before the loop vectoriser runs (f64 at D=4 fills a
    // 256-bit vector, yet LLVM gathered across batch elements), so they count as short.
    int64_t lanes = bits / (8 * static_cast<int64_t>(widest));
    return row >= std::max<int64_t>(lanes, 8) ? row : 0;
}

/** The output's rows in bits (0: not unrolled). */
int64_t row_bits(const ir::Kernel &k) {
    if (k.num_inputs >= static_cast<int>(k.params.size())) return 0;
    return unrolled_row(k) * 8 * static_cast<int64_t>(dtype_size(k.params[k.num_inputs].dtype));
}

/** CPUs on which an unrolled kernel whose output rows are 128 bits runs faster with 128-bit
 * vectors, one vector a row, than with 256-bit ones that rearrange two batch elements' slices.
 * AMD EPYC, znver3, bij,bjk->bik at D=4 f32 on one thread: 14.1-14.5 GB/s against 12.1-12.3
 * (D=2 f64 the same either way; D=2, 3, 8, 16 f32 slower at 128: docs/performance.md). Only the
 * CPU it was measured on: the Xeons (AVX-512) ran D=4 at the memory limit with 256. */
bool rows_of_128_bits_prefer_128(const ir::Target &target) { return target.cpu == "znver3"; }

/** CPUs on which an unrolled kernel whose output rows fill 512-bit vectors (D=16 f32, D=8 f64)
 * runs faster with 512-bit vectors, one a row, than with two 256-bit ones. AMD EPYC, znver4 (a
 * 2-vCPU VM), bij,bjk->bik at D=16 f32, six alternating pairs of `einfuse run --repeat 15`: one
 * thread 30.5 GB/s against 24.6 (medians; 512 ahead in five pairs), two threads 33.1 against 31.4;
 * D=8 f64 26.4 against 24.5 (five pairs, within the noise). Only the CPU it was measured on. */
bool rows_of_512_bits_prefer_512(const ir::Target &target) { return target.cpu == "znver4"; }

} // namespace

ir::Kernel choose_host_vectors(ir::Kernel k, const ir::Target &target) {
    if (target.is_gpu()) return k;
    ir::HostVectors v;
    v.bits = target.vector_bits >= 128 ? target.vector_bits : 0;
    v.narrowed_isa = !target.narrowed_by.empty();
    if (k.gemm && k.gemm->host_packed) {
        v.bits = k.gemm->host_vector_bits;
        v.why = "the packed GEMM's micro-kernel width";
    } else if (v.bits == 0) {
        v.why = "this CPU has no vector registers einfuse uses";
    } else if (k.strategy == ir::Strategy::Unrolled || k.strategy == ir::Strategy::Elementwise) {
        if (k.strategy == ir::Strategy::Unrolled && v.bits > kUnrolledVectorBits) {
            if (v.bits >= 512 && row_bits(k) >= 512 && rows_of_512_bits_prefer_512(target)) {
                v.bits = 512;
                v.why = "on " + target.cpu + ", rows of 512 bits or more run faster in 512-bit vectors; ";
            } else {
                v.bits = kUnrolledVectorBits;
                v.why = "the memory limit needs no wider vectors; ";
            }
        }
        if (k.strategy == ir::Strategy::Unrolled && v.bits > 128 && row_bits(k) == 128 &&
            rows_of_128_bits_prefer_128(target)) {
            v.bits = 128;
            v.narrowed_isa = true; // prefer-vector-width=128 alone still shuffles 256-bit registers
            v.why = "on " + target.cpu + ", rows of 128 bits run faster as one 128-bit vector a row (no AVX); ";
        }
        int64_t row = k.strategy == ir::Strategy::Unrolled ? full_rows(k, v.bits) : 0;
        v.no_gathers = row == 0;
        if (row)
            v.why += "the output's rows of " + std::to_string(row) +
                     " fill whole vectors: vectorised along them with whole-vector loads, no gathers needed";
        else
            v.why += k.strategy == ir::Strategy::Unrolled
                         ? kNoGathers
                         : "masked gathers and scatters off: strided reads stay scalar, contiguous ones whole vectors";
    } else {
        v.why = "lanes across the outer parallel loop, each lane's reduction in serial order; reads that vary "
                "across lanes are gathered";
    }
    if (!target.narrowed_by.empty())
        v.why += "; " + target.narrowed_by + " keeps the code to " + std::to_string(target.vector_bits) +
                 "-bit instructions";
    k.host_vectors = std::move(v);
    return k;
}

std::string describe_host_vectors(const ir::HostVectors &v, const ir::Target &target) {
    std::string cpu = "CPU" + (target.cpu.empty() ? std::string() : " " + target.cpu) + ": " +
                      std::to_string(target.cpu_vector_bits) + "-bit";
    std::string width = v.bits ? std::to_string(v.bits) + "-bit vectors" : "scalar";
    return width + " (" + cpu + "), " + v.why;
}

} // namespace einfuse::passes
