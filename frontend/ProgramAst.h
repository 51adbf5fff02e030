#pragma once
// The AST of index-notation programs (form 2), with a source position on every node. It is the
// parser's output and knows nothing of the IR: names are strings, operators their spelling.
//   C[b,i,k] = A[b,i,j] * B[b,j,k]
// is one StatementAst {C, [b,i,k], '=', Binary("*", Read(A,[b,i,j]), Read(B,[b,j,k]))}.
#include "support/Error.h"

#include <memory>
#include <string>
#include <vector>

namespace einfuse::frontend {

/** One index of a tensor read, of a left-hand side or of a reduction. Today only a variable
 * ("i"); a node of its own so that affine indices (h+kh) and gathers (Q[n]) can join it. */
struct IndexAst {
    std::string var;
    SourceRange where;
};

enum class ExprAstKind {
    Number,    // 2.5
    Read,      // A[i,j]; a scalar is s[]
    Negate,    // -e
    Binary,    // a op b, op one of + - * / ^ < <= > >= == !=
    Call,      // exp(e), max(a,b), where(c,a,b)
    Reduction, // sum[j](e), max[j](e), min[j](e), prod[j](e)
};

struct ExprAst {
    ExprAstKind kind = ExprAstKind::Number;
    SourceRange where;                                // the whole expression
    double number = 0;                                // Number
    std::string name;                                 // Read: tensor; Call: function; Reduction: sum/max/min/prod
    SourceRange name_where;                           // Read, Call, Reduction: the name; Binary, Negate: the operator
    std::string op;                                   // Binary: the operator's spelling
    std::vector<IndexAst> indices;                    // Read: its indices; Reduction: its variables
    std::vector<std::shared_ptr<const ExprAst>> args; // Negate 1, Binary 2, Call its arguments, Reduction its body
    bool parens = false;                              // written inside parentheses
    int depth = 1;                                    // of its tree: 1 for a leaf
};

/** NAME[indices] = rhs, or += rhs. */
struct StatementAst {
    std::string tensor;
    SourceRange tensor_where;
    SourceRange lhs_where; // NAME[indices]
    std::vector<IndexAst> indices;
    bool accumulate = false; // '+='
    SourceRange op_where;    // the '=' or '+='
    std::shared_ptr<const ExprAst> rhs;
    SourceRange where;
};

struct ProgramAst {
    std::string source;
    std::vector<StatementAst> statements;
};

/** Fully parenthesised text of an expression, for tests: "-x^2" gives "(-(x[] ^ 2))". */
std::string ast_to_string(const ExprAst &e);

} // namespace einfuse::frontend
