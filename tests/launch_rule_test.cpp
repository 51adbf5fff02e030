// Launch rules as data (ir/LaunchRule.h, passes/GpuLaunchRules): the expression type itself, and
// the rules of real plans evaluated in C++ (as the in-process executor does) against the same
// rules printed as C and compiled (as the standalone launcher runs them).
#include "frontend/Einsum.h"
#include "frontend/Program.h"
#include "ir/LaunchVariant.h"
#include "passes/GpuGemmShapes.h"
#include "passes/GpuLaunchRules.h"
#include "passes/Pipeline.h"
#include "support/Error.h"

#include <doctest/doctest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <unistd.h>

using namespace einfuse;
using ir::lit;
using ir::SizeExpr;
using ir::SizeOp;

namespace {

SizeExpr size(const char *v) { return SizeExpr::size(v); }

/** C names for a harness: sizes, strides and addresses in arrays indexed by variable and param. */
class HarnessNames : public ir::LaunchNames {
  public:
    explicit HarnessNames(const ir::Kernel &k) : k_(k) {}
    std::string size(const std::string &v) const override { return "sz[" + std::to_string(k_.var_index(v)) + "]"; }
    std::string stride(const std::string &t, int d) const override {
        return "st[" + std::to_string(k_.param_index(t)) + "][" + std::to_string(d) + "]";
    }
    std::string address(const std::string &t) const override { return "ad[" + std::to_string(k_.param_index(t)) + "]"; }
    std::string dense(const std::string &t, const std::vector<std::string> &dims) const override {
        std::string list;
        for (const auto &v : dims) list += (list.empty() ? "" : ", ") + std::to_string(k_.var_index(v));
        return "is_dense(st[" + std::to_string(k_.param_index(t)) + "], " + std::to_string(dims.size()) +
               ", (const int[]){" + list + "}, sz)";
    }
    std::string device(const std::string &f) const override { return "device_" + f; }

