// Every mistake in an index-notation program is a UserError whose rendered text names the problem
// and points at it (both places where two disagree); internal errors never answer bad input.
#include "frontend/Program.h"

#include <doctest/doctest.h>

using namespace einfuse;
using namespace einfuse::frontend;

namespace {

struct Row {
    std::string source;
    std::map<std::string, Shape> shapes;
    ir::Extents dims;
    std::vector<std::string> outputs;
    std::string expected;
};

/** Parses, lowers and binds row's program; returns the rendered diagnostic of the UserError. */
std::string diagnostic_of(const Row &row) {
    try {
        ProgramAst ast = parse_program(row.source);
        program_ir(ast, {}, row.outputs);
        bind_program_extents(ast, row.shapes, row.dims);
    } catch (const UserError &e) {
        return render(e.diagnostic(), row.source);
    }
    FAIL("expected a UserError");
    return "";
}

} // namespace

TEST_CASE("program diagnostics: every mistake, rendered") {
    // Order: syntax; not-yet-supported indices; functions; ranks; reductions; definitions;
    // outputs; sizes (bind).
    const Row rows[] = {
        {"C[i] = A[i] +",
         {},
         {},
         {},
         "einfuse: error: unexpected end of program; expected an expression\n"
         "  C[i] = A[i] +\n"
         "               ^\n"},
        {"C[i] = A[i] B[i]",
         {},
         {},
         {},
         "einfuse: error: unexpected 'B'; expected an operator, ';' or a newline\n"
         "  C[i] = A[i] B[i]\n"
         "              ^\n"},
        {"C[i = A[i]",
         {},
         {},
         {},
         "einfuse: error: unexpected '='; expected ',' or ']'\n"
         "  C[i = A[i]\n"
         "      ^\n"},
        {"C[i] = A[i, 2]",
         {},
         {},
         {},
         "einfuse: error: constant indices are not supported yet; an index is a variable\n"
         "  C[i] = A[i, 2]\n"
         "              ^\n"},
        {"C[i] = (A[i]",
         {},
         {},
         {},
         "einfuse: error: unexpected end of program; expected ')'\n"
         "  C[i] = (A[i]\n"
         "              ^\n"},
        {"C[i] = max(A[i] B[i])",
         {},
         {},
         {},
         "einfuse: error: unexpected 'B'; expected ',' or ')'\n"
         "  C[i] = max(A[i] B[i])\n"
         "                  ^\n"},
        {"3 = A[i]",
         {},
         {},
         {},
         "einfuse: error: unexpected '3'; expected a statement such as C[i] = A[i]\n"
         "  3 = A[i]\n"
         "  ^\n"},
        {"C[i] = A",
         {},
         {},
         {},
         "einfuse: error: 'A' alone is not an expression; read a tensor as A[i, ...] (a scalar as A[])\n"
         "  C[i] = A\n"
         "         ^\n"},
        {"# nothing",
         {},
         {},
         {},
         "einfuse: error: the program has no statements\n"
         "  note: a statement looks like C[i,k] = A[i,j] * B[j,k]\n"},
        {"C[n,h] = x[n,h+kh]",
         {},
         {},
         {},
         "einfuse: error: affine indices (such as h+kh) are not supported yet; an index is a variable\n"
         "  C[n,h] = x[n,h+kh]\n"
         "               ^~~~\n"},
        {"C[n,j] = x[Q[n],j]",
         {},
         {},
         {},
         "einfuse: error: gathers (an index that reads a tensor, such as Q[n]) are not supported yet\n"
         "  C[n,j] = x[Q[n],j]\n"
         "             ^~~~\n"},
        {"C[i] = A[i] < B[i] < 1",
         {},
         {},
         {},
         "einfuse: error: comparisons do not chain\n"
         "  C[i] = A[i] < B[i] < 1\n"
         "              ^      ^\n"
         "  note: write (a < b) * (b < c) for 'both', or parenthesise the comparison you mean\n"},
        {"C[i] = foo(A[i])",
         {},
         {},
         {},
         "einfuse: error: unknown function 'foo'\n"
         "  C[i] = foo(A[i])\n"
         "         ^~~\n"
         "  note: the functions are exp log sqrt rsqrt abs tanh sigmoid relu gelu sin cos floor ceil sign conj real imag, max(a,b) "
         "min(a,b) pow(a,b) where(c,a,b)\n"},
        {"C[i] = sum(A[i,j])",
         {},
         {},
         {},
         "einfuse: error: unknown function 'sum'\n"
         "  C[i] = sum(A[i,j])\n"
         "         ^~~\n"
         "  note: the functions are exp log sqrt rsqrt abs tanh sigmoid relu gelu sin cos floor ceil sign conj real imag, max(a,b) "
         "min(a,b) pow(a,b) where(c,a,b)\n"
         "  note: a reduction is written sum[j](...)\n"},
        {"C[i] = avg[j](A[i,j])",
         {},
         {},
         {},
         "einfuse: error: unknown reduction 'avg'\n"
         "  C[i] = avg[j](A[i,j])\n"
         "         ^~~\n"
         "  note: the reductions are sum, max, min and prod\n"},
        {"C[i] = where(A[i], B[i])",
         {},
         {},
         {},
         "einfuse: error: function 'where' takes 3 arguments but is given 2\n"
         "  C[i] = where(A[i], B[i])\n"
         "         ^~~~~~~~~~~~~~~~~\n"},
        {"C[i] = exp(A[i], B[i])",
         {},
         {},
         {},
         "einfuse: error: function 'exp' takes 1 argument but is given 2\n"
         "  C[i] = exp(A[i], B[i])\n"
         "         ^~~~~~~~~~~~~~~\n"},
        {"C[i] = A[i,j] + A[i]",
         {},
         {},
         {},
         "einfuse: error: tensor 'A' is used with rank 2 and with rank 1\n"
         "  C[i] = A[i,j] + A[i]\n"
         "         ^~~~~~   ^~~~\n"},
        {"C[i,j] = A[i,j]\nD[i] = C[i]",
         {},
         {},
         {},
         "einfuse: error: tensor 'C' is used with rank 2 and with rank 1\n"
         "  line 1: C[i,j] = A[i,j]\n"
         "          ^~~~~~\n"
         "  line 2: D[i] = C[i]\n"
         "                 ^~~~\n"},
        {"C[i] = sum[i](A[i])",
         {},
         {},
         {},
         "einfuse: error: reduction variable 'i' is also on the left of '='\n"
         "  C[i] = sum[i](A[i])\n"
         "    ^        ^\n"
         "  note: a variable on the left is kept, not reduced\n"},
        {"C[i] = sum[j](max[j](A[i,j]))",
         {},
         {},
         {},
         "einfuse: error: reduction variable 'j' shadows an enclosing reduction over 'j'\n"
         "  C[i] = sum[j](max[j](A[i,j]))\n"
         "             ^      ^\n"
         "  note: give the inner variable another name\n"},
        {"C[i] = sum[j](A[i,j]) * B[i,j]",
         {},
         {},
         {},
         "einfuse: error: reduction variable 'j' is also used outside its reduction, where it is summed over the whole "
         "right-hand side\n"
         "  C[i] = sum[j](A[i,j]) * B[i,j]\n"
         "             ^                ^\n"
         "  note: rename one of them\n"},
        {"C[i] = A[i]\nC[i] = B[i]",
         {},
         {},
         {},
         "einfuse: error: tensor 'C' is defined twice\n"
         "  line 1: C[i] = A[i]\n"
         "          ^~~~\n"
         "  line 2: C[i] = B[i]\n"
         "          ^~~~\n"
         "  note: to add to it, write C[...] += ...\n"},
        {"D[i] = C[i]\nC[i] = A[i]",
         {},
         {},
         {},
         "einfuse: error: tensor 'C' is read before it is defined\n"
         "  line 1: D[i] = C[i]\n"
         "                 ^~~~\n"
         "  line 2: C[i] = A[i]\n"
         "          ^~~~\n"
         "  note: statements run in order; define a tensor before the statements that read it\n"},
        {"C[i] += A[i]",
         {},
         {},
         {},
         "einfuse: error: '+=' adds to 'C', which no earlier statement defines\n"
         "  C[i] += A[i]\n"
         "  ^~~~ ^~\n"
         "  note: define it first with C[...] = ...\n"},
        {"C[i,i] = A[i]",
         {},
         {},
         {},
         "einfuse: error: index 'i' appears twice on the left of 'C'\n"
         "  C[i,i] = A[i]\n"
         "    ^ ^\n"
         "  note: a diagonal is read on the right: d[i] = A[i,i]\n"},
        {"C[i] = A[i]",
         {},
         {},
         {"D"},
         "einfuse: error: output 'D' is not a tensor of the program\n"
         "  C[i] = A[i]\n"
         "  ^~~~~~~~~~~\n"
         "  note: the program defines: C\n"},
        {"C[i] = A[i]",
         {},
         {},
         {"A"},
         "einfuse: error: output 'A' is an input of the program, not a tensor it defines\n"
         "  C[i] = A[i]\n"
         "         ^~~~\n"
         "  note: the program defines: C\n"},
        {"C[i,k] = A[i,j] * B[j,k]",
         {{"A", {2, 3}}, {"B", {4, 5}}},
         {},
         {},
         "einfuse: error: index 'j' has size 3 in A but 4 in B\n"
         "  C[i,k] = A[i,j] * B[j,k]\n"
         "               ^      ^\n"},
        {"C[i,k] = A[i,j] * B[j,k]",
         {{"A", {2, 3}}},
         {},
         {},
         "einfuse: error: no size for index 'k' (on the left of 'C'): no input with a shape uses it\n"
         "  C[i,k] = A[i,j] * B[j,k]\n"
         "      ^\n"
         "  note: give --dims k=N\n"},
        {"C[i,k] = A[i]",
         {{"A", {2}}},
         {},
         {},
         "einfuse: error: no size for index 'k' (on the left of 'C'): no input with a shape uses it\n"
         "  C[i,k] = A[i]\n"
         "      ^\n"
         "  note: give --dims k=N\n"},
        {"C[i,k] = A[i,j] * B[j,k]",
         {{"A", {2, 3, 4}}, {"B", {3, 5}}},
         {},
         {},
         "einfuse: error: input 'A' has rank 3 but the program reads it with 2 indices\n"
         "  C[i,k] = A[i,j] * B[j,k]\n"
         "           ^~~~~~\n"},
        {"C[i] = A[i]",
         {{"A", {2}}},
         {{"i", 3}},
         {},
         "einfuse: error: index 'i' has size 3 in --dims but 2 in A\n"
         "  C[i] = A[i]\n"
         "    ^      ^\n"},
        {"C[i] = A[i]",
         {{"A", {2}}},
         {{"z", 3}},
         {},
         "einfuse: error: --dims names 'z', which the program does not use\n"},
        {"C[i] = A[i]",
         {{"C", {2}}},
         {},
         {},
         "einfuse: error: a shape is given for 'C', which the program computes\n"
         "  note: only the inputs of a program take --shape\n"},
    };
    for (const auto &row : rows) {
        SUBCASE(row.source.c_str()) { CHECK(diagnostic_of(row) == row.expected); }
    }
}

