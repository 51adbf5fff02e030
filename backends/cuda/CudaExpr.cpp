// Expressions as CUDA C: tensor reads, literals, casts, and the arithmetic of Unary, Binary and
// Select with the float64 reference's meaning (ir/Reference.cpp). Floats call CUDA's math library
// by its C names (expf / exp, tanhf, powf, rsqrtf); integers wrap like numpy's through the
// einfuse_wrap_* helpers of the device prelude (CudaTypes.cpp).
#include "backends/cuda/CudaInternal.h"

#include "support/Error.h"

namespace einfuse::cuda_backend::detail {

namespace {

using ir::BinaryOp;
using ir::UnaryOp;

int precedence(BinaryOp op) {
    switch (op) {
    case BinaryOp::Add:
    case BinaryOp::Sub:
        return 1;
    case BinaryOp::Mul:
    case BinaryOp::Div:
        return 2;
    default:
        return 3; // fmaxf(a, b), powf(a, b), (float)(a < b): never need parentheses
    }
}

bool is_comparison(BinaryOp op) {
    return op == BinaryOp::Lt || op == BinaryOp::Le || op == BinaryOp::Gt || op == BinaryOp::Ge || op == BinaryOp::Eq ||
           op == BinaryOp::Ne;
}

/** The C name of a float function: "exp" in f64, "expf" in f32. */
std::string fn(const char *name, DType t) { return std::string(name) + (t == DType::F32 ? "f" : ""); }

/** exp in f32 is einfuse_exp (the device prelude's, one hardware instruction); in f64 exp. */
std::string exp_call(DType t) { return t == DType::F32 ? "einfuse_exp" : "exp"; }

void reject_16bit(DType t, const char *what) {
    if (t == DType::F16 || t == DType::BF16)
        throw InternalError("the CUDA backend got " + std::string(dtype_name(t)) + " " + what +
                            ": the frontend computes f16/bf16 in f32 through Casts");
}

class ExprPrinter {
  public:
    explicit ExprPrinter(const KernelNames &names) : names_(names) {}

    std::string print(const ir::Expr &e) const {
        return visit(e, [&](const auto &n) { return node(n); });
    }

  private:
    std::string node(const ir::Const &c) const { return literal(c.type, c.value); }
    std::string node(const ir::ScalarRef &s) const { return names_.scalar(s.name); }
    std::string node(const ir::Access &a) const { return print_access(a.tensor, a.indices, names_); }
    std::string node(const ir::Cast &c) const {
        return convert(c.value.type(), c.type, print(c.value), infix(c.value));
    }
    std::string node(const ir::Reduce &) const {
        throw InternalError("the CUDA backend got a Reduce: the passes lower every Reduce to loops first");
    }

    /** Whether e prints as `a op b`: float + - * /. Everything else prints as a call, a cast or
     * in parentheses of its own. */
    static bool infix(const ir::Expr &e) {
        const auto *b = e.as<ir::Binary>();
        return b && !is_integer(b->type) && precedence(b->op) < 3;
    }

    /** -x, with x parenthesised where it is infix, and where it is itself a negation: `--x`
     * would be a decrement. Before: Neg(Add(a, b)), Neg(Neg(a)). After: -(a + b), -(-a). */
    std::string negate(const ir::Expr &x) const {
        const auto *inner = x.as<ir::Unary>();
        bool paren = infix(x) || (inner && inner->op == UnaryOp::Neg);
        return paren ? "-(" + print(x) + ")" : "-" + print(x);
    }

