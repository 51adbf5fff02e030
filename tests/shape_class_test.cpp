// Shape classes (passes/Sizes.h, ir/SizeGuard.h): a plan records every fact about sizes its
// passes relied on, and exec/Compiled reuses it for any sizes where those facts hold. The
// property that makes this safe: whenever the guards of the plan for sizes A hold for sizes B,
// lowering for B gives the same plan (the same kernels, guards, CUDA text, and explanation up
// to the numbers it quotes). Checked here on random pairs, for the host and the GPU; then the
// CUDA code of one size run at another, in the CPU emulation (tests/CudaHostEmulation.h).
#include "StandaloneCu.h"
#include "TestUtil.h"

#include "backends/cuda/CudaPrinter.h"
#include "frontend/Einsum.h"
#include "frontend/Program.h"
#include "ir/Printer.h"
#include "passes/Pipeline.h"
#include "passes/Sizes.h"

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <regex>

#include <doctest/doctest.h>

using namespace einfuse;

namespace {

ir::Program einsum_ir(const char *spec) {
    auto ast = frontend::parse_einsum(spec);
    return frontend::einsum_program(frontend::resolve_einsum(ast, frontend::label_ranks(ast)),
                                    std::vector<DType>(ast.operands.size(), DType::F32));
}

ir::Program program_ir(const char *source) { return frontend::program_ir(frontend::parse_program(source), {}, {}); }

/** A size drawn log-uniformly from [lo, hi]. */
int64_t draw(int64_t lo, int64_t hi) {
    std::uniform_real_distribution<double> u(std::log(static_cast<double>(lo)), std::log(static_cast<double>(hi) + 1));
    return std::min(hi, static_cast<int64_t>(std::exp(u(test::rng()))));
}

/** An expression and how to draw its sizes. */
struct Family {
    const char *name;
    ir::Program program;
    std::function<ir::Extents()> sizes;
    std::function<int64_t(const std::string &)> one; // a fresh size for one variable
};

std::vector<Family> families() {
    std::vector<Family> out;
    auto range = [](std::map<std::string, std::pair<int64_t, int64_t>> r) {
        return std::make_pair(
            std::function<ir::Extents()>([r] {
                ir::Extents e;
                for (const auto &[v, lh] : r) e[v] = draw(lh.first, lh.second);
                return e;
            }),
            std::function<int64_t(const std::string &)>([r](const std::string &v) {
                return draw(r.at(v).first, r.at(v).second);
            }));
    };
    {
        // bmm at D = 2..16 with a batch of any size; the three small sizes move together.
        auto sizes = [] {
            int64_t d = std::uniform_int_distribution<int64_t>(2, 16)(test::rng());
            return ir::Extents{{"b", draw(1, 100000)}, {"i", d}, {"j", d}, {"k", d}};
        };
        auto one = [](const std::string &v) { return v == "b" ? draw(1, 100000) : draw(1, 20); };
        out.push_back({"bmm", einsum_ir("bij,bjk->bik"), sizes, one});
    }
    {
        // D=32..64: on the GPU the small dense GEMM, its sizes constants but the batch free.
        auto sizes = [] {
            const int64_t ds[] = {32, 40, 48, 64};
            int64_t d = ds[std::uniform_int_distribution<int>(0, 3)(test::rng())];
            return ir::Extents{{"b", draw(1, 100000)}, {"i", d}, {"j", d}, {"k", d}};
        };
        auto one = [](const std::string &v) { return v == "b" ? draw(1, 100000) : draw(24, 64); };
        out.push_back({"bmm D=32..64", einsum_ir("bij,bjk->bik"), sizes, one});
    }
    auto [gs, go] = range({{"i", {1, 5000}}, {"j", {1, 5000}}, {"d", {1, 20}}});
    out.push_back({"gaussian sum", program_ir("out[i] = sum[j](exp(-sum[d]((x[i,d] - y[j,d])^2)) * w[j])"), gs, go});
    auto [cs, co] = range({{"i", {1, 400}}, {"j", {1, 400}}, {"k", {1, 400}}, {"l", {1, 400}}});
    out.push_back({"3-operand chain", einsum_ir("ij,jk,kl->il"), cs, co});
    auto [ms, mo] = range({{"i", {1, 3000}}, {"j", {1, 3000}}, {"k", {1, 3000}}});
    out.push_back({"gemm", einsum_ir("ij,jk->ik"), ms, mo});
    auto [bs, bo] = range({{"b", {1, 64}}, {"i", {1, 300}}, {"j", {1, 300}}, {"k", {1, 300}}});
    out.push_back({"batched gemm", einsum_ir("bij,bjk->bik"), bs, bo});
    auto [ds, dO] = range({{"n", {1, 100000}}, {"c", {1, 300}}});
    out.push_back({"batched dot", einsum_ir("nc,nc->n"), ds, dO});
    return out;
}

/** The explanation with every number replaced: what it says, not the sizes it quotes. */
std::string without_numbers(const std::string &text) {
    static const std::regex number("[0-9]+(\\.[0-9]+)?(e[+-][0-9]+)?");
    return std::regex_replace(text, number, "#");
}

std::string text_of(const ir::Extents &e) {
    std::string out;
    for (const auto &[v, n] : e) out += (out.empty() ? "" : ",") + v + "=" + std::to_string(n);
    return out;
}

/** Checks that `b` is the plan `a` is, for sizes a's guards admit. */
void check_same_plan(const passes::Plan &a, const passes::Plan &b) {
    CHECK(a.guards == b.guards);
    CHECK(without_numbers(a.explain()) == without_numbers(b.explain()));
    REQUIRE(a.kernels.size() == b.kernels.size());
    for (std::size_t i = 0; i < a.kernels.size(); ++i) CHECK(ir::to_string(a.kernels[i]) == ir::to_string(b.kernels[i]));
    if (a.target.is_gpu()) // the code itself: no size it did not guard is in it
        CHECK(cuda_backend::emit_cuda(a.kernels, "test") == cuda_backend::emit_cuda(b.kernels, "test"));
}

} // namespace

