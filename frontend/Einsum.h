#pragma once
// Einsum subscripts ("bij,bjk->bik"), numpy.einsum's semantics exactly: the parser and its AST
// with source positions; the resolver that expands '...' for the operands' ranks; the binder that
// checks shapes against the subscripts; and the IR program.
#include "ir/Program.h"
#include "support/Error.h"
#include "support/Tensor.h"

#include <optional>
#include <string>
#include <vector>

namespace einfuse::frontend {

struct Label {
    char name;
    SourceRange where;
};

struct EinsumOperand {
    std::vector<Label> labels;
    SourceRange where;                   // the whole operand, for "wrong rank" carets
    std::optional<SourceRange> ellipsis; // where '...' is, if present
    std::size_t ellipsis_at = 0;         // how many labels come before it
};

/** The parsed subscripts, before any shape is known. */
struct EinsumAst {
    std::string source;
    std::vector<EinsumOperand> operands;
    std::optional<EinsumOperand> output; // absent when there is no "->"
};

/** Parses subscripts; throws UserError with a caret at the first bad character. */
EinsumAst parse_einsum(std::string_view source);

/** One dimension of an operand or of the output: its index variable ("b"; "ell0" for the first
 * broadcast dimension under '...') and where the user wrote it. */
struct IndexUse {
    std::string var;
    SourceRange where;
};

/** Subscripts with every '...' expanded: one IndexUse per dimension of every operand and of the
 * output. Broadcast dimensions are right-aligned across operands, as numpy does. */
struct ResolvedEinsum {
    std::string source;
    std::vector<std::vector<IndexUse>> operands;
    std::vector<IndexUse> output;
};

/** ranks[i] is operand i's rank, or -1 when unknown (then it must not use '...'). Throws
 * UserError for a rank that the subscripts cannot cover, an output label that no operand has,
 * an output label given twice, or broadcast dimensions with no '...' in the output. */
ResolvedEinsum resolve_einsum(const EinsumAst &ast, const std::vector<int> &ranks);

/** The ranks the labels imply: each operand's label count, -1 for an operand with '...'. */
std::vector<int> label_ranks(const EinsumAst &ast);

/** numpy's type promotion over the operands' types (bf16 behaves as f16 does: see docs). */
DType promote_types(const std::vector<DType> &types);

/** The program: inputs in0, in1, ... and output `out` of the promoted type; f16/bf16 accumulate
 * in f32. Throws UserError for a wrong operand count. */
ir::Program einsum_program(const ResolvedEinsum &e, const std::vector<DType> &dtypes);

/** Index sizes from operand shapes (checked against each other and against `dims`, with carets);
 * an operand whose shape is unknown (nullopt) takes its sizes from dims. A size 1 broadcasts
 * against any other size, except between the repeated labels of one operand. `partial`: a size
 * neither gives is left out (`einfuse compile --dims d=3`: the rest free) instead of an error. */
ir::Extents bind_einsum_extents(const ResolvedEinsum &e, const std::vector<std::optional<Shape>> &shapes,
                                const ir::Extents &dims, bool partial = false);

/** The shape of operand `operand` (or of the output, operand = -1) under extents. */
Shape einsum_operand_shape(const ResolvedEinsum &e, int operand, const ir::Extents &extents);

} // namespace einfuse::frontend