    std::string node(const ir::Unary &u) const {
        reject_16bit(u.type, "arithmetic");
        if (is_integer(u.type)) return integer_unary(u);
        DType t = u.type;
        std::string x = print(u.a);
        switch (u.op) {
        case UnaryOp::Neg:
            return negate(u.a);
        case UnaryOp::Exp: // f32: the hardware's exp2 (see exp_call)
            return exp_call(t) + "(" + x + ")";
        case UnaryOp::Log:
            return fn("log", t) + "(" + x + ")";
        case UnaryOp::Sqrt:
            return fn("sqrt", t) + "(" + x + ")";
        case UnaryOp::Rsqrt:
            return fn("rsqrt", t) + "(" + x + ")";
        case UnaryOp::Abs:
            return fn("fabs", t) + "(" + x + ")";
        case UnaryOp::Tanh:
            return fn("tanh", t) + "(" + x + ")";
        case UnaryOp::Sigmoid:
            return literal(t, 1) + " / (" + literal(t, 1) + " + " + exp_call(t) + "(" + negate(u.a) + "))";
        case UnaryOp::Relu: // fmax ignores a NaN operand: relu(NaN) = 0, as the reference has it
            return fn("fmax", t) + "(" + x + ", " + literal(t, 0) + ")";
        case UnaryOp::Gelu:
            return "einfuse_gelu(" + x + ")";
        case UnaryOp::Sin:
            return fn("sin", t) + "(" + x + ")";
        case UnaryOp::Cos:
            return fn("cos", t) + "(" + x + ")";
        case UnaryOp::Floor:
            return fn("floor", t) + "(" + x + ")";
        case UnaryOp::Ceil:
            return fn("ceil", t) + "(" + x + ")";
        case UnaryOp::Sign:
            return "einfuse_sign(" + x + ")";
        case UnaryOp::Conj:
        case UnaryOp::Real:
        case UnaryOp::Imag:
            break; // passes/SplitComplex leaves none
        }
        throw InternalError("unknown unary operator");
    }

    /** -x and |x| wrap (-MIN and |MIN| are MIN), as numpy's do; relu is max(x, 0). Unsigned
     * values are their own abs and relu, their sign is x != 0; 8/16-bit ones go through int. */
    std::string integer_unary(const ir::Unary &u) const {
        std::string x = print(u.a);
        const std::string type = c_type(u.type);
        if (is_unsigned(u.type)) {
            switch (u.op) {
            case UnaryOp::Neg:
                if (u.type == DType::Bool) break; // the frontend refuses it, as numpy does
                return "einfuse_wrap_sub(" + literal(u.type, 0) + ", " + x + ")";
            case UnaryOp::Abs:
            case UnaryOp::Relu:
                return x;
            case UnaryOp::Sign:
                return "((" + type + ")(" + x + " != " + literal(u.type, 0) + "))";
            default:
                break;
            }
            throw InternalError("the CUDA backend got " + std::string(ir::unary_op_name(u.op)) + " of a " +
                                std::string(dtype_name(u.type)) + ": the frontend refuses it or computes it in f64");
        }
        if (dtype_bits(u.type) < 32) {
            switch (u.op) {
            case UnaryOp::Neg:
                return "einfuse_wrap_sub(" + literal(u.type, 0) + ", " + x + ")";
            case UnaryOp::Abs:
                return "((" + type + ")einfuse_wrap_abs((int)" + x + "))";
            case UnaryOp::Relu:
                return "einfuse_max(" + x + ", " + literal(u.type, 0) + ")";
            case UnaryOp::Sign:
                return "((" + type + ")einfuse_sign((int)" + x + "))";
            default:
                break;
            }
        }
        switch (u.op) {
        case UnaryOp::Neg:
            return "einfuse_wrap_sub(" + literal(u.type, 0) + ", " + x + ")";
        case UnaryOp::Abs:
            return "einfuse_wrap_abs(" + x + ")";
        case UnaryOp::Relu:
            return "max(" + x + ", " + literal(u.type, 0) + ")";
        case UnaryOp::Sign:
            return "einfuse_sign(" + x + ")";
        default:
            throw InternalError("the CUDA backend got " + std::string(ir::unary_op_name(u.op)) + " of an " +
                                std::string(dtype_name(u.type)) + ": the frontend computes it in f64");
        }
    }

    /** (c != 0.0f ? a : b): a NaN condition is != 0, as in C and the reference. */
    std::string node(const ir::Select &s) const {
        reject_16bit(s.type, "select");
        return "(" + print(s.cond) + " != " + literal(s.type, 0) + " ? " + print(s.a) + " : " + print(s.b) + ")";
    }