  private:
    const ir::Kernel &k_;
};

/** One launch of a kernel: sizes by variable; per param its strides and its address. */
struct Launch {
    const ir::Kernel *k;
    ir::LaunchFacts facts;
};

ir::LaunchFacts dense_facts(const ir::Kernel &k, const ir::Extents &sizes, std::uint64_t address = 256) {
    ir::LaunchFacts f;
    f.sizes = std::map<std::string, int64_t>(sizes.begin(), sizes.end());
    auto indices = passes::first_access_indices(k);
    for (std::size_t p = 0; p < k.params.size(); ++p) {
        std::vector<int64_t> strides(indices[p].size());
        int64_t s = 1;
        for (std::size_t d = indices[p].size(); d-- > 0;) {
            strides[d] = s;
            s *= sizes.at(indices[p][d]);
        }
        f.strides[k.params[p].name] = strides;
        f.addresses[k.params[p].name] = address;
    }
    return f;
}

/** Every rule of the launch's kernel, each as "value" lines: evaluated here, or as C by `names`. */
std::vector<SizeExpr> rules(const ir::Kernel &k) {
    std::vector<SizeExpr> out;
    for (const auto &v : k.launch) {
        out.insert(out.end(), {v.guard, v.grid.unnamed(), v.block, v.splits});
        if (v.combine) {
            out.insert(out.end(), {v.combine->grid, v.combine->block});
            out.insert(out.end(), v.combine->part_args.begin(), v.combine->part_args.end());
        }
    }
    return out;
}

/** The C harness printing every rule of every launch, one value per line. */
std::string harness(const std::vector<Launch> &launches) {
    std::string out = "#include <stdio.h>\n"
                      "static long long einfuse_min(long long a, long long b) { return a < b ? a : b; }\n"
                      "static long long einfuse_max(long long a, long long b) { return a > b ? a : b; }\n"
                      "static long long einfuse_ceil_div(long long a, long long b) { return (a + b - 1) / b; }\n"
                      "static int is_dense(const long long *st, int n, const int *dims, const long long *sz) {\n"
                      "    long long expected = 1;\n"
                      "    for (int d = n - 1; d >= 0; --d) {\n"
                      "        if (sz[dims[d]] > 1 && st[d] != expected) return 0;\n"
                      "        expected *= sz[dims[d]];\n"
                      "    }\n"
                      "    return 1;\n"
                      "}\n"
                      "int main(void) {\n";
    for (const auto &l : launches) {
        const ir::Kernel &k = *l.k;
        HarnessNames names(k);
        out += "    {\n        const long long sz[] = {";
        for (const auto &v : k.index_vars) out += std::to_string(l.facts.sizes.at(v)) + "LL, ";
        out += "0};\n        const long long st[][8] = {";
        for (const auto &p : k.params) {
            out += "{";
            for (int64_t s : l.facts.strides.at(p.name)) out += std::to_string(s) + "LL, ";
            out += "0}, ";
        }
        out += "};\n        const unsigned long long ad[] = {";
        for (const auto &p : k.params) out += std::to_string(l.facts.addresses.at(p.name)) + "ULL, ";
        out += "};\n        (void)st; (void)ad;\n";
        out += "        const long long total = " + ir::total_work(ir::parallel_vars(k)).unnamed().print_c(names) + ";\n";
        out += "        (void)total;\n";
        for (const auto &v : k.launch) {
            out += "        {\n            const long long grid = " + v.grid.unnamed().print_c(names) + ";\n";
            out += "            (void)grid;\n";
            std::vector<SizeExpr> mine = {v.guard, v.grid.unnamed(), v.block, v.splits};
            if (v.combine) {
                mine.insert(mine.end(), {v.combine->grid, v.combine->block});
                mine.insert(mine.end(), v.combine->part_args.begin(), v.combine->part_args.end());
            }
            for (const auto &r : mine) out += "            printf(\"%lld\\n\", (long long)(" + r.print_c(names) + "));\n";
            out += "        }\n";
        }
        out += "    }\n";
    }
    return out + "    return 0;\n}\n";
}

/** Runs the harness; its lines, or a failed CHECK. */
std::vector<int64_t> run_harness(const std::string &source) {
    namespace fs = std::filesystem;
    fs::path dir = fs::temp_directory_path() / ("einfuse_launch_rules_" + std::to_string(::getpid()));
    fs::create_directories(dir);
    std::ofstream(dir / "h.c") << source;
    std::string cmd = "cc -std=c99 -Wall -Werror -Wno-unused-function -o " + (dir / "h").string() + " " +
                      (dir / "h.c").string() + " && " + (dir / "h").string() + " > " + (dir / "out.txt").string();
    int rc = std::system(cmd.c_str());
    CHECK_MESSAGE(rc == 0, source);
    std::vector<int64_t> out;
    std::ifstream in(dir / "out.txt");
    for (long long x; in >> x;) out.push_back(x);
    fs::remove_all(dir);
    return out;
}

ir::Kernel gpu_kernel(const char *spec, const ir::Extents &sizes) {
    ir::Program p;
    if (frontend::is_program(spec)) {
        p = frontend::program_ir(frontend::parse_program(spec), {});
    } else {
        auto ast = frontend::parse_einsum(spec);
        p = frontend::einsum_program(frontend::resolve_einsum(ast, frontend::label_ranks(ast)),
                                     std::vector<DType>(ast.operands.size(), DType::F32));
    }
    passes::Plan plan = passes::lower(p, sizes, passes::Device::Gpu);
    REQUIRE(plan.kernels.size() == 1);
    return plan.kernels.front();
}

const char *kGauss = "out[i] = sum[j](exp(-sum[d]((x[i,d] - y[j,d])^2)) * w[j])";

} // namespace