TEST_CASE("shape classes: where a plan's guards hold, lowering gives the same plan") {
    for (passes::Device device : {passes::Device::Host, passes::Device::Gpu}) {
        const passes::LowerOptions options = passes::LowerOptions::for_device(device);
        for (const auto &f : families()) {
            CAPTURE(f.name);
            CAPTURE(device == passes::Device::Gpu);
            // EINFUSE_TEST_PAIRS=1000: a longer search than the default's.
            const char *more = std::getenv("EINFUSE_TEST_PAIRS");
            int served = 0, pairs = more ? std::atoi(more) : 60;
            for (int n = 0; n < pairs; ++n) {
                ir::Extents a = f.sizes();
                // B: A with one or more sizes drawn again (often the same class), or all of them.
                ir::Extents b = a;
                std::uniform_int_distribution<int> coin(0, 2);
                for (auto &[v, size] : b)
                    if (coin(test::rng()) == 0) size = f.one(v);
                if (n % 5 == 0) b = f.sizes();
                passes::Plan pa = passes::lower(f.program, a, options);
                if (!pa.serves(b)) continue;
                ++served;
                const std::string sizes_text = text_of(a) + " then " + text_of(b) + ": " + pa.shape_class();
                CAPTURE(sizes_text);
                check_same_plan(pa, passes::lower(f.program, b, options));
            }
            CHECK(served > 0);
            const std::string tally = std::string(f.name) + (device == passes::Device::Gpu ? " (GPU): " : " (host): ") +
                                      std::to_string(served) + " of " + std::to_string(pairs) + " pairs in one class";
            MESSAGE(tally);
        }
    }
}

TEST_CASE("shape classes: what bmm's class leaves free") {
    const ir::Program p = einsum_ir("bij,bjk->bik");
    for (passes::Device device : {passes::Device::Host, passes::Device::Gpu}) {
        passes::Plan plan = passes::lower(p, {{"b", 1000}, {"i", 3}, {"j", 3}, {"k", 3}}, device);
        MESSAGE(plan.shape_class());
        for (const auto &g : plan.guards) CHECK(std::find(g.vars.begin(), g.vars.end(), "b") == g.vars.end());
        CHECK(plan.serves({{"b", 1}, {"i", 3}, {"j", 3}, {"k", 3}}));
        CHECK(plan.serves({{"b", 12345678}, {"i", 3}, {"j", 3}, {"k", 3}}));
        CHECK(!plan.serves({{"b", 1000}, {"i", 4}, {"j", 3}, {"k", 3}})); // unrolled for 3
        CHECK(!plan.serves({})); // unrolled needs sizes
    }
    // D=32 on the GPU: the small dense GEMM for i, j, k == 32, any batch.
    passes::Plan small = passes::lower(p, {{"b", 1000}, {"i", 32}, {"j", 32}, {"k", 32}}, passes::Device::Gpu);
    REQUIRE(small.kernels.size() == 1);
    CHECK(small.kernels.front().gemm->small.has_value());
    MESSAGE(small.shape_class());
    CHECK(small.serves({{"b", 77}, {"i", 32}, {"j", 32}, {"k", 32}}));
    CHECK(!small.serves({{"b", 1000}, {"i", 32}, {"j", 32}, {"k", 33}}));
    // The Gaussian sum on the GPU: d is unrolled (d == 3), i only needs a block's worth of points.
    passes::Plan g = passes::lower(program_ir("out[i] = sum[j](exp(-sum[d]((x[i,d] - y[j,d])^2)) * w[j])"),
                                   {{"i", 20000}, {"j", 20000}, {"d", 3}}, passes::Device::Gpu);
    MESSAGE(g.shape_class());
    CHECK(g.serves({{"i", 100000}, {"j", 7}, {"d", 3}}) == false); // j <= 16: a short sum
    CHECK(g.serves({{"i", 100000}, {"j", 1000000}, {"d", 3}}));
    CHECK(!g.serves({{"i", 20000}, {"j", 20000}, {"d", 4}}));
}

