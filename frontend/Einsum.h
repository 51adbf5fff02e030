#pragma once
// Einsum subscripts ("bij,bjk->bik"): the parser, its AST with source positions, and the binder
// that checks operands against the subscripts and builds the IR program.
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
    SourceRange where; // the whole operand, for "wrong rank" carets
};

/** The parsed subscripts, before any shape is known. */
struct EinsumAst {
    std::string source;
    std::vector<EinsumOperand> operands;
    std::optional<EinsumOperand> output; // absent when there is no "->"
};

/** Parses subscripts; throws UserError with a caret at the first bad character. */
EinsumAst parse_einsum(std::string_view source);

/** The program of an einsum: inputs in0, in1, ... and output `out`. Throws UserError for a label
 * of the output that no operand has, an output label given twice, or an unsupported dtype. */
ir::Program einsum_program(const EinsumAst &ast, const std::vector<DType> &dtypes, DType out_dtype);

/** Index sizes from operand shapes (checked against each other and against `dims`, with carets);
 * an operand whose shape is unknown (nullopt) takes its sizes from dims. Every label must end up
 * with a size. */
ir::Extents bind_einsum_extents(const EinsumAst &ast, const std::vector<std::optional<Shape>> &shapes,
                                const ir::Extents &dims);

/** The shape of tensor `operand` (or of the output, operand = -1) under extents. */
Shape einsum_operand_shape(const EinsumAst &ast, int operand, const ir::Extents &extents);

} // namespace einfuse::frontend
