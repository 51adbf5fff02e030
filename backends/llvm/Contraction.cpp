#include "backends/llvm/Contraction.h"

#include <llvm/ADT/STLExtras.h>
#include <llvm/IR/IRBuilder.h>
#include <llvm/IR/InstrTypes.h>
#include <llvm/IR/Instructions.h>
#include <llvm/IR/Intrinsics.h>
#include <llvm/IR/Module.h>

namespace einfuse::llvm_backend {

namespace {

/** v as a product that may fuse into its single user, or null. */
llvm::BinaryOperator *fusable_product(llvm::Value *v) {
    auto *mul = llvm::dyn_cast<llvm::BinaryOperator>(v);
    if (!mul || mul->getOpcode() != llvm::Instruction::FMul || !mul->hasAllowContract() || !mul->hasOneUse())
        return nullptr;
    return mul;
}

/** add as one llvm.fmuladd when one of its operands is a fusable product; true if rewritten.
 * The first operand's product wins when both are (a fixed rule: the printed order decides). */
bool fuse(llvm::BinaryOperator &add) {
    const bool sub = add.getOpcode() == llvm::Instruction::FSub;
    if ((!sub && add.getOpcode() != llvm::Instruction::FAdd) || !add.hasAllowContract()) return false;
    for (unsigned side : {0u, 1u}) {
        llvm::BinaryOperator *mul = fusable_product(add.getOperand(side));
        if (!mul) continue;
        llvm::IRBuilder<> b(&add);
        b.setFastMathFlags(add.getFastMathFlags());
        llvm::Value *x = mul->getOperand(0), *y = mul->getOperand(1), *z = add.getOperand(1 - side);
        if (sub && side == 0) z = b.CreateFNeg(z); // x*y - z = fma(x, y, -z), exactly
        if (sub && side == 1) x = b.CreateFNeg(x); // z - x*y = fma(-x, y, z), exactly
        llvm::Value *fma = b.CreateIntrinsic(llvm::Intrinsic::fmuladd, {add.getType()}, {x, y, z});
        fma->takeName(&add);
        add.replaceAllUsesWith(fma);
        add.eraseFromParent();
        mul->eraseFromParent();
        return true;
    }
    return false;
}

} // namespace

void make_contractions_explicit(llvm::Module &m) {
    for (llvm::Function &f : m)
        for (llvm::BasicBlock &block : f)
            for (llvm::Instruction &inst : llvm::make_early_inc_range(block))
                if (auto *op = llvm::dyn_cast<llvm::BinaryOperator>(&inst)) fuse(*op);
    for (llvm::Function &f : m)
        for (llvm::BasicBlock &block : f)
            for (llvm::Instruction &inst : block)
                if (llvm::isa<llvm::FPMathOperator>(inst) && inst.hasAllowContract()) inst.setHasAllowContract(false);
}

} // namespace einfuse::llvm_backend
