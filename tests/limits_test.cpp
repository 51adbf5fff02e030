// Issue 14's limits, at the layers that enforce them: checked sizes (support/Checked.h, Tensor),
// the parsers' depth limit, the einsum's operand and rank limits, and polynomial contraction
// planning. Each probe crashed, wrapped or ran for minutes before; each is now a UserError.
#include "EinsumIr.h"
#include "frontend/Einsum.h"
#include "frontend/Limits.h"
#include "frontend/Program.h"
#include "ir/Printer.h"
#include "ir/Reference.h"
#include "passes/Pipeline.h"
#include "support/Checked.h"
#include "support/Tensor.h"

#include <doctest/doctest.h>

#include <ctime>
#include <random>

using namespace einfuse;

namespace {

using einfuse::test::einsum_ir;

std::string repeat(const std::string &s, int n) {
    std::string out;
    for (int i = 0; i < n; ++i) out += s;
    return out;
}

/** How many times slower than Release this build runs the planner: Debug without -O and the
 *  sanitizers' checks take 2-10x longer (CI's AddressSanitizer build planned 1,000 operands in
 *  1.2 s). The bounds below guard against exponential planning, which would take years, not
 *  against a slow build. */
#if !defined(NDEBUG) || defined(__SANITIZE_ADDRESS__)
constexpr double kBuildSlowdown = 10;
#else
constexpr double kBuildSlowdown = 1;
#endif

/** The rendered diagnostic of parsing and lowering `source` (program or einsum), or "" if none. */
std::string diagnostic_of(const std::string &source) {
    try {
        if (frontend::is_program(source)) {
            frontend::program_ir(frontend::parse_program(source), {}, {});
        } else {
            auto ast = frontend::parse_einsum(source);
            frontend::resolve_einsum(ast, frontend::label_ranks(ast));
        }
    } catch (const UserError &e) {
        return render(e.diagnostic(), source);
    }
    return "";
}

bool has(const std::string &text, const std::string &part) { return text.find(part) != std::string::npos; }

} // namespace

TEST_CASE("checked sizes: products, byte counts and reaches that wrap are UserErrors") {
    CHECK(checked_mul(3, 4, "x") == 12);
    CHECK_THROWS_AS(checked_mul(int64_t{1} << 32, int64_t{1} << 31, "x"), UserError);
    CHECK_THROWS_AS(checked_add(INT64_MAX, 1, "x"), UserError);
    CHECK(checked_bytes((int64_t{1} << 60) - 1, 8, "x") == INT64_MAX - 7);
    CHECK_THROWS_AS(checked_bytes((int64_t{1} << 61) + 2, 8, "x"), UserError); // 16 bytes when it wrapped
    CHECK(bytes_fit({int64_t{1} << 31, int64_t{1} << 31}, 1));
    CHECK(!bytes_fit({int64_t{1} << 31, int64_t{1} << 31}, 4));
    CHECK(bytes_fit({0, INT64_MAX, INT64_MAX}, 8)); // empty: nothing to address

    CHECK(checked_reach({2, 3}, {3, 1}, 4) == 6);
    CHECK(checked_reach({4, 0}, {1, 1}, 4) == 0);
    CHECK(checked_reach({(int64_t{1} << 62) + 16}, {0}, 4) == 1); // a broadcast reaches one element
    CHECK(checked_reach({3}, {-2}, 8) == 5);
    CHECK(checked_reach({int64_t{1} << 40, 2}, {1, int64_t{1} << 62}, 1) == (int64_t{1} << 62) + (int64_t{1} << 40));
    CHECK_THROWS_AS(checked_reach({int64_t{1} << 40, 3}, {1, int64_t{1} << 62}, 1), UserError); // 2 x 2^62
    CHECK_THROWS_AS(checked_reach({2}, {int64_t{1} << 61}, 4), UserError); // elements fit, bytes do not
    CHECK_THROWS_AS(checked_reach({2}, {INT64_MIN}, 1), UserError);
    CHECK_THROWS_AS(checked_reach({2}, {1, 1}, 1), UserError);
    CHECK_THROWS_AS(checked_reach({-1}, {1}, 1), UserError);
}

TEST_CASE("checked sizes: a Tensor never allocates a wrapped byte count") {
    CHECK_THROWS_AS(Tensor(DType::F32, {int64_t{1} << 62}), UserError);      // 2^64 bytes wrapped to 0
    CHECK_THROWS_AS(Tensor(DType::F64, {(int64_t{1} << 61) + 2}), UserError); // wrapped to 16
    CHECK_THROWS_AS(Tensor(DType::F32, {2, 2}, {int64_t{1} << 62, 1}), UserError);
    CHECK_THROWS_AS(Tensor::borrow(nullptr, DType::F32, {2}, {INT64_MAX}), UserError);
    CHECK_THROWS_AS(contiguous_strides({0, int64_t{1} << 40, int64_t{1} << 40}), UserError);
    Tensor ok(DType::F32, {3, 5});
    CHECK(ok.nbytes() == 60);
}

