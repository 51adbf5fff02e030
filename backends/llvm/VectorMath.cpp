#include "backends/llvm/VectorMath.h"

#include <llvm/IR/Constants.h>
#include <llvm/IR/IRBuilder.h>
#include <llvm/IR/Intrinsics.h>

#include <cmath>

namespace einfuse::llvm_backend {

llvm::Value *exp_f32(llvm::IRBuilderBase &b, llvm::Value *x) {
    llvm::IRBuilderBase::FastMathFlagGuard keep(b);
    b.clearFastMathFlags(); // every FMA below is explicit, so scalar and vector code agree
    auto c = [&](double v) { return llvm::ConstantFP::get(x->getType(), v); };
    auto fma = [&](llvm::Value *p, llvm::Value *q, llvm::Value *r) {
        return b.CreateIntrinsic(llvm::Intrinsic::fma, {x->getType()}, {p, q, r});
    };
    const double hi = 88.72283935546875, lo = -103.97208404541015625;
    llvm::Value *xc = b.CreateBinaryIntrinsic(llvm::Intrinsic::maxnum,
                                              b.CreateBinaryIntrinsic(llvm::Intrinsic::minnum, x, c(hi)), c(lo));
    // x = n ln2 + r, |r| <= ln2 / 2; ln2 in two parts, so n * 0.693359375 is exact.
    llvm::Value *n = b.CreateUnaryIntrinsic(llvm::Intrinsic::rint, b.CreateFMul(xc, c(1.44269504088896341)));
    llvm::Value *r = fma(n, c(-0.693359375), xc);
    r = fma(n, c(2.12194440e-4), r);
    llvm::Value *p = c(1.9875691500e-4);
    for (double k : {1.3981999507e-3, 8.3334519073e-3, 4.1665795894e-2, 1.6666665459e-1, 5.0000001201e-1})
        p = fma(p, r, c(k));
    llvm::Value *y = b.CreateFAdd(fma(p, b.CreateFMul(r, r), r), c(1.0));
    // 2^n in two factors, each a normal float for n in [-150, 128]: exp(-103) is a denormal.
    llvm::Type *int_type = x->getType()->getWithNewType(b.getInt32Ty());
    llvm::Value *ni = b.CreateFPToSI(n, int_type);
    llvm::Value *half = b.CreateAShr(ni, llvm::ConstantInt::get(int_type, 1));
    auto pow2 = [&](llvm::Value *e) {
        llvm::Value *bits = b.CreateShl(b.CreateAdd(e, llvm::ConstantInt::get(int_type, 127)),
                                        llvm::ConstantInt::get(int_type, 23));
        return b.CreateBitCast(bits, x->getType());
    };
    llvm::Value *result = b.CreateFMul(b.CreateFMul(y, pow2(half)), pow2(b.CreateSub(ni, half)));
    result = b.CreateSelect(b.CreateFCmpOGT(x, c(hi)), c(INFINITY), result);
    result = b.CreateSelect(b.CreateFCmpOLT(x, c(lo)), c(0.0), result);
    return b.CreateSelect(b.CreateFCmpUNO(x, x), x, result);
}

llvm::Value *per_lane(llvm::IRBuilderBase &b, llvm::Value *x, const std::function<llvm::Value *(llvm::Value *)> &f) {
    auto *vector = llvm::dyn_cast<llvm::FixedVectorType>(x->getType());
    if (!vector) return f(x);
    llvm::Value *out = nullptr;
    for (unsigned lane = 0; lane < vector->getNumElements(); ++lane) {
        llvm::Value *y = f(b.CreateExtractElement(x, lane));
        if (!out) out = llvm::PoisonValue::get(llvm::FixedVectorType::get(y->getType(), vector->getNumElements()));
        out = b.CreateInsertElement(out, y, lane);
    }
    return out;
}

} // namespace einfuse::llvm_backend
