// Index-notation programs (form 2): the parser's precedence and layout rules, the IR each
// statement becomes (pinned text), the implicit-sum rule, SSA for '+=', types, extents, and the
// meaning of the brief's examples checked against hand-written loops through the reference.
#include "frontend/Program.h"
#include "ir/Printer.h"
#include "ir/Reference.h"

#include <doctest/doctest.h>

#include <cmath>
#include <random>

using namespace einfuse;
using namespace einfuse::frontend;

namespace {

/** The right-hand sides of a program, fully parenthesised, one per line. */
std::string rhs_text(const std::string &source) {
    ProgramAst ast = parse_program(source);
    std::string out;
    for (const auto &s : ast.statements)
        out += s.tensor + (s.accumulate ? " += " : " = ") + ast_to_string(*s.rhs) + "\n";
    return out;
}

std::string ir_text(const std::string &source, const std::map<std::string, DType> &dtypes = {},
                    const std::vector<std::string> &outputs = {}) {
    return ir::to_string(program_ir(parse_program(source), dtypes, outputs));
}

const char *const kBriefProgram = "C[b,i,k] = A[b,i,j] * B[b,j,k]                       # j not on the left: summed\n"
                                  "D[b,i,k] = relu(C[b,i,k] + bias[k])                  # elementwise epilogue\n"
                                  "out[i]   = sum[j](exp(-sum[d]((x[i,d] - y[j,d])^2)) * w[j])   # nested\n"
                                  "m[i]     = max[j](S[i,j])\n";

} // namespace

TEST_CASE("program parser: precedence and associativity") {
    const struct {
        const char *rhs;
        const char *parsed;
    } rows[] = {
        {"-x[]^2", "(-(x[] ^ 2))"},
        {"a[]-b[]-c[]", "((a[] - b[]) - c[])"},
        {"a[]/b[]*c[]", "((a[] / b[]) * c[])"},
        {"2^3^2", "(2 ^ (3 ^ 2))"},
        {"2^-1", "(2 ^ (-1))"},
        {"-2^-x[]^2", "(-(2 ^ (-(x[] ^ 2))))"},
        {"a[] + b[] * c[]", "(a[] + (b[] * c[]))"},
        {"(a[] + b[]) * c[]", "((a[] + b[]) * c[])"},
        {"a[] < b[] + 1", "(a[] < (b[] + 1))"},
        {"a[] + 1 >= b[] * 2", "((a[] + 1) >= (b[] * 2))"},
        {"(a[] < b[]) == (b[] != c[])", "((a[] < b[]) == (b[] != c[]))"},
        {"(a[] <= b[]) > 0", "((a[] <= b[]) > 0)"},
        {"--a[]", "(-(-a[]))"},
        {"1.5e-3 * .5 + 2. + 10", "(((0.0015 * 0.5) + 2) + 10)"},
        {"max(a[], b[]) + max[j](S[j])", "(max(a[], b[]) + max[j](S[j]))"},
        {"sum[j](exp(-sum[d]((x[d] - y[j,d])^2)) * w[j])", "sum[j]((exp((-sum[d](((x[d] - y[j,d]) ^ 2)))) * w[j]))"},
        {"where(a[] > 0, pow(a[], 2), -a[])", "where((a[] > 0), pow(a[], 2), (-a[]))"},
        {"prod[i,j](min[k](T[i,j,k]))", "prod[i,j](min[k](T[i,j,k]))"},
        {"sum[j](A[j]) ", "sum[j](A[j])"},
        {"inf[] + nan[]", "(inf[] + nan[])"},
    };
    for (const auto &row : rows) {
        SUBCASE(row.rhs) {
            CHECK(rhs_text(std::string("s[] = ") + row.rhs) == std::string("s = ") + row.parsed + "\n");
        }
    }
}

