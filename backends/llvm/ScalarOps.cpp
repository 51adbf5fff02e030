#include "backends/llvm/ScalarOps.h"

#include "backends/llvm/TypeLowering.h"
#include "backends/llvm/VectorMath.h"
#include "support/Error.h"

#include <llvm/IR/Constants.h>
#include <llvm/IR/DerivedTypes.h>
#include <llvm/IR/Function.h>
#include <llvm/IR/IRBuilder.h>
#include <llvm/IR/Intrinsics.h>
#include <llvm/IR/Module.h>

#include <cmath>
#include <math.h> // sincos, sincosf and exp10 (GNU), which <cmath> need not declare

namespace einfuse::llvm_backend {

namespace {

using ir::BinaryOp;
using ir::UnaryOp;
using llvm::IRBuilderBase;
using llvm::Value;

llvm::Constant *fp(Value *like, double v) { return llvm::ConstantFP::get(like->getType(), v); }
llvm::Constant *integer(Value *like, int64_t v) { return llvm::ConstantInt::getSigned(like->getType(), v); }

std::string type_name(DType t) { return std::string(dtype_name(t)); }

/** f16/bf16 values are i16 bit patterns here: arithmetic on them would be silently wrong. The
 * frontend computes them in f32 (Cast on read and on store), so this never happens. */
void reject_16bit(DType t, const std::string &where) {
    if (t == DType::F16 || t == DType::BF16)
        throw InternalError("kernel " + where + " computes in " + type_name(t) + ": cast to f32 first");
}

/** A call to libm's `name` (f64) or `name`f (f32). The declaration says what C with
 * -fno-math-errno would: no memory touched (errno is nobody's business here), no unwinding, so
 * the loop vectoriser and LICM treat it like an intrinsic. */
Value *libm_call(IRBuilderBase &b, const char *name, Value *x) {
    if (x->getType()->isVectorTy()) return per_lane(b, x, [&](Value *lane) { return libm_call(b, name, lane); });
    llvm::Module *m = b.GetInsertBlock()->getModule();
    bool f32 = x->getType()->isFloatTy();
    std::string symbol = std::string(name) + (f32 ? "f" : "");
    auto callee = m->getOrInsertFunction(symbol, llvm::FunctionType::get(x->getType(), {x->getType()}, false));
    if (auto *f = llvm::dyn_cast<llvm::Function>(callee.getCallee())) {
        f->setDoesNotAccessMemory();
        f->setDoesNotThrow();
        f->setWillReturn();
    }
    llvm::CallInst *call = b.CreateCall(callee, {x});
    call->setDoesNotAccessMemory();
    call->setDoesNotThrow();
    return call;
}

Value *float_unary(IRBuilderBase &b, UnaryOp op, Value *x) {
    auto intrinsic = [&](llvm::Intrinsic::ID id) { return b.CreateUnaryIntrinsic(id, x); };
    switch (op) {
    case UnaryOp::Neg:
        return b.CreateFNeg(x);
    case UnaryOp::Exp: // f32: written out, so it vectorises (VectorMath.h)
        return x->getType()->getScalarType()->isFloatTy() ? exp_f32(b, x) : intrinsic(llvm::Intrinsic::exp);
    case UnaryOp::Log:
        return intrinsic(llvm::Intrinsic::log);
    case UnaryOp::Sqrt:
        return intrinsic(llvm::Intrinsic::sqrt);
    case UnaryOp::Rsqrt: // correctly rounded sqrt, then one division: within ~1 ulp, no rsqrtps estimate
        return b.CreateFDiv(fp(x, 1.0), intrinsic(llvm::Intrinsic::sqrt));
    case UnaryOp::Abs:
        return intrinsic(llvm::Intrinsic::fabs);
    case UnaryOp::Tanh:
        return libm_call(b, "tanh", x);
    case UnaryOp::Sigmoid: // 1 / (1 + e^-x): e^-x overflows to inf for x < -88 (f32), giving 0, as it should
        return b.CreateFDiv(fp(x, 1.0),
                            b.CreateFAdd(fp(x, 1.0), b.CreateUnaryIntrinsic(llvm::Intrinsic::exp, b.CreateFNeg(x))));
    case UnaryOp::Relu: // x > 0 ? x : 0, exactly maxps(x, 0): relu(-0) = +0, relu(NaN) = 0 like the reference
        return b.CreateSelect(b.CreateFCmpOGT(x, fp(x, 0.0)), x, fp(x, 0.0));
    case UnaryOp::Gelu: {
        // x * Phi(x) = x/2 * erfc(-x/sqrt2). The textbook x/2 * (1 + erf(x/sqrt2)) cancels for
        // negative x: at x = -3, 1 + erf(-2.12) = 0.0027 keeps only erf's absolute error,
        // ~200 ulps of the result in f32; erfc is accurate relative to its (small) value.
        Value *arg = b.CreateFMul(b.CreateFNeg(x), fp(x, M_SQRT1_2));
        return b.CreateFMul(b.CreateFMul(fp(x, 0.5), x), libm_call(b, "erfc", arg));
    }
    case UnaryOp::Sin:
        return intrinsic(llvm::Intrinsic::sin);
    case UnaryOp::Cos:
        return intrinsic(llvm::Intrinsic::cos);
    case UnaryOp::Floor:
        return intrinsic(llvm::Intrinsic::floor);
    case UnaryOp::Ceil:
        return intrinsic(llvm::Intrinsic::ceil);
    case UnaryOp::Sign: // (x > 0) - (x < 0); NaN gives 0, like the reference
        return b.CreateSelect(b.CreateFCmpOGT(x, fp(x, 0.0)), fp(x, 1.0),
                              b.CreateSelect(b.CreateFCmpOLT(x, fp(x, 0.0)), fp(x, -1.0), fp(x, 0.0)));
    case UnaryOp::Conj:
    case UnaryOp::Real:
    case UnaryOp::Imag:
        break; // passes/SplitComplex leaves none
    }
    throw InternalError("unknown unary operator");
}

/** Neg and Abs wrap: -MIN and |MIN| are MIN, as in numpy (no nsw, abs without the poison flag);
 * -x of an unsigned x is 2^bits - x. Unsigned values (and bool's 0 and 1) are their own abs and
 * relu; their sign is x != 0. bool has no minus (the frontend refuses it, as numpy does). */
Value *integer_unary(IRBuilderBase &b, UnaryOp op, Value *x, DType t, const std::string &where) {
    if (is_unsigned(t)) {
        switch (op) {
        case UnaryOp::Neg:
            if (t == DType::Bool) break;
            return b.CreateNeg(x);
        case UnaryOp::Abs:
        case UnaryOp::Relu:
            return x;
        case UnaryOp::Sign:
            return b.CreateZExt(b.CreateICmpNE(x, integer(x, 0)), x->getType());
        default:
            break;
        }
        throw InternalError("kernel " + where + " applies " + std::string(ir::unary_op_name(op)) + " to a " +
                            type_name(t) + ": the frontend refuses it or computes it in f64");
    }
    switch (op) {
    case UnaryOp::Neg:
        return b.CreateNeg(x);
    case UnaryOp::Abs:
        return b.CreateIntrinsic(llvm::Intrinsic::abs, {x->getType()}, {x, b.getFalse()});
    case UnaryOp::Relu:
        return b.CreateBinaryIntrinsic(llvm::Intrinsic::smax, x, integer(x, 0));
    case UnaryOp::Sign: {
        Value *pos = b.CreateZExt(b.CreateICmpSGT(x, integer(x, 0)), x->getType());
        Value *neg = b.CreateZExt(b.CreateICmpSLT(x, integer(x, 0)), x->getType());
        return b.CreateSub(pos, neg);
    }
    default:
        throw InternalError("kernel " + where + " applies " + std::string(ir::unary_op_name(op)) + " to an " +
                            type_name(t) + ": the frontend computes it in f64");
    }
}

/** 1 or 0 of x's type. Floats compare ordered (false when either is NaN) except !=, which is
 * true for NaN: C's and numpy's meaning. Integers compare signed, or unsigned when `no_sign`. */
Value *compare(IRBuilderBase &b, BinaryOp op, Value *x, Value *y, bool is_float, bool no_sign = false) {
    using P = llvm::CmpInst::Predicate;
    P p = P::BAD_FCMP_PREDICATE;
    switch (op) {
    case BinaryOp::Lt:
        p = is_float ? P::FCMP_OLT : no_sign ? P::ICMP_ULT : P::ICMP_SLT;
        break;
    case BinaryOp::Le:
        p = is_float ? P::FCMP_OLE : no_sign ? P::ICMP_ULE : P::ICMP_SLE;
        break;
    case BinaryOp::Gt:
        p = is_float ? P::FCMP_OGT : no_sign ? P::ICMP_UGT : P::ICMP_SGT;
        break;
    case BinaryOp::Ge:
        p = is_float ? P::FCMP_OGE : no_sign ? P::ICMP_UGE : P::ICMP_SGE;
        break;
    case BinaryOp::Eq:
        p = is_float ? P::FCMP_OEQ : P::ICMP_EQ;
        break;
    case BinaryOp::Ne:
        p = is_float ? P::FCMP_UNE : P::ICMP_NE;
        break;
    default:
        throw InternalError("not a comparison");
    }
    Value *c = b.CreateCmp(p, x, y);
    return is_float ? b.CreateSelect(c, fp(x, 1.0), fp(x, 0.0)) : b.CreateZExt(c, x->getType());
}

Value *float_binary(IRBuilderBase &b, BinaryOp op, Value *x, Value *y) {
    switch (op) {
    case BinaryOp::Add:
        return b.CreateFAdd(x, y);
    case BinaryOp::Sub:
        return b.CreateFSub(x, y);
    case BinaryOp::Mul:
        return b.CreateFMul(x, y);
    case BinaryOp::Div:
        return b.CreateFDiv(x, y);
    case BinaryOp::Max:
        return b.CreateMaxNum(x, y); // lowers to vmaxps/vmaxpd + a NaN fix-up
    case BinaryOp::Min:
        return b.CreateMinNum(x, y);
    case BinaryOp::Pow:
        return b.CreateBinaryIntrinsic(llvm::Intrinsic::pow, x, y);
    default:
        return compare(b, op, x, y, true);
    }
}

/** Integer arithmetic wraps on overflow, as numpy's does: no nsw/nuw. bool (0 or 1) is numpy's
 * einsum of bools: + is or, * is and, max/min are or/and (umax/umin); it has no minus. */
Value *integer_binary(IRBuilderBase &b, BinaryOp op, Value *x, Value *y, DType t, const std::string &where) {
    const bool no_sign = is_unsigned(t);
    if (t == DType::Bool && op == BinaryOp::Sub)
        throw InternalError("kernel " + where + " subtracts bools: the frontend refuses it, as numpy does");
    switch (op) {
    case BinaryOp::Add:
        return t == DType::Bool ? b.CreateOr(x, y) : b.CreateAdd(x, y);
    case BinaryOp::Sub:
        return b.CreateSub(x, y);
    case BinaryOp::Mul:
        return t == DType::Bool ? b.CreateAnd(x, y) : b.CreateMul(x, y);
    case BinaryOp::Div: {
        Value *zero = b.CreateICmpEQ(y, integer(y, 0));
        if (no_sign) // udiv truncates; x / 0 is 0, like numpy
            return b.CreateSelect(zero, integer(y, 0), b.CreateUDiv(x, b.CreateSelect(zero, integer(y, 1), y)));
        // sdiv truncates toward zero. x / 0 and MIN / -1 are undefined behaviour in LLVM (a
        // trap on x86): divide by 1 instead and give 0 and -x (wrapped: MIN) like numpy.
        Value *minus_one = b.CreateICmpEQ(y, integer(y, -1));
        Value *safe = b.CreateSelect(b.CreateOr(zero, minus_one), integer(y, 1), y);
        Value *q = b.CreateSelect(minus_one, b.CreateNeg(x), b.CreateSDiv(x, safe));
        return b.CreateSelect(zero, integer(y, 0), q);
    }
    case BinaryOp::Max:
        return b.CreateBinaryIntrinsic(no_sign ? llvm::Intrinsic::umax : llvm::Intrinsic::smax, x, y);
    case BinaryOp::Min:
        return b.CreateBinaryIntrinsic(no_sign ? llvm::Intrinsic::umin : llvm::Intrinsic::smin, x, y);
    case BinaryOp::Pow:
        throw InternalError("kernel " + where + " raises an " + type_name(t) +
                            " to a power: the frontend computes pow in f64");
    default:
        return compare(b, op, x, y, false, no_sign);
    }
}

} // namespace

Value *unary_op(IRBuilderBase &b, UnaryOp op, Value *x, DType t, const std::string &where) {
    reject_16bit(t, where);
    return is_integer(t) ? integer_unary(b, op, x, t, where) : float_unary(b, op, x);
}

Value *binary_op(IRBuilderBase &b, BinaryOp op, Value *x, Value *y, DType t, const std::string &where) {
    reject_16bit(t, where);
    return is_integer(t) ? integer_binary(b, op, x, y, t, where) : float_binary(b, op, x, y);
}

Value *select_op(IRBuilderBase &b, Value *cond, Value *x, Value *y, DType t, const std::string &where) {
    reject_16bit(t, where);
    Value *nonzero = is_integer(t) ? b.CreateICmpNE(cond, integer(cond, 0)) : b.CreateFCmpUNE(cond, fp(cond, 0.0));
    return b.CreateSelect(nonzero, x, y);
}

const LibmSymbol *libm_symbols(std::size_t *count) {
    // Overloaded in C++'s global namespace: the cast picks the C function.
    using F = float (*)(float);
    using D = double (*)(double);
    using F2 = float (*)(float, float);
    using D2 = double (*)(double, double);
#define EINFUSE_LIBM(name, type)                                                                                       \
    { #name, reinterpret_cast < void *>(static_cast <type>(::name)) }
    static const LibmSymbol table[] = {
        EINFUSE_LIBM(expf, F),
        EINFUSE_LIBM(exp, D),
        EINFUSE_LIBM(exp2f, F),
        EINFUSE_LIBM(exp2, D),
        EINFUSE_LIBM(exp10f, F),
        EINFUSE_LIBM(exp10, D),
        EINFUSE_LIBM(logf, F),
        EINFUSE_LIBM(log, D),
        EINFUSE_LIBM(sqrtf, F),
        EINFUSE_LIBM(sqrt, D),
        EINFUSE_LIBM(sinf, F),
        EINFUSE_LIBM(sin, D),
        EINFUSE_LIBM(cosf, F),
        EINFUSE_LIBM(cos, D),
        EINFUSE_LIBM(floorf, F),
        EINFUSE_LIBM(floor, D),
        EINFUSE_LIBM(ceilf, F),
        EINFUSE_LIBM(ceil, D),
        EINFUSE_LIBM(tanhf, F),
        EINFUSE_LIBM(tanh, D),
        EINFUSE_LIBM(erfcf, F),
        EINFUSE_LIBM(erfc, D),
        EINFUSE_LIBM(powf, F2),
        EINFUSE_LIBM(pow, D2),
        EINFUSE_LIBM(sincosf, void (*)(float, float *, float *)),
        EINFUSE_LIBM(sincos, void (*)(double, double *, double *)),
    };
#undef EINFUSE_LIBM
    *count = sizeof table / sizeof table[0];
    return table;
}

Value *print_arith(IRBuilderBase &b, const ir::Expr &e, unsigned lanes, const std::function<Value *(const ir::Expr &)> &leaf,
                   const std::string &where) {
    auto print = [&](const ir::Expr &x) { return print_arith(b, x, lanes, leaf, where); };
    auto widen = [&](Value *v) { return v->getType()->isVectorTy() ? v : b.CreateVectorSplat(lanes, v); };
    if (const auto *c = e.as<ir::Const>()) return constant(b, c->type, c->value);
    if (const auto *c = e.as<ir::Cast>()) {
        DType from = c->value.type(), to = c->type;
        return per_lane(b, print(c->value), [&](Value *x) { return convert(b, x, from, to); });
    }
    if (const auto *u = e.as<ir::Unary>()) return unary_op(b, u->op, print(u->a), u->type, where);
    if (const auto *bin = e.as<ir::Binary>()) {
        Value *x = print(bin->a), *y = print(bin->b);
        if (x->getType()->isVectorTy() != y->getType()->isVectorTy()) x = widen(x), y = widen(y);
        return binary_op(b, bin->op, x, y, bin->type, where);
    }
    if (const auto *s = e.as<ir::Select>()) {
        // Both arms are evaluated (they have no side effects), then a `select`: no branch, so
        // loops stay vectorisable.
        Value *c = print(s->cond), *x = print(s->a), *y = print(s->b);
        if (c->getType()->isVectorTy() || x->getType()->isVectorTy() || y->getType()->isVectorTy())
            c = widen(c), x = widen(x), y = widen(y);
        return select_op(b, c, x, y, s->type, where);
    }
    return leaf(e);
}

} // namespace einfuse::llvm_backend
