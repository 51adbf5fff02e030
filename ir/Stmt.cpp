#include "ir/Stmt.h"

#include "support/Error.h"

namespace einfuse::ir {

Stmt For::make(std::string var, LoopKind kind, Stmt body, int64_t fixed_extent) {
    EINFUSE_ASSERT(!var.empty() && body.defined(), "For needs a variable and a body");
    EINFUSE_ASSERT((kind == LoopKind::Unrolled) == (fixed_extent >= 0), "an Unrolled loop, and only it, has a fixed extent");
    return Stmt(std::make_shared<const For>(std::move(var), kind, std::move(body), fixed_extent));
}

Stmt Block::make(std::vector<Stmt> stmts) {
    for (const auto &s : stmts) EINFUSE_ASSERT(s.defined(), "Block holds an undefined statement");
    return Stmt(std::make_shared<const Block>(std::move(stmts)));
}

Stmt Store::make(std::string tensor, std::vector<Index> indices, Expr value) {
    EINFUSE_ASSERT(value.defined() && !value.as<Reduce>(), "Store needs a value without Reduce");
    return Stmt(std::make_shared<const Store>(std::move(tensor), std::move(indices), std::move(value)));
}

Stmt DeclareScalar::make(std::string name, DType type, Expr init) {
    EINFUSE_ASSERT(init.defined() && init.type() == type, "DeclareScalar's init must have its type");
    return Stmt(std::make_shared<const DeclareScalar>(std::move(name), type, std::move(init)));
}

Stmt AssignScalar::make(std::string name, Expr value) {
    EINFUSE_ASSERT(value.defined(), "AssignScalar needs a value");
    return Stmt(std::make_shared<const AssignScalar>(std::move(name), std::move(value)));
}

} // namespace einfuse::ir
