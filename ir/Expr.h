#pragma once
// Expressions: small immutable nodes behind a shared handle. One X-macro lists the node types;
// downcast with e.as<Reduce>(), dispatch on every type with visit().
#include "ir/Index.h"
#include "support/DType.h"

#include <memory>
#include <string>
#include <type_traits>
#include <vector>

namespace einfuse::ir {

#define EINFUSE_EXPR_NODES(X) X(Const) X(Access) X(Cast) X(Unary) X(Binary) X(Select) X(Reduce) X(ScalarRef)

enum class ExprKind {
#define EINFUSE_ENUM(N) N,
    EINFUSE_EXPR_NODES(EINFUSE_ENUM)
#undef EINFUSE_ENUM
};

struct ExprBase {
    ExprBase(ExprKind k, DType t) : kind(k), type(t) {}
    virtual ~ExprBase() = default;
    const ExprKind kind;
    const DType type;
};

template <class T> struct ExprNode;

/** A handle to an immutable expression node; cheap to copy, compared by identity. */
class Expr {
public:
    Expr() = default;
    explicit Expr(std::shared_ptr<const ExprBase> node) : node_(std::move(node)) {}
    bool defined() const { return node_ != nullptr; }
    ExprKind kind() const { return node_->kind; }
    DType type() const { return node_->type; }
    const ExprBase *get() const { return node_.get(); }
    bool same_as(const Expr &other) const { return node_ == other.node_; }
    template <class T> const T *as() const {
        return node_ && node_->kind == T::kKind ? static_cast<const T *>(node_.get()) : nullptr;
    }

private:
    std::shared_ptr<const ExprBase> node_;
};

/** Comparisons (Lt .. Ne) give 1 or 0 in the operands' type. Pow is a^b. */
enum class BinaryOp { Add, Sub, Mul, Div, Max, Min, Pow, Lt, Le, Gt, Ge, Eq, Ne };
/** The language's one-argument functions, and negation. Relu is max(x, 0); Gelu is
 * x * Phi(x) with the exact normal CDF (erf), as PyTorch's default; Sigmoid is 1/(1+e^-x);
 * Sign is -1, 0 or 1; Rsqrt is 1/sqrt(x). Conj, Real and Imag are numpy's (of a real x: x, x,
 * 0); Real, Imag and Abs of a complex value are real (unary_result_type). Only programs before
 * passes/SplitComplex hold Conj, Real, Imag or a complex type; no backend sees them. */
enum class UnaryOp { Neg, Exp, Log, Sqrt, Rsqrt, Abs, Tanh, Sigmoid, Relu, Gelu, Sin, Cos, Floor, Ceil, Sign, Conj, Real, Imag };
/** The type of op(a) for a of type t: t, except Real, Imag and Abs of c64/c128 (f32/f64). */
DType unary_result_type(UnaryOp op, DType t);
enum class ReduceOp { Sum, Prod, Max, Min };

std::string_view binary_op_symbol(BinaryOp op); // "+", "-", "*", "/", "max", "min", "^", "<", ...
/** Whether the op prints as a function call, max(a, b), rather than infix. */
bool binary_op_is_call(BinaryOp op);
std::string_view unary_op_name(UnaryOp op);     // "-", "exp", "log", ..., "sign"
std::string_view reduce_op_name(ReduceOp op);   // "sum", "prod", "max", "min"
/** The identity of op: 0 for sum, 1 for prod, -inf for max, +inf for min. */
double reduce_identity(ReduceOp op);
/** The binary operation that folds one more value into a reduction. */
BinaryOp reduce_combiner(ReduceOp op);

/** A number literal. "ij->ij" scaled by 2 has Const(2) in its body. */
struct Const : ExprBase {
    static constexpr ExprKind kKind = ExprKind::Const;
    Const(DType t, double v) : ExprBase(kKind, t), value(v) {}
    static Expr make(DType type, double value);
    const double value;
};

/** Read of a tensor at one index expression per dimension (ir/Index.h). In "bij,bjk->bik",
 * in0[b,i,j]; a diagonal "ii->i" reads in0[i,i]; a 1-D convolution reads x[i + r]. */
struct Access : ExprBase {
    static constexpr ExprKind kKind = ExprKind::Access;
    Access(DType t, std::string n, std::vector<Index> idx)
        : ExprBase(kKind, t), tensor(std::move(n)), indices(std::move(idx)) {}
    static Expr make(DType type, std::string tensor, std::vector<Index> indices);
    /** Read at plain variables, what the frontends build: make(f32, "x", vars) for x[i,j]. */
    template <class V, std::enable_if_t<std::is_same_v<std::decay_t<V>, std::vector<std::string>>, int> = 0>
    static Expr make(DType type, std::string tensor, V &&vars) {
        return make(type, std::move(tensor), to_indices(vars));
    }
    const std::string tensor;
    const std::vector<Index> indices;
};

/** value converted to `type`: numpy's casting (floats round to nearest, float to integer
 * truncates). An f16 einsum reads Cast(f32, in0[i,j]) so that it accumulates in f32. */
struct Cast : ExprBase {
    static constexpr ExprKind kKind = ExprKind::Cast;
    Cast(DType t, Expr v) : ExprBase(kKind, t), value(std::move(v)) {}
    /** Returns value itself when it already has `type`. */
    static Expr make(DType type, Expr value);
    const Expr value;
};

/** op(a). "out[i] = relu(x[i])" is Unary(Relu, x[i]). */
struct Unary : ExprBase {
    static constexpr ExprKind kKind = ExprKind::Unary;
    Unary(UnaryOp o, Expr x) : ExprBase(kKind, unary_result_type(o, x.type())), op(o), a(std::move(x)) {}
    static Expr make(UnaryOp op, Expr a);
    const UnaryOp op;
    const Expr a;
};

/** cond != 0 ? a : b, all three of one type: the language's where(c, a, b). */
struct Select : ExprBase {
    static constexpr ExprKind kKind = ExprKind::Select;
    Select(Expr c, Expr x, Expr y) : ExprBase(kKind, x.type()), cond(std::move(c)), a(std::move(x)), b(std::move(y)) {}
    static Expr make(Expr cond, Expr a, Expr b);
    const Expr cond, a, b;
};

/** a op b, both of one type. "ij,ij->ij" is Binary(Mul, in0[i,j], in1[i,j]). */
struct Binary : ExprBase {
    static constexpr ExprKind kKind = ExprKind::Binary;
    Binary(BinaryOp o, Expr x, Expr y) : ExprBase(kKind, x.type()), op(o), a(std::move(x)), b(std::move(y)) {}
    static Expr make(BinaryOp op, Expr a, Expr b);
    const BinaryOp op;
    const Expr a, b;
};

/** Reduce `body` over `reduce_vars`, one value per point of `out_vars`.
 * "ij,jk->ik" is Reduce({i,k}, {j}, Sum, Mul(Access(in0,{i,j}), Access(in1,{j,k}))). */
struct Reduce : ExprBase {
    static constexpr ExprKind kKind = ExprKind::Reduce;
    Reduce(std::vector<std::string> out, std::vector<std::string> red, ReduceOp o, Expr b)
        : ExprBase(kKind, b.type()), out_vars(std::move(out)), reduce_vars(std::move(red)), op(o),
          body(std::move(b)) {}
    static Expr make(std::vector<std::string> out_vars, std::vector<std::string> reduce_vars, ReduceOp op,
                     Expr body);
    const std::vector<std::string> out_vars;
    const std::vector<std::string> reduce_vars;
    const ReduceOp op;
    const Expr body;
};

/** A named scalar of a loop nest, such as a reduction's accumulator `acc`. Only in loop IR. */
struct ScalarRef : ExprBase {
    static constexpr ExprKind kKind = ExprKind::ScalarRef;
    ScalarRef(DType t, std::string n) : ExprBase(kKind, t), name(std::move(n)) {}
    static Expr make(DType type, std::string name);
    const std::string name;
};

/** Calls f with the node downcast to its own type; f must accept every node type. */
template <class F> decltype(auto) visit(const Expr &e, F &&f) {
    switch (e.kind()) {
#define EINFUSE_CASE(N)                                                                            \
    case ExprKind::N:                                                                              \
        return f(*static_cast<const N *>(e.get()));
        EINFUSE_EXPR_NODES(EINFUSE_CASE)
#undef EINFUSE_CASE
    }
    return f(*static_cast<const Const *>(e.get())); // unreachable: every kind is handled above
}

} // namespace einfuse::ir
