#include "backends/llvm/TypeLowering.h"

#include "support/Error.h"

#include <llvm/IR/Constants.h>
#include <llvm/IR/IRBuilder.h>
#include <llvm/IR/Intrinsics.h>

#include <cmath>
#include <limits>

namespace einfuse::llvm_backend {

namespace {

using llvm::IRBuilderBase;
using llvm::Value;

bool is_16bit_float(DType t) { return t == DType::F16 || t == DType::BF16; }

/** f16 bits -> f32, exact. The same cases as support/Half.cpp:
 *   exp 0x1f  inf/nan:    sign | 0x7f800000 | mant << 13
 *   exp 0     subnormal:  sign | bits(float(mant) * 2^-24)   (a normal float: immune to DAZ)
 *   otherwise normal:     sign | ((exp + 112) << 23 | mant << 13) = sign | (h & 0x7fff) << 13 + 112 << 23 */
Value *half_to_f32(IRBuilderBase &b, Value *h) {
    Value *h32 = b.CreateZExt(h, b.getInt32Ty());
    Value *sign = b.CreateShl(b.CreateAnd(h32, 0x8000), 16);
    Value *em = b.CreateAnd(h32, 0x7fff);
    Value *exp = b.CreateLShr(em, 10);
    Value *mant = b.CreateAnd(h32, 0x3ff);
    Value *normal = b.CreateAdd(b.CreateShl(em, 13), b.getInt32(112u << 23));
    Value *special = b.CreateOr(b.CreateShl(em, 13), 0x7f800000);
    Value *tiny = b.CreateFMul(b.CreateUIToFP(mant, b.getFloatTy()), llvm::ConstantFP::get(b.getFloatTy(), 0x1p-24));
    Value *subnormal = b.CreateBitCast(tiny, b.getInt32Ty());
    Value *mag = b.CreateSelect(b.CreateICmpEQ(exp, b.getInt32(0x1f)), special, normal);
    mag = b.CreateSelect(b.CreateICmpEQ(exp, b.getInt32(0)), subnormal, mag);
    return b.CreateBitCast(b.CreateOr(mag, sign), b.getFloatTy());
}

/** bf16 bits -> f32, exact: bf16 is the upper half of an f32. */
Value *bf16_to_f32(IRBuilderBase &b, Value *h) {
    return b.CreateBitCast(b.CreateShl(b.CreateZExt(h, b.getInt32Ty()), 16), b.getFloatTy());
}

/** f32 -> f16 bits, round to nearest even, as support/Half.cpp's float_to_half:
 *   |f| nan               -> sign | 0x7e00
 *   |f| >= 65520          -> sign | 0x7c00 (inf)
 *   |f| < 2^-14           -> the float adder rounds |f| + 0.5 at the half's subnormal step 2^-24
 *   otherwise             -> rebias the exponent and round: (|u| - (112 << 23) + 0xfff + odd) >> 13 */
Value *f32_to_half(IRBuilderBase &b, Value *f) {
    Value *u = b.CreateBitCast(f, b.getInt32Ty());
    Value *sign = b.CreateAnd(b.CreateLShr(u, 16), 0x8000);
    Value *abs = b.CreateAnd(u, 0x7fffffff);
    llvm::Constant *half_one = llvm::ConstantFP::get(b.getFloatTy(), 0.5);
    Value *shifted = b.CreateFAdd(b.CreateBitCast(abs, b.getFloatTy()), half_one);
    Value *subnormal = b.CreateSub(b.CreateBitCast(shifted, b.getInt32Ty()), b.getInt32(0x3f000000));
    Value *odd = b.CreateAnd(b.CreateLShr(abs, 13), 1);
    Value *normal = b.CreateLShr(b.CreateAdd(b.CreateAdd(abs, b.getInt32(0xc8000fffu)), odd), 13);
    Value *mag = b.CreateSelect(b.CreateICmpULT(abs, b.getInt32(0x38800000)), subnormal, normal);
    mag = b.CreateSelect(b.CreateICmpUGE(abs, b.getInt32(0x477ff000)), b.getInt32(0x7c00), mag);
    mag = b.CreateSelect(b.CreateICmpUGT(abs, b.getInt32(0x7f800000)), b.getInt32(0x7e00), mag);
    return b.CreateTrunc(b.CreateOr(mag, sign), b.getInt16Ty());
}

/** f32 -> bf16 bits, round to nearest even: (u + 0x7fff + odd) >> 16; a nan stays a (quiet) nan. */
Value *f32_to_bf16(IRBuilderBase &b, Value *f) {
    Value *u = b.CreateBitCast(f, b.getInt32Ty());
    Value *high = b.CreateLShr(u, 16);
    Value *rounded = b.CreateLShr(b.CreateAdd(u, b.CreateAdd(b.CreateAnd(high, 1), b.getInt32(0x7fff))), 16);
    Value *nan = b.CreateICmpUGT(b.CreateAnd(u, 0x7fffffff), b.getInt32(0x7f800000));
    return b.CreateTrunc(b.CreateSelect(nan, b.CreateOr(high, 0x40), rounded), b.getInt16Ty());
}

/** f64 -> f32 rounded to odd: truncate toward zero, then set the last bit if anything was lost.
 * Rounding that to f16/bf16 (11 and 8 bits, far fewer than f32's 24 - 2) gives the correctly
 * rounded result; rounding to nearest twice does not:
 *   1 + 2^-11 + 2^-40  -> f32 (nearest) 1 + 2^-11 -> f16 tie, to even: 1.0           (wrong)
 *                      -> f32 (odd) 1 + 2^-11 + 2^-23 -> f16 1 + 2^-10                (right) */
Value *f64_to_f32_odd(IRBuilderBase &b, Value *d) {
    Value *r = b.CreateFPTrunc(d, b.getFloatTy()); // nearest even
    Value *back = b.CreateFPExt(r, b.getDoubleTy());
    Value *inexact = b.CreateFCmpONE(back, d); // false for nan
    Value *away =
        b.CreateXor(b.CreateFCmpOGT(back, d), b.CreateFCmpOLT(d, llvm::ConstantFP::get(b.getDoubleTy(), 0.0)));
    Value *rb = b.CreateBitCast(r, b.getInt32Ty());
    Value *odd = b.CreateOr(b.CreateSub(rb, b.CreateZExt(away, b.getInt32Ty())), 1); // |r| - 1 ulp if it grew
    return b.CreateSelect(inexact, b.CreateBitCast(odd, b.getFloatTy()), r);
}

} // namespace

bool is_integer(DType t) { return t == DType::I32 || t == DType::I64; }

llvm::Type *lowered_type(llvm::LLVMContext &ctx, DType t) {
    switch (t) {
    case DType::F16:
    case DType::BF16:
        return llvm::Type::getInt16Ty(ctx);
    case DType::F32:
        return llvm::Type::getFloatTy(ctx);
    case DType::F64:
        return llvm::Type::getDoubleTy(ctx);
    case DType::I32:
        return llvm::Type::getInt32Ty(ctx);
    case DType::I64:
        return llvm::Type::getInt64Ty(ctx);
    }
    throw InternalError("unknown element type");
}

llvm::Value *constant(IRBuilderBase &b, DType t, double value) {
    llvm::Type *type = lowered_type(b.getContext(), t);
    if (is_integer(t)) {
        auto *int_type = llvm::cast<llvm::IntegerType>(type);
        if (std::isinf(value))
            return llvm::ConstantInt::get(b.getContext(),
                                          value > 0 ? llvm::APInt::getSignedMaxValue(int_type->getBitWidth())
                                                    : llvm::APInt::getSignedMinValue(int_type->getBitWidth()));
        double lo = t == DType::I32 ? -0x1p31 : -0x1p63;
        EINFUSE_ASSERT(value == std::trunc(value) && value >= lo && value < -lo,
                       "constant " + std::to_string(value) + " is no " + std::string(dtype_name(t)));
        return llvm::ConstantInt::getSigned(type, static_cast<int64_t>(value));
    }
    if (is_16bit_float(t)) // the builder folds the conversion into an i16 constant
        return convert(b, llvm::ConstantFP::get(b.getDoubleTy(), value), DType::F64, t);
    return llvm::ConstantFP::get(type, value); // rounds to nearest even
}

/** Every cast goes through at most one rounding:
 *   f16/bf16 -> X       widen to f32 (exact), then f32 -> X
 *   X -> f16/bf16       integers via f64 (exact for i32), f64 via f32 rounded to odd, then round once
 *   float <-> float     fpext / fptrunc (nearest even)
 *   float -> integer    llvm.fptosi.sat: truncates toward zero; out of range saturates and nan
 *                       gives 0, where a plain fptosi would be poison (numpy leaves it undefined)
 *   integer -> float    sitofp;  integer -> integer: sext / trunc (wraps, as numpy) */
llvm::Value *convert(IRBuilderBase &b, llvm::Value *v, DType from, DType to) {
    if (from == to) return v;
    IRBuilderBase::FastMathFlagGuard keep(b);
    b.clearFastMathFlags(); // bit tricks need IEEE arithmetic, and must never fuse into an FMA
    if (from == DType::F16) v = half_to_f32(b, v), from = DType::F32;
    if (from == DType::BF16) v = bf16_to_f32(b, v), from = DType::F32;
    if (from == to) return v;
    if (is_16bit_float(to)) {
        if (is_integer(from)) v = b.CreateSIToFP(v, b.getDoubleTy()), from = DType::F64;
        if (from == DType::F64) v = f64_to_f32_odd(b, v);
        return to == DType::F16 ? f32_to_half(b, v) : f32_to_bf16(b, v);
    }
    llvm::Type *type = lowered_type(b.getContext(), to);
    if (is_integer(from) && is_integer(to)) return b.CreateSExtOrTrunc(v, type);
    if (is_integer(from)) return b.CreateSIToFP(v, type);
    if (is_integer(to)) return b.CreateIntrinsic(llvm::Intrinsic::fptosi_sat, {type, v->getType()}, {v});
    return b.CreateFPCast(v, type);
}

} // namespace einfuse::llvm_backend