TEST_CASE("launch rules: evaluate, print and fold") {
    ir::LaunchFacts f;
    f.sizes = {{"b", 1000}, {"i", 3}};
    f.strides["x"] = {9, 3, 1};
    f.addresses["x"] = 4096 + 4;
    f.device["sm_count"] = 132;
    SizeExpr grid = min(ceil_div(size("b"), lit(64)), lit(524280));
    CHECK(grid.evaluate(f) == 16);
    CHECK(grid.to_string() == "min(ceil_div(size(b), 64), 524280)");
    CHECK((size("b") - (size("i") - lit(1))).to_string() == "size(b) - (size(i) - 1)");
    CHECK((size("b") * (size("i") / lit(2))).to_string() == "size(b) * (size(i) / 2)");
    CHECK(((size("b") + size("i")) * lit(2)).evaluate(f) == 2006);
    SizeExpr a = ir::compare(SizeOp::Lt, size("i"), lit(4)), b = ir::compare(SizeOp::Eq, size("b"), lit(7));
    CHECK(((a && b) || a).to_string() == "(size(i) < 4 && size(b) == 7) || size(i) < 4");
    CHECK(((a && b) || a).evaluate(f) == 1);
    CHECK(SizeExpr::aligned("x", 16).evaluate(f) == 0);
    CHECK(SizeExpr::aligned("x", 4).evaluate(f) == 1);
    CHECK(SizeExpr::stride("x", 1).evaluate(f) == 3);
    CHECK(SizeExpr::dense("x", {"b", "i", "i"}).evaluate(f) == 1);
    f.strides["x"] = {10, 3, 1};
    CHECK(SizeExpr::dense("x", {"b", "i", "i"}).evaluate(f) == 0);
    CHECK(SizeExpr::device("sm_count").evaluate(f) == 132);
    CHECK(SizeExpr::named("total", size("b") * size("i")).to_string() == "total");
    CHECK(SizeExpr::named("total", size("b") * size("i")).evaluate(f) == 3000);
    // Folds: constants, and the neutral elements guards are built from.
    CHECK((lit(1) && a).to_string() == "size(i) < 4");
    CHECK((lit(0) && a).is_const());
    CHECK((size("b") * lit(1)).to_string() == "size(b)");
    CHECK(ceil_div(lit(7), lit(2)).to_string() == "4");
    CHECK(SizeExpr::dense("x", {}).is_const());
    CHECK(SizeExpr::select(ir::compare(SizeOp::Gt, size("i"), lit(0)), lit(8) / size("i"), lit(1)).evaluate(f) == 2);
    // The untaken side is never evaluated: no division by zero.
    f.sizes["i"] = 0;
    CHECK(SizeExpr::select(ir::compare(SizeOp::Gt, size("i"), lit(0)), lit(8) / size("i"), lit(1)).evaluate(f) == 1);
    // Invariants.
    CHECK_THROWS_AS(size("b") / lit(0), InternalError);
    CHECK_THROWS_AS(SizeExpr::aligned("x", 12), InternalError);
    CHECK_THROWS_AS(SizeExpr::size(""), InternalError);
    CHECK_THROWS_AS(size("b") + SizeExpr(), InternalError);
    CHECK_THROWS_AS((lit(8) / size("i")).evaluate(f), InternalError);
    CHECK_THROWS_AS(size("missing").evaluate(f), InternalError);
}

TEST_CASE("launch rules: the staged fit (3x3 and 4x4 staged, 2x2 not; dense or not)") {
    ir::Extents d3{{"b", 1000}, {"i", 3}, {"j", 3}, {"k", 3}}, d4{{"b", 1000}, {"i", 4}, {"j", 4}, {"k", 4}},
        d2{{"b", 1000}, {"i", 2}, {"j", 2}, {"k", 2}};
    ir::Kernel k3 = gpu_kernel("bij,bjk->bik", d3), k4 = gpu_kernel("bij,bjk->bik", d4);
    for (const ir::Kernel *k : {&k3, &k4}) {
        REQUIRE(k->staging.has_value());
        REQUIRE(k->launch.size() == 2);
        CHECK(k->launch[0].kind == ir::VariantKind::Staged);
        CHECK(k->launch[1].kind == ir::VariantKind::Plain);
    }
    // 2x2: a thread per batch element, no staging: the plain kernel alone.
    ir::Kernel k2 = gpu_kernel("bij,bjk->bik", d2);
    CHECK(!k2.staging.has_value());
    REQUIRE(k2.launch.size() == 1);
    CHECK(k2.launch[0].kind == ir::VariantKind::Plain);
    ir::LaunchFacts dense3 = dense_facts(k3, d3), transposed3 = dense3, misaligned3 = dense_facts(k3, d3, 260);
    transposed3.strides["in1"] = {9, 1, 3};
    CHECK(ir::choose_variant(k3.launch, dense3)->kind == ir::VariantKind::Staged);
    CHECK(ir::choose_variant(k3.launch, misaligned3)->kind == ir::VariantKind::Staged); // the kernel checks per tile
    CHECK(ir::choose_variant(k3.launch, transposed3)->kind == ir::VariantKind::Plain);
    const int64_t per_block = k3.staging->batch_per_block;
    CHECK(k3.launch[0].grid.evaluate(dense3) == (1000 + per_block - 1) / per_block);
    CHECK(k3.launch[1].grid.evaluate(dense3) == (1000 * 9 + 255) / 256);
    ir::LaunchFacts dense4 = dense_facts(k4, d4);
    CHECK(ir::choose_variant(k4.launch, dense4)->kind == ir::VariantKind::Staged);
    dense4.sizes["b"] = 1; // a batch of one: its stride may be anything
    dense4.strides["in0"][0] = 12345;
    CHECK(ir::choose_variant(k4.launch, dense4)->kind == ir::VariantKind::Staged);
    dense4.sizes["b"] = 2;
    CHECK(ir::choose_variant(k4.launch, dense4)->kind == ir::VariantKind::Plain);
    CHECK(k3.launch[0].guard.to_string() ==
          "size(i) == 3 && size(j) == 3 && size(k) == 3 && dense(in0) && dense(in1)");
}

