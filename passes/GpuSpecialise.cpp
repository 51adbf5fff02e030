// Before (unsized "bij,bjk->bik"): gemm_m32 tiles | gemm_m64 | gemm | plain, so a 2x2 product
// ran a 256-thread block per matrix. After:
//   i==2 && j==2 && k==2             the unrolled kernel planned for D=2 (a thread per b)
//   dense && i==3 && j==3 && k==3    its staged variant for D=3, then its unrolled kernel
//   ... D=4, 8, 16 the same
//   dense && i==32 && j==32 && k==32 the small dense GEMM planned for D=32; D=64 the same
//   j<16 || i<4 || k<4 || i*k<256    the loop nest (a thread per output element): the GEMM
//                                    strategy's own "too small to tile" rule, at launch
//   the GEMM's tiles as before, the loop nest last
// Each specialisation is the definition planned again (choose_strategy .. gpu_launch_rules) with
// the free inner sizes fixed; it is kept only where it gains (another strategy, a staged or
// tiled variant, or a small dense GEMM), and only its variants up to the first that always runs;
// the GEMM tiles and cuBLASLt stay the general plan's.
#include "passes/GpuSpecialise.h"

#include "ir/Walk.h"
#include "passes/ChooseStrategy.h"
#include "passes/GpuGemmShapes.h"
#include "passes/GpuLaunchRules.h"
#include "support/Error.h"

#include <algorithm>

