// Every user mistake is a UserError whose rendered text names the problem and puts a caret under
// it; internal errors never answer bad input.
#include "frontend/Einsum.h"

#include <doctest/doctest.h>

using namespace einfuse;
using namespace einfuse::frontend;

namespace {

/** The rendered diagnostic of whatever f throws; fails the test if f throws anything else. */
template <class F> std::string diagnostic_of(const std::string &source, F &&f) {
    try {
        f();
    } catch (const UserError &e) {
        return render(e.diagnostic(), source);
    }
    FAIL("expected a UserError");
    return "";
}

} // namespace

TEST_CASE("diagnostic: size mismatch names the label, both sizes and both operands") {
    std::string src = "bij,bjk->bik";
    std::string text = diagnostic_of(src, [&] {
        auto ast = parse_einsum(src);
        bind_einsum_extents(resolve_einsum(ast, label_ranks(ast)), {Shape{8, 2, 3}, Shape{8, 4, 2}}, {});
    });
    CHECK(text ==
          "einfuse: error: index 'j' has size 3 in operand 0 but 4 in operand 1\n"
          "  bij,bjk->bik\n"
          "    ^  ^\n");
}

TEST_CASE("diagnostic: table of user mistakes") {
    const struct {
        std::string source;
        std::vector<std::optional<Shape>> shapes;
        ir::Extents dims;
        std::string expected;
    } rows[] = {
        {"bij,bjk->bix", {}, {}, "einfuse: error: output index 'x' appears in no operand\n  bij,bjk->bix\n             ^\n"},
        {"bij,bjk->bii", {}, {}, "einfuse: error: output index 'i' appears twice in the output\n  bij,bjk->bii\n            ^^\n"},
        {"bij,bjk->bik", {Shape{2, 2}, std::nullopt}, {{"k", 2}},
         "einfuse: error: operand 0 has rank 2 but its subscripts name 3 indices\n  bij,bjk->bik\n  ^~~\n"},
        {"bij,bjk->bik", {std::nullopt, std::nullopt}, {{"b", 2}, {"i", 2}, {"j", 2}},
         "einfuse: error: no size for index 'k': give --dims k=N or the shape of an operand that uses it\n"
         "  bij,bjk->bik\n        ^\n"},
        {"ij,jk->ik", {Shape{2, 3}, std::nullopt}, {{"j", 4}, {"k", 1}},
         "einfuse: error: index 'j' has size 4 in --dims but 3 in operand 0\n  ij,jk->ik\n   ^\n"},
        {"bij,bj1->bik", {}, {},
         "einfuse: error: unexpected '1' in einsum subscripts; expected a letter, '...', ',' or '->'\n"
         "  bij,bj1->bik\n        ^\n"},
    };
    for (const auto &row : rows) {
        CAPTURE(row.source);
        std::string text = diagnostic_of(row.source, [&] {
            EinsumAst ast = parse_einsum(row.source);
            auto shapes = row.shapes.empty() ? std::vector<std::optional<Shape>>(ast.operands.size()) : row.shapes;
            std::vector<int> ranks = label_ranks(ast);
            for (std::size_t i = 0; i < shapes.size(); ++i)
                if (shapes[i]) ranks[i] = static_cast<int>(shapes[i]->size());
            ResolvedEinsum e = resolve_einsum(ast, ranks);
            einsum_program(e, std::vector<DType>(ast.operands.size(), DType::F32));
            bind_einsum_extents(e, shapes, row.dims);
        });
        CHECK(text == row.expected);
    }
}

TEST_CASE("diagnostic: wrong operand count") {
    EinsumAst ast = parse_einsum("ij,jk->ik");
    ResolvedEinsum e = resolve_einsum(ast, label_ranks(ast));
    CHECK_THROWS_AS(einsum_program(e, {DType::F32}), UserError);
    CHECK_THROWS_AS(resolve_einsum(ast, {2}), UserError);
    CHECK_THROWS_AS(bind_einsum_extents(e, {Shape{2, 2}}, {}), UserError);
}