TEST_CASE("launch rules: the Gaussian sum's tiled grid and split count") {
    const struct {
        int64_t n, grid, splits;
    } rows[] = {{300, 1, 2}, {1000, 1, 4}, {20000, 20, 64}, {100000, 98, 41}, {1000000, 977, 4}};
    for (const auto &row : rows) {
        CAPTURE(row.n);
        ir::Extents sizes{{"i", row.n}, {"j", row.n}, {"d", 3}};
        ir::Kernel k = gpu_kernel(kGauss, sizes);
        REQUIRE(k.tiling.has_value());
        REQUIRE(k.tiling->combine != nullptr);
        ir::LaunchFacts f = dense_facts(k, sizes);
        const ir::LaunchVariant *v = ir::choose_variant(k.launch, f);
        REQUIRE(v != nullptr);
        CHECK(v->kind == ir::VariantKind::Tiled);
        CHECK(v->grid.evaluate(f) == row.grid);
        CHECK(v->splits.evaluate(f) == row.splits);
        REQUIRE(v->combine.has_value());
        CHECK(v->combine->part_args.front().evaluate(f) == row.n); // the parts' point count
    }
}

TEST_CASE("launch rules: what the executor evaluates is what the printed launcher computes") {
    std::vector<ir::Kernel> kernels;
    std::vector<Launch> launches;
    auto add = [&](const char *spec, const ir::Extents &planned, const std::vector<ir::LaunchFacts> &facts) {
        kernels.push_back(gpu_kernel(spec, planned));
        for (const auto &f : facts) launches.push_back({nullptr, f});
        std::size_t first = launches.size() - facts.size();
        for (std::size_t i = first; i < launches.size(); ++i) launches[i].k = &kernels.back();
    };
    kernels.reserve(8);
    ir::Extents d3{{"b", 1000}, {"i", 3}, {"j", 3}, {"k", 3}}, d2{{"b", 77}, {"i", 2}, {"j", 2}, {"k", 2}};
    ir::Kernel k3 = gpu_kernel("bij,bjk->bik", d3);
    ir::LaunchFacts strided = dense_facts(k3, d3);
    strided.strides["in0"] = {10, 3, 1};
    add("bij,bjk->bik", d3, {dense_facts(k3, d3), strided, dense_facts(k3, d3, 260)});
    add("bij,bjk->bik", d2, {dense_facts(gpu_kernel("bij,bjk->bik", d2), d2)});
    for (int64_t n : {100, 20000, 100000}) {
        ir::Extents s{{"i", n}, {"j", n}, {"d", 3}};
        add(kGauss, s, {dense_facts(gpu_kernel(kGauss, s), s)});
    }
    // GEMMs: planned with sizes (the small variant) at other launches, and without sizes.
    ir::Extents d32{{"b", 5000}, {"i", 32}, {"j", 32}, {"k", 32}};
    ir::Kernel g = gpu_kernel("bij,bjk->bik", d32);
    ir::Extents d16{{"b", 7}, {"i", 16}, {"j", 32}, {"k", 16}}, big{{"b", 1}, {"i", 4096}, {"j", 512}, {"k", 4096}};
    ir::LaunchFacts transposed = dense_facts(g, d32);
    transposed.strides["in1"] = {1024, 1, 32};
    add("bij,bjk->bik", d32, {dense_facts(g, d32), dense_facts(g, d32, 260), transposed, dense_facts(g, d16),
                              dense_facts(g, big)});
    REQUIRE(kernels.back().gemm.has_value());
    CHECK(kernels.back().launch.front().kind == ir::VariantKind::GemmSmall);

    std::vector<int64_t> want;
    for (const auto &l : launches) {
        const ir::Kernel &k = *l.k;
        for (const auto &v : k.launch) {
            // As the harness: grid is declared before the guard reads it.
            std::vector<SizeExpr> mine = {v.guard, v.grid.unnamed(), v.block, v.splits};
            if (v.combine) {
                mine.insert(mine.end(), {v.combine->grid, v.combine->block});
                mine.insert(mine.end(), v.combine->part_args.begin(), v.combine->part_args.end());
            }
            for (const auto &r : mine) want.push_back(r.evaluate(l.facts));
        }
    }
    CHECK(rules(kernels.front()).size() > 4);
    std::vector<int64_t> got = run_harness(harness(launches));
    CHECK(got == want);
    // And the choices differ across the table, so the comparison covers both sides of the guards.
    std::set<std::string> chosen;
    auto library = [](const ir::LaunchVariant &v) { return v.kind == ir::VariantKind::Library; };
    for (const auto &l : launches) chosen.insert(ir::choose_variant(l.k->launch, l.facts, library)->entry(l.k->name));
    CHECK(chosen.size() >= 6);
}