    std::string node(const ir::Binary &b) const {
        reject_16bit(b.type, "arithmetic");
        if (is_comparison(b.op)) // C's 0/1 int, in the operands' type; NaN: false except !=
            return "(" + c_type(b.type) + ")(" + print(b.a) + " " + std::string(ir::binary_op_symbol(b.op)) + " " +
                   print(b.b) + ")";
        if (is_integer(b.type)) return integer_binary(b);
        if (b.op == BinaryOp::Max || b.op == BinaryOp::Min || b.op == BinaryOp::Pow) {
            const char *name = b.op == BinaryOp::Max ? "fmax" : b.op == BinaryOp::Min ? "fmin" : "pow";
            return fn(name, b.type) + "(" + print(b.a) + ", " + print(b.b) + ")";
        }
        // Parentheses only where C would group differently: a right operand of equal precedence
        // keeps them, since floating-point a - (b - c) and a + (b + c) are not a - b - c, a + b + c.
        int p = precedence(b.op);
        auto operand = [&](const ir::Expr &e, bool right) {
            const auto *inner = e.as<ir::Binary>();
            bool paren = inner && (precedence(inner->op) < p || (right && precedence(inner->op) == p));
            return paren ? "(" + print(e) + ")" : print(e);
        };
        return operand(b.a, false) + " " + std::string(ir::binary_op_symbol(b.op)) + " " + operand(b.b, true);
    }

    /** acc + x in i64 is einfuse_wrap_add(acc, x): numpy wraps where C++'s signed overflow is
     * undefined (see device_prelude). max and min are CUDA's signed int/long long overloads, and
     * the prelude's einfuse_max/min for the other integer types. bool is numpy's einsum of
     * bools: + and max are ||, * and min are &&; it has no minus. */
    std::string integer_binary(const ir::Binary &b) const {
        if (b.type == DType::Bool) {
            const char *op = b.op == BinaryOp::Add || b.op == BinaryOp::Max   ? " || "
                             : b.op == BinaryOp::Mul || b.op == BinaryOp::Min ? " && "
                                                                              : nullptr;
            if (!op)
                throw InternalError("the CUDA backend got the bool operator " +
                                    std::string(ir::binary_op_symbol(b.op)) + ": the frontend refuses it");
            return "(" + print(b.a) + op + print(b.b) + ")";
        }
        const bool overloaded = b.type == DType::I32 || b.type == DType::I64;
        const char *name = nullptr;
        switch (b.op) {
        case BinaryOp::Add:
            name = "einfuse_wrap_add";
            break;
        case BinaryOp::Sub:
            name = "einfuse_wrap_sub";
            break;
        case BinaryOp::Mul:
            name = "einfuse_wrap_mul";
            break;
        case BinaryOp::Max:
            name = overloaded ? "max" : "einfuse_max";
            break;
        case BinaryOp::Min:
            name = overloaded ? "min" : "einfuse_min";
            break;
        case BinaryOp::Div:
            throw InternalError("the CUDA backend got an integer division: the frontend divides in floating point");
        default:
            throw InternalError("the CUDA backend got an integer " + std::string(ir::binary_op_symbol(b.op)) +
                                ": the frontend computes pow in f64");
        }
        return std::string(name) + "(" + print(b.a) + ", " + print(b.b) + ")";
    }

    const KernelNames &names_;
};

} // namespace

std::string print_expr(const ir::Expr &e, const KernelNames &names) { return ExprPrinter(names).print(e); }

/** t[i * t_s0 + j * t_s1]: strides are arguments, so one kernel serves every layout. */
std::string print_access(const std::string &tensor, const std::vector<ir::Index> &idx, const KernelNames &names) {
    std::string offset;
    for (const auto &t : ir::element_offset(idx)) { // in0[b,i,j]: b * in0_s0 + i * in0_s1 + j * in0_s2
        std::string term = names.stride(tensor, t.dim);
        if (!t.var.empty()) term = names.var(t.var) + " * " + term;
        if (t.coeff != 1) term = std::to_string(t.coeff) + " * " + term; // x[2*h - 1]: 2 * h * x_s0 + -1 * x_s0
        offset += (offset.empty() ? "" : " + ") + term;
    }
    return names.tensor(tensor) + "[" + (offset.empty() ? "0" : offset) + "]";
}

} // namespace einfuse::cuda_backend::detail