TEST_CASE("size guards: text and evaluation") {
    using K = ir::SizeGuard::Kind;
    const ir::Extents e{{"b", 5000}, {"i", 3}, {"k", 4}};
    const ir::SizeGuard eq{K::Range, {"i"}, 3, 3}, ge{K::Range, {"b", "i", "k"}, 4096, INT64_MAX},
        band{K::Range, {"b"}, 4096, 8191}, unknown{K::Unknown, {"d"}}, sized{K::Sized, {}};
    CHECK(ir::to_string(eq) == "i == 3");
    CHECK(ir::to_string(ge) == "b*i*k >= 4096");
    CHECK(ir::to_string(band) == "4096 <= b <= 8191");
    CHECK(ir::to_string(unknown) == "'d' not known");
    CHECK(ir::all_hold({eq, ge, band, unknown, sized}, e));
    CHECK(!eq.holds({{"i", 4}}));
    CHECK(!ge.holds({{"b", 1}, {"i", 3}, {"k", 4}}));
    CHECK(!unknown.holds({{"d", 3}}));
    CHECK(!sized.holds({}));
    // Products saturate instead of wrapping.
    CHECK(ge.holds({{"b", INT64_MAX / 2}, {"i", 3}, {"k", 4}}));

    // The recorder: each read leaves the fact it used, once.
    std::vector<ir::SizeGuard> guards;
    passes::Sizes sizes(e, &guards);
    CHECK(sizes.exact_up_to("i", 16) == 3);
    CHECK(sizes.exact_up_to("b", 16) == std::nullopt);
    CHECK(sizes.at_least({"b", "k"}, 256));
    CHECK(sizes.at_least({"b", "k"}, 256));
    CHECK(sizes.bucket("b", 16) == doctest::Approx(4096 * std::sqrt(2.0)));
    CHECK(sizes.bucket("d", 16) == 16);
    CHECK(sizes.shown({"b", "i"}) == 15000);
    std::string text;
    for (const auto &g : guards) text += ir::to_string(g) + "; ";
    CHECK(text == "i == 3; 4096 <= b <= 8191; b*k >= 256; 'd' not known; "); // ranges of one product merged
}


TEST_CASE("shape classes: the CUDA code of one size runs another of its class (CPU emulation)") {
    // Planned for b=1000 and run for other batches: the staged variant's launch rule and the
    // kernels read b from their arguments.
    const ir::Program p = einsum_ir("bij,bjk->bik");
    passes::Plan plan = passes::lower(p, {{"b", 1000}, {"i", 3}, {"j", 3}, {"k", 3}}, passes::Device::Gpu);
    REQUIRE(plan.kernels.size() == 1);
    const ir::Kernel &k = plan.kernels.front();
    const std::string cu = cuda_backend::emit_cuda(plan.kernels, "test");
    std::vector<test::StandaloneResult> results;
    std::vector<Tensor> wants, gots;
    for (int64_t b : {1, 37, 2001}) {
        ir::Extents e{{"b", b}, {"i", 3}, {"j", 3}, {"k", 3}};
        REQUIRE(plan.serves(e));
        Tensor x(DType::F32, {b, 3, 3}), y(DType::F32, {b, 3, 3});
        x.fill_random(test::rng());
        y.fill_random(test::rng());
        wants.push_back(ir::evaluate_reference(p, {&x, &y}, e).front());
        std::vector<int64_t> sizes;
        for (const auto &v : k.index_vars) sizes.push_back(e.at(v));
        Shape s{b, 3, 3};
        Tensor got(DType::F32, s);
        auto strides = contiguous_strides(s);
        results.push_back(test::run_standalone_async(cu, k.name, {{&x, s, strides, 0}, {&y, s, strides, 0}},
                                                     {&got, s, strides, 0}, sizes, 4, test::Runner::HostEmulation));
        gots.push_back(std::move(got));
    }
    for (std::size_t i = 0; i < results.size(); ++i) {
        auto bytes = results[i].get();
        if (!bytes) {
            MESSAGE("skipped: no nvcc headers for the emulation");
            continue;
        }
        std::memcpy(gots[i].data(), bytes->data(), bytes->size());
        CHECK(ir::max_relative_error(gots[i], wants[i]) <= tolerance(DType::F32, 3));
    }
}

