// The einsum parser and binder: what is accepted, what the AST records, what the IR becomes.
#include "frontend/Einsum.h"
#include "ir/Printer.h"

#include <doctest/doctest.h>

using namespace einfuse;
using namespace einfuse::frontend;

namespace {
ResolvedEinsum resolve(const EinsumAst &ast) { return resolve_einsum(ast, label_ranks(ast)); }

std::string labels(const EinsumOperand &op) {
    std::string s;
    for (const auto &l : op.labels) s += l.name;
    return s;
}
} // namespace

TEST_CASE("parser: operands, output and source positions") {
    EinsumAst ast = parse_einsum("bij,bjk->bik");
    REQUIRE(ast.operands.size() == 2);
    CHECK(labels(ast.operands[0]) == "bij");
    CHECK(labels(ast.operands[1]) == "bjk");
    REQUIRE(ast.output.has_value());
    CHECK(labels(*ast.output) == "bik");
    CHECK(ast.operands[1].labels[2].where.begin == 6); // the 'k' of "bjk"
    CHECK(ast.output->labels[0].where.begin == 9);
    CHECK(ast.operands[1].where.begin == 4);
    CHECK(ast.operands[1].where.end == 7);
}

TEST_CASE("parser: spaces are ignored, upper case labels and scalar operands are accepted") {
    const struct {
        const char *text;
        std::size_t operands;
        bool has_output;
    } rows[] = {
        {" b i j , b j k -> b i k ", 2, true},
        {"ij,jk", 2, false},
        {"Ab,bC->AC", 2, true},
        {",i->i", 2, true},
        {"i,i->", 2, true},
        {"ii->i", 1, true},
        {"ij,jk,kl->il", 3, true},
    };
    for (const auto &row : rows) {
        CAPTURE(row.text);
        EinsumAst ast = parse_einsum(row.text);
        CHECK(ast.operands.size() == row.operands);
        CHECK(ast.output.has_value() == row.has_output);
    }
}

TEST_CASE("parser: malformed subscripts are user errors pointing at the bad character") {
    const struct {
        const char *text;
        int caret;
    } rows[] = {
        {"bij,bj1->bik", 6}, {"ij->j->i", 5}, {"i j;k", 3}, {"ij-jk", 2}, {"ij,jk->i,k", 8}, {"ij..k", 2},
    };
    for (const auto &row : rows) {
        CAPTURE(row.text);
        try {
            parse_einsum(row.text);
            FAIL("accepted");
        } catch (const UserError &e) {
            REQUIRE(!e.diagnostic().ranges.empty());
            CHECK(e.diagnostic().ranges.front().begin == row.caret);
        }
    }
}

TEST_CASE("binder: implicit output follows numpy (labels used once, sorted)") {
    EinsumAst ast = parse_einsum("jb,ai");
    ir::Program p = einsum_program(resolve(ast), {DType::F32, DType::F32});
    CHECK(p.definitions[0].indices == std::vector<std::string>{"a", "b", "i", "j"});
    ir::Program q = einsum_program(resolve(parse_einsum("ij,jk")), {DType::F32, DType::F32});
    CHECK(ir::to_string(q.definitions[0].value) == "sum[j](in0[i,j] * in1[j,k])");
}

TEST_CASE("binder: sizes from shapes and --dims, size-1 broadcasting") {
    ResolvedEinsum ast = resolve(parse_einsum("bij,bjk->bik"));
    auto e = bind_einsum_extents(ast, {Shape{5, 2, 3}, Shape{5, 3, 4}}, {});
    CHECK(e == ir::Extents{{"b", 5}, {"i", 2}, {"j", 3}, {"k", 4}});
    auto d = bind_einsum_extents(ast, {std::nullopt, std::nullopt}, {{"b", 7}, {"i", 2}, {"j", 2}, {"k", 2}});
    CHECK(d.at("b") == 7);
    auto b = bind_einsum_extents(ast, {Shape{1, 2, 3}, Shape{5, 3, 4}}, {});
    CHECK(b.at("b") == 5);
    CHECK(einsum_operand_shape(ast, -1, e) == Shape{5, 2, 4});
}

namespace {
std::string vars(const std::vector<IndexUse> &uses) {
    std::string s;
    for (const auto &u : uses) s += (s.empty() ? "" : ",") + u.var;
    return s;
}
} // namespace

