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

llvm::Type *lowered_type(llvm::LLVMContext &ctx, DType t) {
    switch (t) {
    case DType::F16:
    case DType::BF16:
        return llvm::Type::getInt16Ty(ctx);
    case DType::F32:
        return llvm::Type::getFloatTy(ctx);
    case DType::F64:
        return llvm::Type::getDoubleTy(ctx);
    case DType::Bool: // one byte, 0 or 1, as numpy and DLPack store it
    case DType::I8:
    case DType::U8:
        return llvm::Type::getInt8Ty(ctx);
    case DType::I16:
    case DType::U16:
        return llvm::Type::getInt16Ty(ctx);
    case DType::I32:
    case DType::U32:
        return llvm::Type::getInt32Ty(ctx);
    case DType::I64:
    case DType::U64:
        return llvm::Type::getInt64Ty(ctx);
    case DType::C64:
    case DType::C128:
        break; // split into real parts before any backend (passes/SplitComplex)
    }
    throw InternalError("unknown element type");
}

llvm::Value *constant(IRBuilderBase &b, DType t, double value) {
    llvm::Type *type = lowered_type(b.getContext(), t);
    if (is_integer(t)) {
        unsigned bits = llvm::cast<llvm::IntegerType>(type)->getBitWidth();
        if (t == DType::Bool) bits = 1; // its max is 1
        if (std::isinf(value)) {
            llvm::APInt limit = is_unsigned(t) ? (value > 0 ? llvm::APInt::getMaxValue(bits) : llvm::APInt::getMinValue(bits))
                                               : (value > 0 ? llvm::APInt::getSignedMaxValue(bits)
                                                            : llvm::APInt::getSignedMinValue(bits));
            return llvm::ConstantInt::get(type, limit.zext(llvm::cast<llvm::IntegerType>(type)->getBitWidth()));
        }
        EINFUSE_ASSERT(value == std::trunc(value) && wrap_to(t, value) == value,
                       "constant " + std::to_string(value) + " is no " + std::string(dtype_name(t)));
        if (is_unsigned(t)) return llvm::ConstantInt::get(type, static_cast<uint64_t>(value));
        return llvm::ConstantInt::getSigned(type, static_cast<int64_t>(value));
    }
    if (is_16bit_float(t)) // the builder folds the conversion into an i16 constant
        return convert(b, llvm::ConstantFP::get(b.getDoubleTy(), value), DType::F64, t);
    return llvm::ConstantFP::get(type, value); // rounds to nearest even
}

namespace {
/** A float to an integer type, as numpy does on x86 (numpy leaves out-of-range values undefined;
 * einfuse defines them, the same on both targets and in the reference): truncate toward zero,
 * saturate at the range of the type the conversion goes through (i32 for 8 and 16 bits and i32,
 * i64 for u32 and i64; u64 from i64 below 2^63 and u64 above), then keep the low bits: -1.0 to
 * u8 is 255 and 300.0 to u8 is 44, as numpy's astype gives on x86; NaN gives 0 (the saturating
 * intrinsics' rule, where a plain fptosi would be poison). */
Value *float_to_integer(IRBuilderBase &b, Value *v, DType to) {
    llvm::Type *type = lowered_type(b.getContext(), to);
    auto sat = [&](llvm::Intrinsic::ID id, llvm::Type *through) {
        return b.CreateIntrinsic(id, {through, v->getType()}, {v});
    };
    if (to == DType::U64) {
        Value *high = b.CreateFCmpOGE(v, llvm::ConstantFP::get(v->getType(), 0x1p63));
        return b.CreateSelect(high, sat(llvm::Intrinsic::fptoui_sat, type), sat(llvm::Intrinsic::fptosi_sat, type));
    }
    llvm::Type *through = (to == DType::I64 || to == DType::U32) ? b.getInt64Ty() : b.getInt32Ty();
    return b.CreateTrunc(sat(llvm::Intrinsic::fptosi_sat, through), type);
}
} // namespace

/** Every cast goes through at most one rounding:
 *   f16/bf16 -> X       widen to f32 (exact), then f32 -> X
 *   X -> f16/bf16       integers via f64 (exact up to 32 bits), f64 via f32 rounded to odd, then
 *                       round once
 *   float <-> float     fpext / fptrunc (nearest even)
 *   X -> bool           x != 0 (NaN is true, as numpy's astype(bool))
 *   float -> integer    float_to_integer: truncate, saturate, keep the low bits
 *   integer -> float    sitofp, uitofp for the unsigned types
 *   integer -> integer  sext (zext from unsigned) or trunc: wraps, as numpy */
llvm::Value *convert(IRBuilderBase &b, llvm::Value *v, DType from, DType to) {
    if (from == to) return v;
    IRBuilderBase::FastMathFlagGuard keep(b);
    b.clearFastMathFlags(); // bit tricks need IEEE arithmetic, and must never fuse into an FMA
    if (from == DType::F16) v = half_to_f32(b, v), from = DType::F32;
    if (from == DType::BF16) v = bf16_to_f32(b, v), from = DType::F32;
    if (from == to) return v;
    auto int_to_float = [&](llvm::Type *type) {
        return is_unsigned(from) ? b.CreateUIToFP(v, type) : b.CreateSIToFP(v, type);
    };
    if (is_16bit_float(to)) {
        if (is_integer(from)) v = int_to_float(b.getDoubleTy()), from = DType::F64;
        if (from == DType::F64) v = f64_to_f32_odd(b, v);
        return to == DType::F16 ? f32_to_half(b, v) : f32_to_bf16(b, v);
    }
    llvm::Type *type = lowered_type(b.getContext(), to);
    if (to == DType::Bool) {
        Value *nonzero = is_integer(from) ? b.CreateICmpNE(v, llvm::ConstantInt::get(v->getType(), 0))
                                          : b.CreateFCmpUNE(v, llvm::ConstantFP::get(v->getType(), 0.0));
        return b.CreateZExt(nonzero, type);
    }
    if (is_integer(from) && is_integer(to))
        return is_unsigned(from) ? b.CreateZExtOrTrunc(v, type) : b.CreateSExtOrTrunc(v, type);
    if (is_integer(from)) return int_to_float(type);
    if (is_integer(to)) return float_to_integer(b, v, to);
    return b.CreateFPCast(v, type);
}

} // namespace einfuse::llvm_backend