TEST_CASE("diagnostic: no input crashes the parser") {
    // Every string of up to three characters over the grammar's alphabet and some bytes that are
    // not in it: each parses or throws UserError, nothing else.
    const std::string alphabet = "ab.,->  \x01\xff]";
    std::vector<std::string> inputs{""};
    for (int len = 1; len <= 3; ++len) {
        std::vector<std::string> next;
        for (const auto &s : inputs)
            if (static_cast<int>(s.size()) == len - 1)
                for (char c : alphabet) next.push_back(s + c);
        inputs.insert(inputs.end(), next.begin(), next.end());
    }
    int parsed = 0, rejected = 0;
    for (const auto &s : inputs) {
        try {
            parse_einsum(s);
            ++parsed;
        } catch (const UserError &) {
            ++rejected;
        }
    }
    CHECK(parsed > 0);
    CHECK(rejected > 0);
}

TEST_CASE("diagnostic: '...', diagonals and operand counts, rendered") {
    const struct {
        std::string source;
        std::vector<std::optional<Shape>> shapes;
        std::string expected;
    } rows[] = {
        {"ij,jk->ik", {Shape{2, 2}},
         "einfuse: error: the subscripts name 2 operands but 1 were given\n  ij,jk->ik\n  ^~~~~~~~~\n"},
        {"i...j...k", {Shape{2, 2, 2}},
         "einfuse: error: an operand may hold '...' only once\n  i...j...k\n   ^~~ ^~~\n"},
        {"...ij->ij", {Shape{3, 2, 2}},
         "einfuse: error: the operands have 1 broadcast dimension(s) under '...', but the output has no '...' to "
         "keep them\n  ...ij->ij\n         ^~\n  note: numpy rejects this too; write '...' in the output\n"},
        {"ii->i", {Shape{3, 4}},
         "einfuse: error: index 'i' takes a diagonal of operand 0, whose dimensions 0 and 1 differ (3 and 4)\n"
         "  ii->i\n  ^^\n"},
        {"...ij,jk", {std::nullopt, Shape{2, 2}},
         "einfuse: error: operand 0 uses '...': its shape must be given\n  ...ij,jk\n  ^~~\n"},
        {"ij->j", {Shape{2, 2, 2}},
         "einfuse: error: operand 0 has rank 3 but its subscripts name 2 indices\n  ij->j\n  ^~\n"
         "  note: use '...' for dimensions without labels\n"},
    };
    for (const auto &row : rows) {
        CAPTURE(row.source);
        std::string text = diagnostic_of(row.source, [&] {
            EinsumAst ast = parse_einsum(row.source);
            std::vector<int> ranks = label_ranks(ast);
            ranks.resize(row.shapes.size(), -1);
            for (std::size_t i = 0; i < row.shapes.size(); ++i)
                if (row.shapes[i]) ranks[i] = static_cast<int>(row.shapes[i]->size());
            ResolvedEinsum e = resolve_einsum(ast, ranks);
            bind_einsum_extents(e, row.shapes, {});
        });
        CHECK(text == row.expected);
    }
}

TEST_CASE("diagnostic: control bytes of the expression are escaped, carets stay aligned (issue 14 item 12)") {
    // Raw, an ESC sequence or a BEL in the expression drove the user's terminal (colours, a bell).
    std::string src = "ab\x1b[31m,bc->ac\a";
    std::string text = diagnostic_of(src, [&] { parse_einsum(src); });
    CAPTURE(text);
    for (char c : text) CHECK((static_cast<unsigned char>(c) >= 0x20 || c == '\n'));
    CHECK(text.find("ab\\x1b[31m") != std::string::npos);
    // Each line's caret sits under the character it points at, counted in printed columns.
    Diagnostic d{"look \x07 here", {{2, 3}, {5, 6}}, {"a note \x1b"}};
    CHECK(render(d, "ab\x1b[3m") == "einfuse: error: look \\x07 here\n"
                                    "  ab\\x1b[3m\n"
                                    "    ^~~~  ^\n"
                                    "  note: a note \\x1b\n");
    // A tab stays a tab in both lines, so the caret lines up in any terminal.
    CHECK(render(Diagnostic{"m", {{3, 4}}, {}}, "a\tbc") == "einfuse: error: m\n  a\tbc\n   \t ^\n");
}
