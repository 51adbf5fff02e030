#pragma once
// Index-notation programs (form 2): several statements in the notation of Tensor Comprehensions,
//   C[b,i,k] = A[b,i,j] * B[b,j,k]        # j is not on the left: summed
//   D[b,i,k] = relu(C[b,i,k] + bias[k])
// from text to a verified ir::Program. docs/language.md ("Form 2") has the grammar and rules.
#include "frontend/ProgramAst.h"
#include "ir/Program.h"
#include "support/Tensor.h"

#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace einfuse::frontend {

/** Whether text is an index-notation program rather than einsum subscripts ('[' or '=' present). */
bool is_program(std::string_view text);

/** Parses and checks a program: syntax, functions and their arity, ranks, reduction variables,
 * definition order. Throws UserError with a caret. */
ProgramAst parse_program(std::string_view source);

/** The tensors the program reads and never defines (its inputs), in order of first use, with the
 * rank each is used with. */
std::vector<std::pair<std::string, int>> program_inputs(const ProgramAst &ast);

/** The IR. dtypes: element type per input name (missing: f32). outputs: tensors to return;
 * empty = those defined and not read by a later statement. A tensor that '+=' updates is in SSA
 * form: its earlier versions are temporaries named NAME_v0, NAME_v1, ..., the last keeps NAME. */
ir::Program program_ir(const ProgramAst &ast, const std::map<std::string, DType> &dtypes,
                       const std::vector<std::string> &outputs = {});

/** Index sizes from input shapes (by tensor name; an input without one takes its sizes from dims)
 * and dims; carets on conflicts ("index 'j' has size 3 in A but 4 in B"). `partial`: a size
 * neither gives is left out instead of an error. */
ir::Extents bind_program_extents(const ProgramAst &ast, const std::map<std::string, Shape> &shapes,
                                 const ir::Extents &dims, bool partial = false);

/** A tensor's shape under extents (inputs and defined tensors, by the user's name). */
Shape program_tensor_shape(const ProgramAst &ast, const std::string &tensor, const ir::Extents &extents);

} // namespace einfuse::frontend
