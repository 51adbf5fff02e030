// Each variant's rule, with the measurements behind it where it has some:
//   plain     always; grid min(ceil(total / 256), kMaxGrid), block 256
//   staged    every input dense and the sizes as planned (the kernel has them built in);
//             grid min(ceil(batch / batch_per_block), kMaxGrid), block 256
//   tiled     always; grid min(ceil(total / (rows * points)), kMaxGrid), block rows (ir::Tiling::rows);
//             with a combine kernel, splits = clamp(kTiledTargetBlocks / grid, 1, min(kMaxSplits,
//             tiles of the reduction)) along y, then the combine kernel when splits > 1
//   GEMM      small: the planned M, N, K, a, b and outputs dense, a and b 16-byte aligned;
//             grid min(ceil(batch / elements), SMs * blocks per SM) (one wave);
//             library: cuBLASLt, in-process (the executor asks LibraryGemm whether it maps);
//             tiles: _m32 for M, N <= 32; _m64 for min(M, N) <= 64 or fewer than
//             one 128x128 tile per SM of the target; else _gemm; grid min(batch * tiles, kMaxGrid)
#include "passes/GpuLaunchRules.h"

#include "passes/GpuGemmShapes.h"
#include "passes/GpuTiling.h"
#include "support/Error.h"

#include <algorithm>

