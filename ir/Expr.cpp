#include "ir/Expr.h"

#include "support/Error.h"

#include <limits>

namespace einfuse::ir {

std::string_view binary_op_symbol(BinaryOp op) {
    switch (op) {
    case BinaryOp::Add: return "+";
    case BinaryOp::Sub: return "-";
    case BinaryOp::Mul: return "*";
    case BinaryOp::Div: return "/";
    case BinaryOp::Max: return "max";
    case BinaryOp::Min: return "min";
    }
    return "?";
}

std::string_view reduce_op_name(ReduceOp op) {
    switch (op) {
    case ReduceOp::Sum: return "sum";
    case ReduceOp::Prod: return "prod";
    case ReduceOp::Max: return "max";
    case ReduceOp::Min: return "min";
    }
    return "?";
}

double reduce_identity(ReduceOp op) {
    switch (op) {
    case ReduceOp::Sum: return 0.0;
    case ReduceOp::Prod: return 1.0;
    case ReduceOp::Max: return -std::numeric_limits<double>::infinity();
    case ReduceOp::Min: return std::numeric_limits<double>::infinity();
    }
    return 0.0;
}

BinaryOp reduce_combiner(ReduceOp op) {
    switch (op) {
    case ReduceOp::Sum: return BinaryOp::Add;
    case ReduceOp::Prod: return BinaryOp::Mul;
    case ReduceOp::Max: return BinaryOp::Max;
    case ReduceOp::Min: return BinaryOp::Min;
    }
    return BinaryOp::Add;
}

Expr Const::make(DType type, double value) { return Expr(std::make_shared<const Const>(type, value)); }

Expr Access::make(DType type, std::string tensor, std::vector<std::string> indices) {
    EINFUSE_ASSERT(!tensor.empty(), "Access needs a tensor name");
    return Expr(std::make_shared<const Access>(type, std::move(tensor), std::move(indices)));
}

Expr Cast::make(DType type, Expr value) {
    EINFUSE_ASSERT(value.defined(), "Cast needs a value");
    if (value.type() == type) return value;
    return Expr(std::make_shared<const Cast>(type, std::move(value)));
}

Expr Binary::make(BinaryOp op, Expr a, Expr b) {
    EINFUSE_ASSERT(a.defined() && b.defined(), "Binary needs two operands");
    EINFUSE_ASSERT(a.type() == b.type(), "Binary operands must have one type");
    return Expr(std::make_shared<const Binary>(op, std::move(a), std::move(b)));
}

Expr Reduce::make(std::vector<std::string> out_vars, std::vector<std::string> reduce_vars, ReduceOp op,
                  Expr body) {
    EINFUSE_ASSERT(body.defined(), "Reduce needs a body");
    for (const auto &r : reduce_vars)
        for (const auto &o : out_vars) EINFUSE_ASSERT(r != o, "variable '" + r + "' is both reduced and kept");
    return Expr(std::make_shared<const Reduce>(std::move(out_vars), std::move(reduce_vars), op, std::move(body)));
}

Expr ScalarRef::make(DType type, std::string name) {
    EINFUSE_ASSERT(!name.empty(), "ScalarRef needs a name");
    return Expr(std::make_shared<const ScalarRef>(type, std::move(name)));
}

} // namespace einfuse::ir