TEST_CASE("program parser: statements, separators, comments, scalars and positions") {
    const struct {
        const char *source;
        const char *parsed;
    } rows[] = {
        {"a[] = 1; b[] = 2", "a = 1\nb = 2\n"},
        {"a[] = 1\nb[] = 2\n", "a = 1\nb = 2\n"},
        {"\n\n  # header\na[] = 1  # one\n\n;;\n  b[i] = x[i]   \r\nb[i] += 1 # end", "a = 1\nb = x[i]\nb += 1\n"},
        {"s[] = sum[i](x[i]);", "s = sum[i](x[i])\n"},
        {"_t1[i_0] = X2[i_0]", "_t1 = X2[i_0]\n"},
    };
    for (const auto &row : rows) {
        SUBCASE(row.source) { CHECK(rhs_text(row.source) == row.parsed); }
    }
    SUBCASE("positions") {
        ProgramAst ast = parse_program("C[i] = A[i] + 2\nC[i] += C[i]");
        REQUIRE(ast.statements.size() == 2);
        const StatementAst &s = ast.statements[1];
        CHECK(s.tensor_where.begin == 16);
        CHECK(s.lhs_where.end == 20);
        CHECK(s.accumulate);
        CHECK(s.op_where.begin == 21);
        CHECK(s.op_where.end == 23);
        CHECK(s.rhs->where.begin == 24);
        CHECK(ast.statements[0].indices[0].where.begin == 2);
        CHECK(ast.statements[0].rhs->name_where.begin == 12); // the '+'
    }
    SUBCASE("is_program") {
        CHECK(is_program("C[i] = A[i]"));
        CHECK(is_program("s[]=x[]"));
        CHECK_FALSE(is_program("bij,bjk->bik"));
        CHECK_FALSE(is_program("ii"));
    }
}

TEST_CASE("program IR: the brief's four examples, pinned") {
    CHECK(ir_text(kBriefProgram) == "input A: f32 rank 3\n"
                                    "input B: f32 rank 3\n"
                                    "input bias: f32 rank 1\n"
                                    "input x: f32 rank 2\n"
                                    "input y: f32 rank 2\n"
                                    "input w: f32 rank 1\n"
                                    "input S: f32 rank 2\n"
                                    "output D: f32 rank 3\n"
                                    "output out: f32 rank 1\n"
                                    "output m: f32 rank 1\n"
                                    "temporary C: f32 rank 3\n"
                                    "C[b,i,k] = sum[j](A[b,i,j] * B[b,j,k])\n"
                                    "D[b,i,k] = relu(C[b,i,k] + bias[k])\n"
                                    "out[i] = sum[j](exp(-sum[d]((x[i,d] - y[j,d]) ^ 2)) * w[j])\n"
                                    "m[i] = max[j](S[i,j])\n");
    ir::Program p = program_ir(parse_program(kBriefProgram), {});
    CHECK(p.index_vars == std::vector<std::string>{"b", "i", "k", "j", "d"});
    CHECK(p.source == kBriefProgram);
    // The top Reduce of "out" reduces nothing: its sums are explicit, nested Reduces.
    const auto *top = p.definitions[2].value.as<ir::Reduce>();
    REQUIRE(top != nullptr);
    CHECK(top->out_vars == std::vector<std::string>{"i"});
    CHECK(top->reduce_vars.empty());
    CHECK(program_inputs(parse_program(kBriefProgram)) ==
          std::vector<std::pair<std::string, int>>{
              {"A", 3}, {"B", 3}, {"bias", 1}, {"x", 2}, {"y", 2}, {"w", 1}, {"S", 2}});
}

