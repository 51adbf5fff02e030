// Why these tile shapes:
//  - "_gemm" 128x128x16, 8x8 per thread (f32, i32): the classic register-blocked SGEMM; 64
//    accumulators and 16 shared reads per 64 FMAs. f64 and i64 use 64x64x16, 4x4: the same
//    register budget for 8-byte values.
//  - "_gemm_m64" 64x64x64, 8x2 per thread, 256 threads: a whole D=64 matrix (or a 64-wide slice
//    of a skinny GEMM) per block, K=64 in one chunk, so a batched D=64 product copies each
//    matrix once, 16-byte loads, in one round trip; 34 KB of static shared memory.
//  - "_gemm_m32" 32x32x32, 4x1 per thread, 256 threads: the same for D=32 (9 KB of shared
//    memory, up to 8 blocks per SM, one 16-byte load per operand per thread).
//    Both have a warp's 32 threads on 32 neighbouring columns: per k, a warp reads its rows of A
//    as 16-byte broadcasts and its B values as one 128-byte line per column (2 and 4 shared-
//    memory wavefronts per k for 4 and 16 FMAs; 2x2 and 4x4 took 3 and 5), and stores 128
//    contiguous bytes per output row. The small shapes are bandwidth targets: shared-memory
//    wavefronts, not FMAs, would otherwise bound them.
//  - MMA "_gemm" 128x128x32 (f16, bf16; tf32 x16), 8 warps of 64x32; "_gemm_m64" 64x64, 4 warps
//    of 32x32 for small or skinny products.
// stages 2 (double buffering) where K takes several chunks and two buffers stay under 48 KB;
// the D=32 and D=64 shapes have K in one chunk, and _gemm_m64 in f32 would need 70 KB.
// All shared memory is static and under 48 KB: no dynamic shared memory, no driver change.
// min_blocks: without it ptxas spends registers freely (the D=32 kernel took 128 registers to
// hoist every shared-memory read of its unrolled K loop, leaving 2 blocks per SM); the
// bandwidth-bound small shapes need many blocks in flight, so _m32 asks for 8 (32 registers),
// _m64 for 4, the 128x128 tiles for 2 (128 registers, 64 of them accumulators).
#include "passes/GpuGemmShapes.h"

#include "ir/Walk.h"
#include "support/Error.h"

#include <algorithm>
#include <iterator>

