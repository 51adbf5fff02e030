// gemm: a contraction that is a (batched) matrix product (passes/GemmMatch) with M, N and K large
// enough to tile. Its kernel keeps the plain loop nest; refine() records who runs it: on the host
// the packed GEMM or the loop nest (passes/HostGemm), on the GPU tensor cores or not, the small
// dense variant's shape (passes/GpuGemmShapes) and where cuBLASLt comes in the order (--gemm).
#include "passes/strategy/Strategy.h"

#include "ir/Walk.h"
#include "passes/GemmMatch.h"
#include "passes/GpuGemmShapes.h"
#include "passes/HostGemm.h"

#include <algorithm>
#include <sstream>

namespace einfuse::passes {

namespace {

/** A matrix product runs as a GEMM only when K, the smaller of M and N, and M*N (each the
 * product of its group's sizes) reach these. Below, it is a batched dot product ("nc,nc->n"), a
 * matrix-vector product, or a thin product ("ij,nj->ni" with J 10x10) that the broadcast-reduce
 * loop nest runs at the memory limit. Brief case 6 ("bld,lrd->blr", M = 8, N = 2048, K = 64) is
 * a GEMM: on an H200 cuBLASLt runs it where the loop nest took 13x longer (8.6 ms). K differs by
 * device, as measured (docs/performance.md, the sweeps): on the H200, 1024x1024 products with
 * K = 4 and 8 ran faster as the loop nest (11-12 us against cuBLAS's 17-19), K = 16 faster as a
 * GEMM (11.8 us against 15.5); on the host the packed GEMM already won 4.9x at K = 2 (M = N = 512). */
constexpr int64_t kMinGemmKGpu = 16;
constexpr int64_t kMinGemmKHost = 2;
constexpr int64_t kMinGemmSide = 4;
constexpr int64_t kMinGemmTile = 256;

/** The smallest GEMM tiling pays for, on `device`: each product of sizes (K; M; N; M*N) at least
 * its bound. One rule, read two ways: why_not_gemm at planning time (through passes::Sizes, which
 * records each as a guard), gemm_too_small at launch time (a launch rule, for unsized plans). */
struct GemmMinimum {
    std::vector<std::string> vars;
    int64_t at_least;
};
std::vector<GemmMinimum> gemm_minimums(const ir::Gemm &g, ir::DeviceKind device) {
    std::vector<std::string> mn = g.m;
    mn.insert(mn.end(), g.n.begin(), g.n.end());
    const int64_t min_k = device == ir::DeviceKind::Gpu ? kMinGemmKGpu : kMinGemmKHost;
    return {{g.k, min_k}, {g.m, kMinGemmSide}, {g.n, kMinGemmSide}, {mn, kMinGemmTile}};
}

/** The GEMM strategy: a matrix product (passes/GemmMatch.h) big enough that tiling it pays (all
 * sizes unknown: assumed so). `gemm` gets the match. */
std::optional<std::string> why_not_gemm(const ir::Program &p, const ir::Definition &d, const Sizes &sizes,
                                        ir::DeviceKind device, std::optional<ir::Gemm> &gemm) {
    std::string why;
    gemm = match_gemm(p, d, &why);
    if (!gemm) return "not a GEMM: " + why;
    for (const auto *g : {&gemm->m, &gemm->n, &gemm->k})
        for (const auto &v : *g)
            if (!sizes.known(v)) return std::nullopt;
    const std::vector<GemmMinimum> minimums = gemm_minimums(*gemm, device);
    const int64_t min_k = minimums.front().at_least;
    if (std::any_of(minimums.begin(), minimums.end(), [&](const GemmMinimum &m) { return !sizes.at_least(m.vars, m.at_least); })) {
        std::string sizes_text = "M = " + std::to_string(sizes.shown(gemm->m)) + ", N = " +
                                 std::to_string(sizes.shown(gemm->n)) + ", K = " + std::to_string(sizes.shown(gemm->k));
        return "a GEMM (" + describe(*gemm) + "), but too small to tile (" + sizes_text + "; a GEMM needs K >= " +
               std::to_string(min_k) + ", M and N >= " + std::to_string(kMinGemmSide) + ", M*N >= " +
               std::to_string(kMinGemmTile) + "): the loop nest runs it at the memory limit";
    }
    return std::nullopt;
}

/** What runs a GPU GEMM, in the order k.launch tries it (GpuLaunchRules builds it from the same
 * fields): "runs: the emitted small dense kernel where ..., else in-process cuBLASLt with its
 * epilogue (bias b[k], relu) where the strides fit it, else the emitted tiled kernel on tensor
 * cores (bf16); a standalone .cu runs the emitted kernels". */
std::string gpu_runners(const ir::Gemm &g, const ir::Target &target) {
    std::vector<std::string> order;
    const std::string small = "the emitted small dense kernel where the sizes are the planned ones and the tensors "
                              "dense and aligned";
    if (g.small && !g.library_first) order.push_back(small);
    if (g.library) {
        std::string fused;
        if (g.library->alpha != 1) {
            std::ostringstream alpha;
            alpha << g.library->alpha;
            fused += ", alpha " + alpha.str();
        }
        if (!g.library->addend.empty()) fused += ", + " + g.library->addend;
        if (!g.library->bias.empty()) fused += ", bias " + g.library->bias + "[" + g.library->bias_var + "]";
        if (g.library->relu) fused += ", relu";
        order.push_back("in-process cuBLASLt" + (fused.empty() ? "" : " with its epilogue (" + fused.substr(2) + ")") +
                        " where the strides fit it" + (g.library_first ? " (first: --gemm cublaslt)" : ""));
    }
    if (g.small && g.library_first) order.push_back(small);
    std::string tiles = "the emitted tiled kernel";
    if (g.mma)
        tiles += (target.sm < 80 ? " in tensor-core tiles computed on CUDA cores (mma.sync needs sm_80) ("
                                 : " on tensor cores (") +
                 std::string(*g.mma == DType::F32 ? "tf32" : dtype_name(*g.mma)) + ")";
    if (!g.library) tiles += " (not cuBLASLt: " + g.library_why_not + ")";
    order.push_back(tiles);
    std::string out = "runs: ";
    for (std::size_t i = 0; i < order.size(); ++i) out += (i ? ", else " : "") + order[i];
    return out + (g.library ? "; a standalone .cu runs the emitted kernels" : "");
}

/** The plan's account of a GEMM: its groups, who runs it, and who runs the epilogue. */
void describe_gemm(ir::Kernel &k, const LowerOptions &options, const Sizes &sizes) {
    ir::Gemm &g = *k.gemm;
    g.allow_tf32 = options.allow_tf32;
    // The sizes it was planned for, when every variable has one: the GPU may build a variant for
    // exactly them (the CUDA small dense GEMM), used only when a launch matches; recorded below
    // as far as it read them. The host reads none of them.
    ir::Extents planned;
    if (options.target.is_gpu())
        for (const auto &v : k.index_vars)
            if (sizes.known(v)) planned[v] = sizes.shown({v});
    if (!k.index_vars.empty() && planned.size() == k.index_vars.size()) g.planned = std::move(planned);
    k.strategy_detail = describe(g);
    if (options.gemm == GemmRunner::LoopNest) {
        k.gemm.reset(); // the backends print the loop nest of a kernel without one
        k.strategy_detail += "; --gemm loops: the loop nest runs it";
        return;
    }
    if (!options.target.is_gpu()) return choose_host_gemm(k, options);
    // Tensor cores first: the small variant is for CUDA cores only.
    g.mma = plan_gemm_mma(k, options.target);
    g.small = plan_gemm_small(k, options.target);
    // The small variant reads M, N and K (single variables) from g.planned: whether each is at
    // most kSmallMaxDim, then, when all are, their values. When it fits, its outputs' strides are
    // constants too: each the product of the sizes after it (the first index's size is not among
    // them, so a batch that comes first stays free).
    if (g.planned) {
        bool single = g.m.size() == 1 && g.n.size() == 1 && g.k.size() == 1;
        if (single && sizes.at_most(g.m, kSmallMaxDim) && sizes.at_most(g.n, kSmallMaxDim) &&
            sizes.at_most(g.k, kSmallMaxDim))
            for (const auto *group : {&g.m, &g.n, &g.k}) sizes.exact(group->front());
        if (g.small)
            ir::for_each_tensor_var_use(k.body, [&](const std::string &t, const std::vector<std::string> &idx) {
                if (k.param_index(t) >= k.num_inputs)
                    for (std::size_t d = 1; d < idx.size(); ++d) sizes.exact(idx[d]);
            });
    }
    if (options.gemm == GemmRunner::Emitted && g.library) {
        g.library.reset();
        g.library_why_not = "--gemm emitted";
    }
    g.library_first = options.gemm == GemmRunner::Library && g.library;
    if (g.allow_tf32) k.strategy_detail += "; f32 inputs rounded to tf32 (allowed)";
    k.strategy_detail += "; " + gpu_runners(g, options.target);
}

class Gemm : public Strategy {
  public:
    ir::Strategy kind() const override { return ir::Strategy::Gemm; }

    std::optional<Candidate> consider(const StrategyContext &ctx, std::string *why_not) const override {
        Candidate c;
        if (auto why = why_not_gemm(ctx.program, ctx.definition(), ctx.sizes, ctx.options.target.kind, c.gemm)) {
            *why_not = *why;
            return std::nullopt;
        }
        return c;
    }

    void refine(ir::Kernel &k, const StrategyContext &ctx) const override { describe_gemm(k, ctx.options, ctx.sizes); }
};

} // namespace

// The launch-time form of gemm_minimums (why_not_gemm reads the same rule at planning time).
ir::SizeExpr gemm_too_small(const ir::Gemm &g, ir::DeviceKind device) {
    using ir::lit;
    std::optional<ir::SizeExpr> any;
    for (const GemmMinimum &m : gemm_minimums(g, device)) {
        ir::SizeExpr product = lit(1);
        for (const auto &v : m.vars) product = product * ir::SizeExpr::size(v);
        ir::SizeExpr below = ir::compare(ir::SizeOp::Lt, product, lit(m.at_least));
        any = any ? *any || below : below;
    }
    return *any;
}

const Strategy &gemm_strategy() {
    static const Gemm s;
    return s;
}

} // namespace einfuse::passes