TEST_CASE("program IR: the implicit-sum rule, outputs, SSA for +=") {
    const struct {
        const char *source;
        std::vector<std::string> outputs;
        const char *ir;
    } rows[] = {
        // Variables on neither the left nor an explicit reduction are summed over the whole RHS.
        {"C[i] = A[i,j] + B[i]",
         {},
         "input A: f32 rank 2\ninput B: f32 rank 1\noutput C: f32 rank 1\nC[i] = sum[j](A[i,j] + B[i])\n"},
        {"C[i] = sum[j](A[i,j]) + B[i,k]",
         {},
         "input A: f32 rank 2\ninput B: f32 rank 2\noutput C: f32 rank 1\nC[i] = sum[k](sum[j](A[i,j]) + B[i,k])\n"},
        {"s[] = x[i] * y[i]",
         {},
         "input x: f32 rank 1\ninput y: f32 rank 1\noutput s: f32 rank 0\ns[] = sum[i](x[i] * y[i])\n"},
        {"t[j,i] = A[i,j]", {}, "input A: f32 rank 2\noutput t: f32 rank 2\nt[j,i] = A[i,j]\n"},
        {"d[i] = A[i,i]", {}, "input A: f32 rank 2\noutput d: f32 rank 1\nd[i] = A[i,i]\n"},
        {"c[] = 2.5", {}, "output c: f32 rank 0\nc[] = 2.5\n"},
        // '+=': the earlier versions get fresh names; the implicit sum covers the RHS only.
        {"C[i] = A[i]\nC[i] += B[i,j]\nC[i] += 1",
         {},
         "input A: f32 rank 1\ninput B: f32 rank 2\noutput C: f32 rank 1\ntemporary C_v0: f32 rank 1\n"
         "temporary C_v1: f32 rank 1\nC_v0[i] = A[i]\nC_v1[i] = C_v0[i] + sum[j](B[i,j])\nC[i] = C_v1[i] + 1\n"},
        {"C_v0[i] = A[i]; C[i] = C_v0[i]; C[i] += C[i]; D[i] = C[i]",
         {},
         "input A: f32 rank 1\noutput D: f32 rank 1\ntemporary C_v0: f32 rank 1\ntemporary C_v1: f32 rank 1\n"
         "temporary C: f32 rank 1\nC_v0[i] = A[i]\nC_v1[i] = C_v0[i]\nC[i] = C_v1[i] + C_v1[i]\nD[i] = C[i]\n"},
        // Requested outputs, in the order asked.
        {"C[i] = A[i]; D[i] = C[i] * 2",
         {"D", "C"},
         "input A: f32 rank 1\noutput D: f32 rank 1\noutput C: f32 rank 1\nC[i] = A[i]\nD[i] = C[i] * 2\n"},
    };
    for (const auto &row : rows) {
        SUBCASE(row.source) { CHECK(ir_text(row.source, {}, row.outputs) == row.ir); }
    }
}

