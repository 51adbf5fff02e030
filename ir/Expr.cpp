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
    case BinaryOp::Pow: return "^";
    case BinaryOp::Lt: return "<";
    case BinaryOp::Le: return "<=";
    case BinaryOp::Gt: return ">";
    case BinaryOp::Ge: return ">=";
    case BinaryOp::Eq: return "==";
    case BinaryOp::Ne: return "!=";
    }
    return "?";
}

bool binary_op_is_call(BinaryOp op) { return op == BinaryOp::Max || op == BinaryOp::Min; }

std::string_view unary_op_name(UnaryOp op) {
    switch (op) {
    case UnaryOp::Neg: return "-";
    case UnaryOp::Exp: return "exp";
    case UnaryOp::Log: return "log";
    case UnaryOp::Sqrt: return "sqrt";
    case UnaryOp::Rsqrt: return "rsqrt";
    case UnaryOp::Abs: return "abs";
    case UnaryOp::Tanh: return "tanh";
    case UnaryOp::Sigmoid: return "sigmoid";
    case UnaryOp::Relu: return "relu";
    case UnaryOp::Gelu: return "gelu";
    case UnaryOp::Sin: return "sin";
    case UnaryOp::Cos: return "cos";
    case UnaryOp::Floor: return "floor";
    case UnaryOp::Ceil: return "ceil";
    case UnaryOp::Sign: return "sign";
    case UnaryOp::Conj: return "conj";
    case UnaryOp::Real: return "real";
    case UnaryOp::Imag: return "imag";
    }
    return "?";
}

DType unary_result_type(UnaryOp op, DType t) {
    bool to_real = op == UnaryOp::Real || op == UnaryOp::Imag || op == UnaryOp::Abs;
    return to_real ? real_part_type(t) : t;
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

Expr Access::make(DType type, std::string tensor, std::vector<Index> indices) {
    EINFUSE_ASSERT(!tensor.empty(), "Access needs a tensor name");
    return Expr(std::make_shared<const Access>(type, std::move(tensor), std::move(indices)));
}

Expr Cast::make(DType type, Expr value) {
    EINFUSE_ASSERT(value.defined(), "Cast needs a value");
    if (value.type() == type) return value;
    return Expr(std::make_shared<const Cast>(type, std::move(value)));
}

Expr Unary::make(UnaryOp op, Expr a) {
    EINFUSE_ASSERT(a.defined(), "Unary needs an operand");
    return Expr(std::make_shared<const Unary>(op, std::move(a)));
}

Expr Select::make(Expr cond, Expr a, Expr b) {
    EINFUSE_ASSERT(cond.defined() && a.defined() && b.defined(), "Select needs three operands");
    EINFUSE_ASSERT(cond.type() == a.type() && a.type() == b.type(), "Select's operands must have one type");
    return Expr(std::make_shared<const Select>(std::move(cond), std::move(a), std::move(b)));
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