namespace einfuse::passes {

namespace {

using ir::lit;
using ir::SizeExpr;
using ir::SizeOp;

/** The stand-in size of the free outer variables when a small dense GEMM is planned: above its
 * largest M, N and K (GpuGemmShapes), so only a batch variable can take it and keep the variant,
 * whose code does not depend on the batch size. */
constexpr int64_t kStandInBatch = 65536;
static_assert(kStandInBatch > kSmallMaxDim);

bool contains(const std::vector<std::string> &list, const std::string &v) {
    return std::find(list.begin(), list.end(), v) != list.end();
}

/** The sizes as a guard: size(i) == 2 && size(j) == 2 ... (in the variables' order). */
SizeExpr sizes_equal(const ir::Extents &fixed) {
    SizeExpr out = lit(1);
    for (const auto &[v, n] : fixed) out = out && ir::compare(SizeOp::Eq, SizeExpr::size(v), lit(n));
    return out;
}

std::string assignment_text(const ir::Extents &fixed) {
    std::string out;
    for (const auto &[v, n] : fixed) out += (out.empty() ? "" : ", ") + v + "=" + std::to_string(n);
    return out;
}

/** The guard of a specialised variant: the fixed sizes, then its own guard, unless that starts
 * with exactly those tests already (a staged variant's: "size(i) == 3 && size(j) == 3 && ..."). */
SizeExpr specialised_guard(const SizeExpr &own, const ir::Extents &fixed) {
    const SizeExpr sizes = sizes_equal(fixed);
    const std::string text = own.inlined().to_string(), prefix = sizes.to_string();
    if (text == prefix || text.rfind(prefix + " && ", 0) == 0) return own;
    return sizes && own;
}

/** What the specialised plan has that the general one lacks; empty: nothing. */
std::string gain(const ir::Kernel &general, const ir::Kernel &special) {
    if (special.strategy != general.strategy) return std::string(ir::strategy_name(special.strategy));
    if (special.staging && !general.staging) return "staged";
    if (special.tiling && !general.tiling) return "tiled";
    if (general.gemm && special.gemm && special.gemm->small && !general.gemm->small) return "small dense GEMM";
    return "";
}

/** The specialisation's variants that can run (up to the first that always does), renamed
 * after `tag` and guarded by `fixed`; cuBLASLt and the GEMM tiles stay the general kernel's. */
std::vector<ir::LaunchVariant> specialised_variants(const ir::Kernel &special, const ir::Extents &fixed,
                                                    const std::string &tag, const std::string &why, bool small_gemm_only) {
    auto code = std::make_shared<const ir::Kernel>(ir::renamed(special, special.name + tag));
    std::vector<ir::LaunchVariant> out;
    for (const auto &v : code->launch) {
        int64_t always = 0;
        bool last = v.guard.is_const(&always) && always;
        bool wanted = small_gemm_only ? v.kind == ir::VariantKind::GemmSmall
                                      : v.kind != ir::VariantKind::Library && v.kind != ir::VariantKind::GemmTiled;
        if (wanted) {
            ir::LaunchVariant s = v;
            s.guard = specialised_guard(v.guard, fixed);
            s.suffix = tag + v.suffix;
            s.code = code;
            s.note = "specialised for " + assignment_text(fixed) + " (" + why + "): " + v.note;
            out.push_back(std::move(s));
        }
        if (last) break;
    }
    return out;
}

/** "i, j, k" */
std::string list_text(const std::vector<std::string> &vars) {
    std::string out;
    for (const auto &v : vars) out += (out.empty() ? "" : ", ") + v;
    return out;
}

} // namespace

std::vector<std::string> inner_free_vars(const ir::Kernel &k, const Sizes &sizes) {
    std::vector<std::string> first;
    ir::for_each_tensor_use(k.body, [&](const std::string &, const std::vector<ir::Index> &idx) {
        if (idx.empty()) return;
        for (const auto &v : idx.front().vars())
            if (!contains(first, v)) first.push_back(v);
    });
    std::vector<std::string> out;
    for (const auto &v : k.index_vars)
        if (!sizes.known(v) && !contains(first, v) && ir::uses_var(k, v)) out.push_back(v);
    return out;
}

ir::Kernel gpu_specialise(ir::Kernel k, const StrategyContext &ctx) {
    // Sizes given while others stay free are pinned: the code may depend on them.
    // Every size known: nothing to do and nothing recorded (a sized plan's class leaves its batch
    // free). Otherwise the free ones are recorded as unknown, the given ones as exact.
    bool some_free = false;
    std::vector<std::string> known;
    for (const auto &v : k.index_vars) {
        if (!ir::uses_var(k, v)) continue;
        if (ctx.sizes.given(v))
            known.push_back(v);
        else if (!ctx.sizes.known(v)) // records "'v' not known"
            some_free = true;
    }
    if (!some_free) return k;
    ir::Extents given;
    for (const auto &v : known) given[v] = ctx.sizes.exact(v); // the plan holds for exactly them (guards)
    k.pinned = given;

    std::vector<std::string> inner = inner_free_vars(k, ctx.sizes);
    if (inner.empty()) {
        k.specialised = "none: every free size indexes some tensor first (a batch or row index), which no "
                        "specialisation fixes";
        return k;
    }
    if (inner.size() > kMaxSpecialisedVars) {
        k.specialised = "none: " + std::to_string(inner.size()) + " free inner sizes (" + list_text(inner) +
                        "), more than the " + std::to_string(kMaxSpecialisedVars) + " a specialisation fixes";
        return k;
    }
    std::vector<ir::LaunchVariant> front;
    std::string kept, skipped;
    std::vector<int64_t> values(std::begin(kSpecialisedSizes), std::end(kSpecialisedSizes));
    if (k.gemm) values.insert(values.end(), std::begin(kSpecialisedGemmSizes), std::end(kSpecialisedGemmSizes));
    for (int64_t n : values) {
        // The specialisation's sizes are launch guards, not the plan's: read without recording.
        ir::Extents sizes = given, fixed;
        for (const auto &v : inner) sizes[v] = fixed[v] = n;
        // The small dense GEMM is planned only when every size is known, but builds in M, N and K
        // alone (its file is the same for any batch): the batch gets a stand-in size, and only
        // that variant, whose guard reads M, N and K, is kept.
        const bool small_gemm_only = n > kMaxUnrolledExtent;
        if (small_gemm_only)
            for (const auto &v : k.index_vars)
                if (!sizes.count(v)) sizes[v] = kStandInBatch;
        StrategyContext sub{ctx.program, ctx.index, sizes, ctx.options};
        ir::Kernel special = refine(lower_chosen(sub, choose_strategy(sub)), sub);
        special = gpu_launch_rules(std::move(special), ctx.options.target);
        std::string why = special.index_vars == k.index_vars && special.params.size() == k.params.size()
                              ? gain(k, special)
                              : "";
        std::vector<ir::LaunchVariant> variants;
        if (!why.empty()) variants = specialised_variants(special, fixed, "_at_" + std::to_string(n), why, small_gemm_only);
        if (variants.empty()) {
            skipped += (skipped.empty() ? "" : ", ") + std::to_string(n);
            continue;
        }
        kept += (kept.empty() ? "" : "; ") + std::to_string(n) + ": " + why;
        for (auto &v : variants) front.push_back(std::move(v));
    }
    const std::string vars = list_text(inner) + (inner.size() > 1 ? " all " : " ");
    std::string tried;
    for (int64_t n : values) tried += (tried.empty() ? "" : ", ") + std::to_string(n);
    k.specialised = kept.empty() ? "none: planning " + vars + "= " + tried + " gains nothing over the general plan"
                                 : "for " + vars + "= " + kept + " (other sizes: the general plan's variants" +
                                       (skipped.empty() ? "" : "; " + skipped + " would gain nothing") + ")";
    // Products of other sizes that a sized plan would not take as a GEMM (too small to tile: the
    // GEMM strategy's own rule, at launch): the loop nest, a thread per output element, where a
    // GEMM tile (32x32 and up) per matrix would leave most threads idle ("nc,nc->n" at any c).
    // Not where the user chose who runs a GEMM (--gemm cublaslt, emitted).
    if (k.gemm && ctx.options.gemm == GemmRunner::Auto) {
        ir::LaunchVariant loops = plain_launch(k);
        loops.guard = gemm_too_small(*k.gemm, ctx.options.target.kind);
        loops.note = "too small to tile as a GEMM: the loop nest, a thread per output element";
        front.push_back(std::move(loops));
        k.specialised += "; other sizes too small to tile as a GEMM: the loop nest";
    }
    k.launch.insert(k.launch.begin(), front.begin(), front.end());
    return k;
}

} // namespace einfuse::passes