TEST_CASE("program IR: types") {
    const struct {
        const char *source;
        std::map<std::string, DType> dtypes;
        const char *ir;
    } rows[] = {
        // f16/bf16 compute in f32; outputs keep the promoted type, temporaries the compute type.
        {"C[i] = A[i] * 2; D[i] = C[i] + B[i]",
         {{"A", DType::F16}, {"B", DType::F16}},
         "input A: f16 rank 1\ninput B: f16 rank 1\noutput D: f16 rank 1\ntemporary C: f32 rank 1\n"
         "C[i] = f32(A[i]) * 2\nD[i] = C[i] + f32(B[i])\n"},
        {"C[i] = A[i] + B[i]",
         {{"A", DType::F16}, {"B", DType::BF16}},
         "input A: f16 rank 1\ninput B: bf16 rank 1\noutput C: f32 rank 1\nC[i] = f32(A[i]) + f32(B[i])\n"},
        // Integers stay integers for + - * and the integer-safe functions...
        {"C[i] = max(A[i], B[i]) * 2 + abs(A[i])",
         {{"A", DType::I32}, {"B", DType::I64}},
         "input A: i32 rank 1\ninput B: i64 rank 1\noutput C: i64 rank 1\nC[i] = (max(i64(A[i]), B[i]) * 2) + "
         "abs(i64(A[i]))\n"},
        // ...and compute in f64 where numpy gives floats.
        {"C[i] = A[i] / 2", {{"A", DType::I32}}, "input A: i32 rank 1\noutput C: f64 rank 1\nC[i] = f64(A[i]) / 2\n"},
        {"C[i] = exp(A[i])", {{"A", DType::I64}}, "input A: i64 rank 1\noutput C: f64 rank 1\nC[i] = exp(f64(A[i]))\n"},
        {"C[i] = A[i] * 0.5",
         {{"A", DType::I32}},
         "input A: i32 rank 1\noutput C: f64 rank 1\nC[i] = f64(A[i]) * 0.5\n"},
        {"C[i] = A[i] + B[i]",
         {{"A", DType::I32}, {"B", DType::F32}},
         "input A: i32 rank 1\ninput B: f32 rank 1\noutput C: f64 rank 1\nC[i] = f64(A[i]) + f64(B[i])\n"},
        {"C[i] = A[i] + B[i]",
         {{"A", DType::F64}},
         "input A: f64 rank 1\ninput B: f32 rank 1\noutput C: f64 rank 1\n"
         "C[i] = A[i] + f64(B[i])\n"},
        // The narrow and unsigned integers compute in their promoted type; bool in bool.
        {"C[i] = max(A[i], B[i]) - 3",
         {{"A", DType::U8}, {"B", DType::I8}},
         "input A: u8 rank 1\ninput B: i8 rank 1\noutput C: i16 rank 1\nC[i] = max(i16(A[i]), i16(B[i])) - 3\n"},
        {"C[i] = sum[j](A[i,j] * B[j])",
         {{"A", DType::Bool}, {"B", DType::Bool}},
         "input A: bool rank 2\ninput B: bool rank 1\noutput C: bool rank 1\nC[i] = sum[j](A[i,j] * B[j])\n"},
        {"C[i] = A[i] / 2", {{"A", DType::U16}}, "input A: u16 rank 1\noutput C: f64 rank 1\nC[i] = f64(A[i]) / 2\n"},
    };
    for (const auto &row : rows) {
        SUBCASE(row.source) { CHECK(ir_text(row.source, row.dtypes) == row.ir); }
    }
}

TEST_CASE("program extents and shapes") {
    // One program, one size per variable: i and j mean the same in every statement.
    ProgramAst ast = parse_program(kBriefProgram);
    ir::Extents e = bind_program_extents(
        ast, {{"A", {5, 2, 3}}, {"B", {5, 3, 4}}, {"x", {2, 6}}, {"y", {3, 6}}, {"w", {3}}, {"S", {2, 3}}}, {});
    CHECK(e == ir::Extents{{"b", 5}, {"i", 2}, {"j", 3}, {"k", 4}, {"d", 6}});
    CHECK(program_tensor_shape(ast, "C", e) == Shape{5, 2, 4});
    CHECK(program_tensor_shape(ast, "out", e) == Shape{2});
    CHECK(program_tensor_shape(ast, "y", e) == Shape{3, 6});
}

TEST_CASE("program extents: sizes through defined tensors and --dims") {
    ProgramAst ast = parse_program("C[i] = A[i]; D[j] = C[j] * B[k]");
    ir::Extents e = bind_program_extents(ast, {{"A", {4}}}, {{"k", 3}});
    CHECK(e == ir::Extents{{"i", 4}, {"j", 4}, {"k", 3}});
    CHECK(program_tensor_shape(ast, "D", e) == Shape{4});
    CHECK(program_tensor_shape(ast, "B", e) == Shape{3});
    CHECK(program_tensor_shape(ast, "A", e) == Shape{4});
    CHECK_THROWS_AS(program_tensor_shape(ast, "Z", e), UserError);
}

namespace {

Tensor random_tensor(const Shape &shape, std::mt19937_64 &rng) {
    Tensor t(DType::F32, shape);
    t.fill_random(rng);
    return t;
}

/** Runs source through the reference on the given inputs and returns its (only requested) output. */
Tensor reference(const std::string &source, const std::string &output, const std::map<std::string, Tensor> &inputs) {
    ProgramAst ast = parse_program(source);
    ir::Program p = program_ir(ast, {}, {output});
    std::map<std::string, Shape> shapes;
    std::vector<const Tensor *> ordered;
    for (const auto &in : p.inputs) {
        shapes[in.name] = inputs.at(in.name).shape();
        ordered.push_back(&inputs.at(in.name));
    }
    ir::Extents extents = bind_program_extents(ast, shapes, {});
    CHECK(program_tensor_shape(ast, output, extents) == ir::evaluate_reference(p, ordered, extents)[0].shape());
    return ir::evaluate_reference(p, ordered, extents)[0];
}

} // namespace