TEST_CASE("resolver: '...' expands right-aligned, as numpy broadcasts") {
    const struct {
        const char *spec;
        std::vector<int> ranks;
        std::vector<std::string> operands;
        std::string output;
    } rows[] = {
        {"...ij,...jk->...ik", {4, 3}, {"ell0,ell1,i,j", "ell1,j,k"}, "ell0,ell1,i,k"},
        {"ij...", {3}, {"i,j,ell0"}, "ell0,i,j"},
        {"i...,...->i...", {3, 2}, {"i,ell0,ell1", "ell0,ell1"}, "i,ell0,ell1"},
        {"...ii->...i", {2}, {"i,i"}, "i"},
        {"a...b,b->a", {2, 1}, {"a,b", "b"}, "a"},
    };
    for (const auto &row : rows) {
        CAPTURE(row.spec);
        ResolvedEinsum e = resolve_einsum(parse_einsum(row.spec), row.ranks);
        REQUIRE(e.operands.size() == row.operands.size());
        for (std::size_t i = 0; i < row.operands.size(); ++i) CHECK(vars(e.operands[i]) == row.operands[i]);
        CHECK(vars(e.output) == row.output);
    }
}

TEST_CASE("resolver: numpy's rejections") {
    const struct {
        const char *spec;
        std::vector<int> ranks;
    } rows[] = {
        {"...ij->ij", {3}},     // broadcast dimensions but no '...' in the output
        {"ij->...", {3}},       // rank 3 with two labels and no '...'
        {"...ij", {1}},         // rank below the labels
        {"...ij,jk", {-1, 2}},  // '...' with an unknown rank
        {"i..j...", {3}},       // two ellipses (the parser)
    };
    for (const auto &row : rows) {
        CAPTURE(row.spec);
        CHECK_THROWS_AS(resolve_einsum(parse_einsum(row.spec), row.ranks), UserError);
    }
}

TEST_CASE("promotion follows numpy; f16 and bf16 accumulate in f32") {
    using D = DType;
    const struct {
        std::vector<D> in;
        D out;
    } rows[] = {
        {{D::F32, D::F32}, D::F32}, {{D::F16, D::F32}, D::F32}, {{D::I32, D::F32}, D::F64},
        {{D::I32, D::I64}, D::I64}, {{D::I32, D::F16}, D::F64}, {{D::F16, D::BF16}, D::F32},
        {{D::BF16, D::BF16}, D::BF16}, {{D::F64, D::I64}, D::F64},
        // bool and the 8-64-bit integers, as np.promote_types gives them (numpy 1.24).
        {{D::Bool, D::Bool}, D::Bool}, {{D::Bool, D::I8}, D::I8}, {{D::U64, D::Bool}, D::U64},
        {{D::Bool, D::F16}, D::F16}, {{D::U8, D::I8}, D::I16}, {{D::I16, D::U8}, D::I16},
        {{D::U16, D::I8}, D::I32}, {{D::U32, D::I32}, D::I64}, {{D::U32, D::I64}, D::I64},
        {{D::U64, D::I64}, D::F64}, {{D::U64, D::I8}, D::F64}, {{D::U8, D::U16}, D::U16},
        {{D::U8, D::F16}, D::F16}, {{D::I8, D::F16}, D::F16}, {{D::I16, D::F16}, D::F32},
        {{D::U16, D::F32}, D::F32}, {{D::I8, D::F32}, D::F32}, {{D::U32, D::F32}, D::F64},
        {{D::U8, D::BF16}, D::BF16}, {{D::I16, D::BF16}, D::F32}, {{D::U64, D::F16}, D::F64},
        {{D::U8, D::I8, D::Bool}, D::I16}, {{D::U8, D::U16, D::I8}, D::I32},
    };
    for (const auto &row : rows) CHECK(promote_types(row.in) == row.out);
    auto ast = parse_einsum("ij,jk->ik");
    ir::Program p = einsum_program(resolve_einsum(ast, {2, 2}), {D::F16, D::F16});
    CHECK(p.outputs[0].dtype == D::F16);
    CHECK(ir::to_string(p.definitions[0].value) == "sum[j](f32(in0[i,j]) * f32(in1[j,k]))");
}

TEST_CASE("binder: a diagonal's dimensions must agree exactly; size 1 does not broadcast there") {
    auto ast = parse_einsum("ii->i");
    ResolvedEinsum e = resolve_einsum(ast, {2});
    CHECK(bind_einsum_extents(e, {Shape{3, 3}}, {}).at("i") == 3);
    CHECK_THROWS_AS(bind_einsum_extents(e, {Shape{3, 1}}, {}), UserError);
}