TEST_CASE("checked sizes: the binders refuse a tensor whose byte count cannot fit, with a caret") {
    auto ast = frontend::parse_einsum("i->i");
    auto e = frontend::resolve_einsum(ast, frontend::label_ranks(ast));
    try {
        frontend::bind_einsum_extents(e, {std::nullopt}, {{"i", int64_t{1} << 62}});
        FAIL("expected a UserError");
    } catch (const UserError &err) {
        CHECK(render(err.diagnostic(), "i->i") ==
              "einfuse: error: operand 0 would have 4611686018427387904 elements: its byte count does not fit 64 bits\n"
              "  i->i\n"
              "  ^\n");
    }
    auto program = frontend::parse_program("o[i,j] = s[]");
    try {
        frontend::bind_program_extents(program, {}, {{"i", int64_t{1} << 31}, {"j", int64_t{1} << 31}});
        FAIL("expected a UserError");
    } catch (const UserError &err) {
        CHECK(has(err.diagnostic().message, "'o' would have 2147483648*2147483648 elements"));
    }
    CHECK_NOTHROW(frontend::bind_program_extents(program, {}, {{"i", int64_t{1} << 30}, {"j", int64_t{1} << 29}}));
}

TEST_CASE("depth limits: deep nesting and long chains are diagnosed, with a caret where the limit was passed") {
    const int nest = frontend::kMaxNesting, depth = frontend::kMaxExpressionDepth;
    const std::string nests = "nests more than 96 levels deep", deep = "is more than 192 levels deep";
    const struct {
        std::string source;
        std::string message;
        int caret; // the column the caret points at
    } rows[] = {
        {"a[i] = " + repeat("(", 8000) + "b[i]" + repeat(")", 8000), nests, 7 + nest},
        {"a[i] = " + repeat("exp(", 10000) + "b[i]" + repeat(")", 10000), nests, 7 + 4 * nest},
        {"a[i] = " + repeat("-", 10000) + "b[i]", nests, 7 + nest},
        {"a[i] = " + repeat("sum[j](", 2000) + "b[j]" + repeat(")", 2000), nests, 7 + 7 * (nest - 1) + 4}, // at j
        {"a[i] = b[" + repeat("c[", 10000) + "i" + repeat("]", 10000) + "]", nests, 9 + 2 * (nest - 1)},
        {"a[i] = b[i]" + repeat(" + b[i]", 12000), deep, 7 + 4 + 7 * (depth - 1) + 1},
    };
    for (const auto &row : rows) {
        CAPTURE(row.source.substr(0, 40));
        std::string d = diagnostic_of(row.source);
        CHECK(has(d, row.message));
        // The caret line: spaces up to the caret's column (after the two-space indent).
        auto caret_line = d.substr(d.find('\n', d.find('\n') + 1) + 1);
        CHECK(caret_line.find('^') == static_cast<std::size_t>(2 + row.caret));
    }
    // Statements fuse into those that read them: a chain of them is one expression.
    std::string chain = "t0[i] = x[i]" + repeat(" + 1", 150);
    for (int k = 1; k < 100; ++k)
        chain += "\nt" + std::to_string(k) + "[i] = t" + std::to_string(k - 1) + "[i]" + repeat(" + 1", 150);
    std::string d = diagnostic_of(chain);
    CHECK(has(d, "reading 't0' here makes the expression more than 192 levels deep once its definition is fused in"));
    CHECK(diagnostic_of("t[i] = x[i]" + repeat(" + 1", 90) + "\nu[i] = t[i]" + repeat(" + 1", 90)) == "");

    // Just under the limits: parses and lowers.
    CHECK(diagnostic_of("a[i] = " + repeat("(", nest - 2) + "b[i]" + repeat(")", nest - 2)) == "");
    CHECK(diagnostic_of("a[i] = b[i]" + repeat(" + b[i]", depth - 2)) == "");
    CHECK(diagnostic_of("a[i] = " + repeat("exp(", nest - 2) + "b[i]" + repeat(")", nest - 2)) == "");
}