TEST_CASE("program diagnostics: element types for tensors that are not inputs") {
    ProgramAst ast = parse_program("C[i] = A[i]");
    CHECK_THROWS_AS(program_ir(ast, {{"C", DType::F16}}), UserError);
    CHECK_THROWS_AS(program_ir(ast, {{"Z", DType::F16}}), UserError);
    CHECK_NOTHROW(program_ir(ast, {{"A", DType::F16}}));
}

TEST_CASE("program diagnostics: negative --dims") {
    ProgramAst ast = parse_program("C[i] = A[i]");
    CHECK_THROWS_AS(bind_program_extents(ast, {}, {{"i", -1}}), UserError);
}

TEST_CASE("program diagnostics: what bool and the narrow integers refuse, as numpy does") {
    auto rendered = [](const std::string &source, const std::map<std::string, DType> &dtypes) {
        try {
            program_ir(parse_program(source), dtypes);
        } catch (const UserError &e) {
            return render(e.diagnostic(), source);
        }
        FAIL("expected a UserError");
        return std::string();
    };
    const std::map<std::string, DType> bools{{"A", DType::Bool}, {"B", DType::Bool}};
    CHECK(rendered("C[i] = A[i] - B[i]", bools) ==
          "einfuse: error: '-' of bool values: numpy has no boolean subtract or negative\n"
          "  C[i] = A[i] - B[i]\n"
          "              ^\n"
          "  note: compare instead (a != b), or give the inputs an integer type\n");
    CHECK(rendered("C[i] = -A[i] * B[i]", bools).find("'-' of bool values") != std::string::npos);
    CHECK(rendered("C[i] = A[i] + 300", {{"A", DType::U8}}) ==
          "einfuse: error: the literal 300 does not fit the program's element type u8\n"
          "  C[i] = A[i] + 300\n"
          "                ^~~\n"
          "  note: numpy refuses it too; write it as a tensor, or use a wider type\n");
    CHECK(rendered("C[i] = A[i] * 2", {{"A", DType::Bool}}).find("does not fit") != std::string::npos);
    CHECK_NOTHROW(program_ir(parse_program("C[i] = A[i] + 255 + B[i] * 1"), {{"A", DType::U8}, {"B", DType::Bool}}));
    CHECK_THROWS_AS(program_ir(parse_program("C[i] = A[i] - 100000"), {{"A", DType::I16}}), UserError);
}
