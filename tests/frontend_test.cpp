// The einsum parser and binder: what is accepted, what the AST records, what the IR becomes.
#include "frontend/Einsum.h"
#include "ir/Printer.h"

#include <doctest/doctest.h>

using namespace einfuse;
using namespace einfuse::frontend;

namespace {
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
    ir::Program p = einsum_program(ast, {DType::F32, DType::F32}, DType::F32);
    CHECK(p.definitions[0].indices == std::vector<std::string>{"a", "b", "i", "j"});
    ir::Program q = einsum_program(parse_einsum("ij,jk"), {DType::F32, DType::F32}, DType::F32);
    CHECK(ir::to_string(q.definitions[0].value) == "sum[j](in0[i,j] * in1[j,k])");
}

TEST_CASE("binder: sizes from shapes and --dims, size-1 broadcasting") {
    EinsumAst ast = parse_einsum("bij,bjk->bik");
    auto e = bind_einsum_extents(ast, {Shape{5, 2, 3}, Shape{5, 3, 4}}, {});
    CHECK(e == ir::Extents{{"b", 5}, {"i", 2}, {"j", 3}, {"k", 4}});
    auto d = bind_einsum_extents(ast, {std::nullopt, std::nullopt}, {{"b", 7}, {"i", 2}, {"j", 2}, {"k", 2}});
    CHECK(d.at("b") == 7);
    auto b = bind_einsum_extents(ast, {Shape{1, 2, 3}, Shape{5, 3, 4}}, {});
    CHECK(b.at("b") == 5);
    CHECK(einsum_operand_shape(ast, -1, e) == Shape{5, 2, 4});
}
