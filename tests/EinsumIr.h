#pragma once
// The IR of an einsum straight from the frontend (parse, resolve, build), every operand of one
// type: what the pass-level tests plan from.
#include "frontend/Einsum.h"

#include <string>
#include <vector>

namespace einfuse::test {

inline ir::Program einsum_ir(const std::string &spec, DType t = DType::F32) {
    auto ast = frontend::parse_einsum(spec);
    return frontend::einsum_program(frontend::resolve_einsum(ast, frontend::label_ranks(ast)),
                                    std::vector<DType>(ast.operands.size(), t));
}

} // namespace einfuse::test