TEST_CASE("program meaning: the brief's examples against hand-written loops") {
    std::mt19937_64 rng(std::random_device{}());
    const int64_t nb = 3, ni = 4, nj = 5, nk = 2, nd = 3, nm = 6;
    Tensor A = random_tensor({nb, ni, nj}, rng), B = random_tensor({nb, nj, nk}, rng), bias = random_tensor({nk}, rng);
    Tensor x = random_tensor({ni, nd}, rng), y = random_tensor({nm, nd}, rng), w = random_tensor({nm}, rng);
    Tensor S = random_tensor({ni, nm}, rng);
    auto at = [](const Tensor &t, std::vector<int64_t> idx) {
        int64_t off = 0;
        for (std::size_t d = 0; d < idx.size(); ++d)
            off += idx[d] * t.strides()[d];
        return t.load(off);
    };
    const char *const matmul = "C[b,i,k] = A[b,i,j] * B[b,j,k]";
    const std::string epilogue = std::string(matmul) + "\nD[b,i,k] = relu(C[b,i,k] + bias[k])";

    SUBCASE("batched matrix product, then relu(C + bias)") {
        Tensor C = reference(matmul, "C", {{"A", A}, {"B", B}});
        Tensor D = reference(epilogue, "D", {{"A", A}, {"B", B}, {"bias", bias}});
        for (int64_t b = 0; b < nb; ++b)
            for (int64_t i = 0; i < ni; ++i)
                for (int64_t k = 0; k < nk; ++k) {
                    double acc = 0;
                    for (int64_t j = 0; j < nj; ++j)
                        acc += at(A, {b, i, j}) * at(B, {b, j, k});
                    CHECK(at(C, {b, i, k}) == doctest::Approx(acc));
                    CHECK(at(D, {b, i, k}) == doctest::Approx(std::max(acc + at(bias, {k}), 0.0)));
                }
    }
    SUBCASE("Gaussian kernel sum with nested reductions") {
        Tensor out = reference("out[i] = sum[j](exp(-sum[d]((x[i,d] - y[j,d])^2)) * w[j])", "out",
                               {{"x", x}, {"y", y}, {"w", w}});
        for (int64_t i = 0; i < ni; ++i) {
            double acc = 0;
            for (int64_t j = 0; j < nm; ++j) {
                double dist = 0;
                for (int64_t d = 0; d < nd; ++d)
                    dist += std::pow(at(x, {i, d}) - at(y, {j, d}), 2);
                acc += std::exp(-dist) * at(w, {j});
            }
            CHECK(at(out, {i}) == doctest::Approx(acc));
        }
    }
    SUBCASE("max reduction") {
        Tensor m = reference("m[i] = max[j](S[i,j])", "m", {{"S", S}});
        for (int64_t i = 0; i < ni; ++i) {
            double best = -INFINITY;
            for (int64_t j = 0; j < nm; ++j)
                best = std::max(best, at(S, {i, j}));
            CHECK(at(m, {i}) == doctest::Approx(best));
        }
    }
    SUBCASE("+= adds to the earlier value; -x^2 is -(x^2)") {
        Tensor r = reference("R[i] = x[i,d]\nR[i] += -x[i,d]^2 + 1", "R", {{"x", x}});
        for (int64_t i = 0; i < ni; ++i) {
            double sum = 0, sq = 0;
            for (int64_t d = 0; d < nd; ++d) {
                sum += at(x, {i, d});
                sq += -std::pow(at(x, {i, d}), 2) + 1;
            }
            CHECK(at(r, {i}) == doctest::Approx(sum + sq));
        }
    }
}