TEST_CASE("rank and operand limits: diagnosed at once") {
    CHECK(has(diagnostic_of(repeat("i", 4000) + "->"), "an operand has 4000 labels; einfuse takes at most 32"));
    CHECK(has(diagnostic_of(repeat("i,", 10000) + "i->i"), "more than 1024 operands"));
    CHECK(has(diagnostic_of("a[" + repeat("i,", 59) + "i] = b[" + repeat("i,", 59) + "i]"),
              "60 indices; einfuse takes at most 32"));
    CHECK(diagnostic_of(repeat("i,", 999) + "i->i") == "");
    auto ast = frontend::parse_einsum("...->...");
    try {
        frontend::resolve_einsum(ast, {200});
        FAIL("expected a UserError");
    } catch (const UserError &e) {
        CHECK(e.diagnostic().message == "operand 0 has rank 200; einfuse takes at most 32 dimensions");
    }
    CHECK_NOTHROW(frontend::resolve_einsum(ast, {32}));
}

TEST_CASE("contraction order: the greedy path is polynomial (1,000 operands plan in well under a second)") {
    for (int n : {30, 1000}) {
        CAPTURE(n);
        std::string spec = repeat("i,", n - 1) + "i->i";
        std::clock_t start = std::clock(); // CPU time: a loaded machine does not fail the test
        passes::Plan plan = passes::lower(einsum_ir(spec, DType::F64), {{"i", 3}});
        double seconds = double(std::clock() - start) / CLOCKS_PER_SEC;
        CHECK(seconds < 1.0 * kBuildSlowdown); // 2^30 cost entries took 8.3 GB before; 1,000 ran out of memory
        CHECK(has(plan.explain(), "greedy over " + std::to_string(n) + " operands"));
    }
}

TEST_CASE("contraction order: opt_einsum's test_large_path, a 51-operand chain, plans in milliseconds and is right") {
    // ab,bc,cd,...,YZ->aZ with every size 2: greedy pairs the chain up, intermediates 2x2.
    std::string letters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ", spec;
    for (int k = 0; k + 1 < 52; ++k) spec += std::string(k ? "," : "") + letters[k] + letters[k + 1];
    spec += "->aZ";
    ir::Extents sizes;
    for (char c : letters) sizes[std::string(1, c)] = 2;
    ir::Program p = einsum_ir(spec, DType::F64);
    std::clock_t start = std::clock();
    passes::Plan plan = passes::lower(p, sizes);
    double seconds = double(std::clock() - start) / CLOCKS_PER_SEC;
    CHECK(seconds < 0.5 * kBuildSlowdown);
    CHECK(plan.program.definitions.size() == 50);

    // The steps against the chain of 2x2 matrix products, in float64.
    std::mt19937_64 rng(51);
    std::vector<Tensor> in;
    for (int k = 0; k < 51; ++k) {
        in.emplace_back(DType::F64, Shape{2, 2});
        in.back().fill_random(rng);
    }
    std::vector<const Tensor *> ptrs;
    for (const auto &t : in) ptrs.push_back(&t);
    Tensor got = ir::evaluate_reference(plan.program, ptrs, sizes).front();
    double m[2][2] = {{in[0].load(0), in[0].load(1)}, {in[0].load(2), in[0].load(3)}};
    for (int k = 1; k < 51; ++k) {
        double r[2][2];
        for (int i = 0; i < 2; ++i)
            for (int j = 0; j < 2; ++j) r[i][j] = m[i][0] * in[k].load(j) + m[i][1] * in[k].load(2 + j);
        std::copy(&r[0][0], &r[0][0] + 4, &m[0][0]);
    }
    Tensor want(DType::F64, {2, 2});
    for (int e = 0; e < 4; ++e) want.store(e, m[e / 2][e % 2]);
    CHECK(ir::max_relative_error(got, want, 1e-300) < 1e-9);
}

TEST_CASE("max_relative_error: NaN agrees with NaN, an infinity with itself; one side only fails") {
    const double nan = std::numeric_limits<double>::quiet_NaN(), inf = std::numeric_limits<double>::infinity();
    auto err = [](double g, double w) {
        Tensor a(DType::F32, {1}), b(DType::F64, {1});
        a.store(0, g), b.store(0, w);
        return ir::max_relative_error(a, b);
    };
    CHECK(err(nan, nan) == 0);
    CHECK(err(inf, inf) == 0);
    CHECK(err(-inf, -inf) == 0);
    CHECK(err(inf, -inf) == inf);
    CHECK(err(nan, 1.0) == inf);
    CHECK(err(1.0, nan) == inf);
    CHECK(err(inf, 1.0) == inf);
    CHECK(err(1.0, inf) == inf);
    CHECK(err(2.0, 2.0) == 0);
}