namespace einfuse::passes {

namespace {

const GemmVariant kSimt4[] = {{"_gemm", false, 128, 128, 16, 8, 8, 2, 2},
                              {"_gemm_m64", false, 64, 64, 64, 8, 2, 4, 1},
                              {"_gemm_m32", false, 32, 32, 32, 4, 1, 8, 1}};
const GemmVariant kSimt8[] = {{"_gemm", false, 64, 64, 16, 4, 4, 1, 2}, {"_gemm_m32", false, 32, 32, 32, 4, 1, 4, 1}};
const GemmVariant kMma16[] = {{"_gemm", true, 128, 128, 32, 2, 4, 2, 2}, {"_gemm_m64", true, 64, 64, 32, 2, 2, 4, 2}};
const GemmVariant kMmaTf32[] = {{"_gemm", true, 128, 128, 16, 2, 4, 2, 2}, {"_gemm_m64", true, 64, 64, 32, 2, 2, 4, 2}};

const ir::AssignScalar *find_update(const ir::Stmt &s) {
    if (const auto *a = s.as<ir::AssignScalar>()) return a;
    if (const auto *f = s.as<ir::For>()) return find_update(f->body);
    if (const auto *b = s.as<ir::Block>()) {
        EINFUSE_ASSERT(b->stmts.size() == 1, "a GEMM's K loop holds one statement");
        return find_update(b->stmts[0]);
    }
    throw InternalError("a GEMM's K loop only accumulates");
}

/** The largest of 4, 2, 1 dividing d. */
int tile_of(int d) { return d % 4 == 0 ? 4 : d % 2 == 0 ? 2 : 1; }

/** The sizes of the group (one variable) as planned, or 0. */
int planned_size(const ir::Gemm &g, const std::vector<std::string> &group) {
    if (group.size() != 1) return 0;
    auto it = g.planned->find(group[0]);
    return it == g.planned->end() ? 0 : static_cast<int>(it->second);
}

/** Every distinct index list each tensor is used with, in order of appearance. */
std::map<std::string, std::vector<std::vector<std::string>>> accesses(const ir::Kernel &k) {
    std::map<std::string, std::vector<std::vector<std::string>>> out;
    ir::for_each_tensor_var_use(k.body, [&](const std::string &t, const std::vector<std::string> &idx) {
        auto &seen = out[t];
        if (std::find(seen.begin(), seen.end(), idx) == seen.end()) seen.push_back(idx);
    });
    return out;
}

} // namespace

std::vector<std::vector<std::string>> first_access_indices(const ir::Kernel &k) {
    auto all = accesses(k);
    std::vector<std::vector<std::string>> out;
    for (const auto &p : k.params) {
        auto it = all.find(p.name);
        out.push_back(it == all.end() ? std::vector<std::string>{} : it->second.front());
    }
    return out;
}

GemmUpdate gemm_update(const ir::Kernel &k) {
    EINFUSE_ASSERT(k.gemm.has_value(), "a GEMM kernel has k.gemm");
    ir::AroundLoop around = ir::around_first_loop(k);
    EINFUSE_ASSERT(around.loop != nullptr, "a GEMM kernel has its K loop");
    GemmUpdate u{find_update(around.loop->body), DType::F32};
    for (const auto &s : around.before)
        if (const auto *d = s.as<ir::DeclareScalar>(); d && d->name == u.update->name) u.acc_type = d->type;
    return u;
}

std::optional<SmallGemm> gemm_small_config(const ir::Kernel &k) { return k.gemm ? k.gemm->small : std::nullopt; }
std::optional<DType> gemm_mma_type(const ir::Kernel &k) { return k.gemm ? k.gemm->mma : std::nullopt; }

std::optional<DType> plan_gemm_mma(const ir::Kernel &k, const ir::Target &target) {
    GemmUpdate u = gemm_update(k);
    const ir::TensorInfo &a = k.params.at(k.param_index(k.gemm->a)), &b = k.params.at(k.param_index(k.gemm->b));
    if (a.dtype != b.dtype || u.acc_type != DType::F32) return std::nullopt;
    // acc = acc + x * y, the reads maybe widened to f32: exactly what the instruction computes.
    const auto *add = u.update->value.as<ir::Binary>();
    const auto *mul = add && add->op == ir::BinaryOp::Add ? add->b.as<ir::Binary>() : nullptr;
    const auto *acc = add ? add->a.as<ir::ScalarRef>() : nullptr;
    if (!mul || mul->op != ir::BinaryOp::Mul || !acc || acc->name != u.update->name) return std::nullopt;
    for (const ir::Expr &x : {mul->a, mul->b}) {
        const ir::Expr &read = x.as<ir::Cast>() ? x.as<ir::Cast>()->value : x;
        if (!read.as<ir::Access>()) return std::nullopt;
    }
    if (!target.has_tensor_cores(a.dtype)) return std::nullopt;
    if (a.dtype == DType::F16 || a.dtype == DType::BF16) return a.dtype;
    if (a.dtype == DType::F32 && k.gemm->allow_tf32) return DType::F32;
    return std::nullopt;
}

std::vector<GemmVariant> gemm_variants(const ir::Kernel &k) {
    auto list = [](const auto &table) { return std::vector<GemmVariant>(std::begin(table), std::end(table)); };
    if (auto t = gemm_mma_type(k)) return *t == DType::F32 ? list(kMmaTf32) : list(kMma16);
    DType acc = gemm_update(k).acc_type;
    const ir::TensorInfo &a = k.params.at(k.param_index(k.gemm->a)), &b = k.params.at(k.param_index(k.gemm->b));
    std::size_t widest = std::max({dtype_size(acc), dtype_size(a.dtype), dtype_size(b.dtype)});
    return widest == 8 ? list(kSimt8) : list(kSimt4);
}

std::optional<SmallGemm> plan_gemm_small(const ir::Kernel &k, const ir::Target &target, std::string *why_not) {
    auto no = [&](const std::string &why) -> std::optional<SmallGemm> {
        if (why_not) *why_not = why;
        return std::nullopt;
    };
    if (!k.gemm) return no("not a GEMM");
    const ir::Gemm &g = *k.gemm;
    if (!g.planned) return no("planned without sizes");
    if (gemm_mma_type(k)) return no("tensor cores");
    if (g.batch.size() > 1) return no("a batch of several variables");
    const ir::TensorInfo &a = k.params.at(k.param_index(g.a)), &b = k.params.at(k.param_index(g.b));
    if (a.dtype != b.dtype || (a.dtype != DType::F32 && a.dtype != DType::F64)) return no("not f32 or f64 operands");
    const int m = planned_size(g, g.m), n = planned_size(g, g.n), kk = planned_size(g, g.k);
    if (!m || !n || !kk) return no("M, N or K is not one planned variable");
    if (m > kSmallMaxDim || n > kSmallMaxDim || kk > kSmallMaxDim) return no("larger than " + std::to_string(kSmallMaxDim));
    // a as [batch][m][k] and b as [batch][k][n]: the layouts the template reads.
    auto used = accesses(k);
    std::vector<std::string> want_a = g.batch, want_b = g.batch;
    want_a.insert(want_a.end(), {g.m[0], g.k[0]});
    want_b.insert(want_b.end(), {g.k[0], g.n[0]});
    if (used.at(g.a).size() != 1 || used.at(g.a).front() != want_a || used.at(g.b).size() != 1 ||
        used.at(g.b).front() != want_b)
        return no("operands not [batch][m][k] and [batch][k][n]");
    for (std::size_t p = static_cast<std::size_t>(k.num_inputs); p < k.params.size(); ++p)
        for (const auto &idx : used[k.params[p].name])
            for (const auto &v : idx)
                if (!g.planned->count(v)) return no("an output index without a planned size");
    const int size = static_cast<int>(dtype_size(a.dtype)), vec = 16 / size;
    if (kk % vec != 0 || n % vec != 0) return no("K or N not a multiple of 16 bytes");
    SmallGemm s{m, n, kk, 0, 0, tile_of(m), tile_of(n), 1, a.dtype};
    if (s.tn % vec != 0) return no("N's tile not a multiple of 16 bytes"); // b's rows are read as vectors
    const int per_element = (m / s.tm) * (n / s.tn);
    if (per_element < kSmallMinThreadsPerElement)
        return no("fewer than " + std::to_string(kSmallMinThreadsPerElement) + " threads per batch element");
    // The most elements per block up to kSmallTargetThreads, then the longest chunk of K that fits.
    for (s.elements = std::max(1, kSmallTargetThreads / per_element); s.elements >= 1; --s.elements)
        for (s.bk = kk; s.bk >= vec; --s.bk)
            if (kk % s.bk == 0 && s.bk % vec == 0 && s.shared_bytes() <= target.static_shared_per_block) goto fits;
    return no("does not fit " + std::to_string(target.static_shared_per_block) + " bytes of shared memory");
fits:
    // Blocks per SM: by shared memory (plus 1 KB the driver reserves per block), capped so that
    // ptxas may use 64 registers per thread for f32 and 128 for f64 (accumulators, a's vectors).
    const int regs = size == 8 ? 128 : 64;
    s.min_blocks = std::max(1, std::min(target.shared_per_sm / (s.shared_bytes() + 1024), 65536 / (s.threads() * regs)));
    return s;
}

} // namespace einfuse::passes