namespace einfuse::passes {

namespace {

using ir::lit;
using ir::SizeExpr;
using ir::SizeOp;

SizeExpr size(const std::string &v) { return SizeExpr::size(v); }

SizeExpr product(const std::vector<std::string> &vars) {
    SizeExpr out = lit(1);
    for (const auto &v : vars) out = out * size(v);
    return out;
}

SizeExpr eq(const SizeExpr &a, const SizeExpr &b) { return ir::compare(SizeOp::Eq, a, b); }
SizeExpr le(const SizeExpr &a, const SizeExpr &b) { return ir::compare(SizeOp::Le, a, b); }

ir::LaunchVariant variant(ir::VariantKind kind, std::string suffix, std::string note, SizeExpr guard, SizeExpr grid,
                          SizeExpr block) {
    ir::LaunchVariant v;
    v.kind = kind;
    v.suffix = std::move(suffix);
    v.note = std::move(note);
    v.guard = std::move(guard);
    v.grid = std::move(grid);
    v.block = std::move(block);
    v.splits = lit(1);
    return v;
}

/** Every condition is the sizes the variant was compiled for, in the order of the variables' names. */
SizeExpr sizes_are(const std::map<std::string, int64_t> &fixed) {
    SizeExpr out = lit(1);
    for (const auto &[v, n] : fixed) out = out && eq(size(v), lit(n));
    return out;
}

ir::LaunchVariant staged(const ir::Kernel &k) {
    const ir::Staging &st = *k.staging;
    auto indices = first_access_indices(k);
    SizeExpr dense = lit(1);
    for (int p = 0; p < k.num_inputs; ++p) dense = dense && SizeExpr::dense(k.params[p].name, indices[p]);
    std::map<std::string, int64_t> fixed(st.extents.begin(), st.extents.end());
    // The sizes first: a launch at other sizes (an unsized plan's specialisations, passes/
    // GpuSpecialise) is refused without reading the tensors' layout.
    return variant(ir::VariantKind::Staged, "_staged",
                   "sizes as planned, inputs dense: the shared-memory staged variant", sizes_are(fixed) && dense,
                   min(ceil_div(size(st.batch_var), lit(st.batch_per_block)), lit(kMaxGrid)), lit(kBlockSize));
}

ir::LaunchVariant tiled(const ir::Kernel &k) {
    const ir::Tiling &t = *k.tiling;
    std::vector<std::string> par = ir::parallel_vars(k);
    SizeExpr total = ir::total_work(par);
    SizeExpr grid = SizeExpr::named("grid", min(ceil_div(total, lit(t.rows * t.points_per_thread)), lit(kMaxGrid)));
    ir::LaunchVariant v = variant(ir::VariantKind::Tiled, "_tiled",
                                  "the tiled kernel; its reduction split across blocks when the output is small", lit(1),
                                  grid, lit(t.rows));
    if (!t.combine) return v;
    SizeExpr tiles = ceil_div(size(t.reduce_var), lit(t.rows));
    v.splits = SizeExpr::select(ir::compare(SizeOp::Gt, grid, lit(0)),
                                max(lit(1), min(min(lit(kTiledTargetBlocks) / grid, lit(kMaxSplits)), tiles)), lit(1));
    ir::CombineLaunch c;
    c.kernel = t.combine->name;
    c.grid = min(ceil_div(total, lit(kBlockSize)), lit(kMaxGrid));
    c.block = lit(kBlockSize);
    c.part_args.push_back(total); // the parts: [split, parallel variables...] densely
    for (std::size_t d = 0; d < par.size(); ++d)
        c.part_args.push_back(product(std::vector<std::string>(par.begin() + static_cast<std::ptrdiff_t>(d) + 1, par.end())));
    c.partial = t.combine->params.at(static_cast<std::size_t>(k.num_inputs)).dtype;
    v.combine = std::move(c);
    return v;
}

ir::LaunchVariant gemm_small(const ir::Kernel &k, const SmallGemm &s, const ir::Target &target) {
    const ir::Gemm &g = *k.gemm;
    auto indices = first_access_indices(k);
    SizeExpr fits = sizes_are({{g.m[0], s.m}, {g.n[0], s.n}, {g.k[0], s.k}});
    for (std::size_t p = 0; p < k.params.size(); ++p) {
        const auto &t = k.params[p];
        const bool input = static_cast<int>(p) < k.num_inputs;
        if ((input && t.name != g.a && t.name != g.b) || indices[p].empty()) continue;
        fits = fits && SizeExpr::dense(t.name, indices[p]);
        if (input) fits = fits && SizeExpr::aligned(t.name, 16);
    }
    SizeExpr batch = g.batch.empty() ? lit(1) : size(g.batch[0]);
    return variant(ir::VariantKind::GemmSmall, "_gemm_small",
                   "the planned sizes, dense and aligned: the small variant", fits,
                   min(ceil_div(batch, lit(s.elements)), lit(int64_t{target.sm_count} * s.min_blocks)), lit(s.threads()));
}

/** The tile shapes in the order the rule tries them: _m32, _m64, then _gemm unconditionally. */
std::vector<ir::LaunchVariant> gemm_tiles(const ir::Kernel &k, const ir::Target &target) {
    const ir::Gemm &g = *k.gemm;
    SizeExpr batch = product(g.batch), m = product(g.m), n = product(g.n);
    std::vector<ir::LaunchVariant> out;
    auto add = [&](const GemmVariant &v, SizeExpr guard) {
        out.push_back(variant(ir::VariantKind::GemmTiled, v.suffix,
                              "the tiled GEMM in " + std::to_string(v.bm) + "x" + std::to_string(v.bn) + " tiles",
                              std::move(guard),
                              min(batch * ceil_div(m, lit(v.bm)) * ceil_div(n, lit(v.bn)), lit(kMaxGrid)),
                              lit(v.threads())));
    };
    std::vector<GemmVariant> shapes = gemm_variants(k);
    auto find = [&](const char *suffix) -> const GemmVariant * {
        for (const auto &v : shapes)
            if (std::string(v.suffix) == suffix) return &v;
        return nullptr;
    };
    if (const auto *v = find("_gemm_m32")) add(*v, le(m, lit(32)) && le(n, lit(32)));
    if (const auto *v = find("_gemm_m64")) {
        SizeExpr tiles128 = batch * ceil_div(m, lit(128)) * ceil_div(n, lit(128));
        add(*v, le(m, lit(64)) || le(n, lit(64)) || ir::compare(SizeOp::Lt, tiles128, lit(target.sm_count)));
    }
    const GemmVariant *large = find("_gemm");
    EINFUSE_ASSERT(large != nullptr, "every GEMM has the _gemm tile shape");
    add(*large, lit(1));
    return out;
}

} // namespace

ir::LaunchVariant plain_launch(const ir::Kernel &k) {
    SizeExpr total = ir::total_work(ir::parallel_vars(k));
    return variant(ir::VariantKind::Plain, "", "the loop nest, a thread per output point", lit(1),
                   min(ceil_div(total, lit(kBlockSize)), lit(kMaxGrid)), lit(kBlockSize));
}

ir::Kernel gpu_launch_rules(ir::Kernel k, const ir::Target &target) {
    k.launch.clear();
    if (k.gemm) {
        // The order the passes chose (ir::Gemm): the small dense variant, then cuBLASLt; or,
        // with library_first, cuBLASLt before it.
        auto small = gemm_small_config(k);
        if (small && !k.gemm->library_first) k.launch.push_back(gemm_small(k, *small, target));
        if (k.gemm->library) {
            ir::LaunchVariant lib;
            lib.kind = ir::VariantKind::Library;
            lib.note = "cuBLASLt, in-process only, where the strides map onto it";
            lib.guard = lit(1);
            lib.grid = lit(0);
            lib.block = lit(0);
            lib.splits = lit(1);
            k.launch.push_back(std::move(lib));
        }
        if (small && k.gemm->library_first) k.launch.push_back(gemm_small(k, *small, target));
        for (auto &v : gemm_tiles(k, target)) k.launch.push_back(std::move(v));
    }
    if (k.staging) k.launch.push_back(staged(k));
    if (k.tiling) k.launch.push_back(tiled(k));
    k.launch.push_back(plain_launch(k));
    return k;
}

} // namespace einfuse::passes
