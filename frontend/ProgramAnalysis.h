#pragma once
// Internal to the frontend: what parse_program checks and the lowering and binder read, computed
// from the AST in one walk. Not part of the public API.
#include "frontend/ProgramAst.h"

#include <map>
#include <string>
#include <utility>
#include <vector>

namespace einfuse::frontend {

/** A tensor read on a right-hand side. */
struct ReadInfo {
    std::string tensor;  // the user's name
    std::string version; // the SSA name it reads (inputs: the user's name)
    bool input = false;
    std::vector<IndexAst> indices;
    SourceRange where;
};

struct StatementInfo {
    std::string version;  // the SSA name this statement defines
    std::string previous; // '+=': the version it adds to
    std::vector<std::string> lhs;
    std::vector<IndexAst> implicit; // summed over the whole right-hand side, first use of each
    std::vector<IndexAst> reduced;  // variables of explicit reductions, as declared
    std::vector<ReadInfo> reads;    // in the order written
};

struct ProgramAnalysis {
    std::vector<StatementInfo> statements;
    std::vector<std::pair<std::string, int>> inputs; // order of first use, with rank
    std::map<std::string, SourceRange> input_use;    // first read of each input
    std::vector<std::string> vars;                   // every variable, in order of first appearance
    std::map<std::string, SourceRange> var_use;      // first appearance of each
    std::map<std::string, int> last_definition;      // user name -> its last statement
    bool needs_float = false; // '/', '^', pow, a function other than abs/relu/sign/max/min/where, or 0.5
};

/** Checks everything that needs no shapes or types; throws UserError with carets. */
ProgramAnalysis analyze_program(const ProgramAst &ast);

} // namespace einfuse::frontend
