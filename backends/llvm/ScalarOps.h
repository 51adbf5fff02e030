#pragma once
// The IR's arithmetic on one value of each operand, in LLVM IR: Unary, Binary and Select on f32,
// f64, i32 and i64, with the float64 reference's meaning (ir/Reference.cpp). Internal to
// backends/llvm/: the loop-nest printer (CodeGen.cpp) and the packed GEMM's epilogue
// (GemmCodeGen.cpp) share it.
//
// Float ops use LLVM's intrinsics where one exists (llvm.exp, llvm.sqrt, llvm.pow, ...), so the
// optimiser knows them; tanh and erfc have none and are calls to libm (tanhf/tanh, erfcf/erfc),
// which HostJit.cpp makes resolvable. Integer arithmetic wraps, as numpy's does. Ops that the
// frontend only emits in floating point (exp on an i32, integer pow) and any arithmetic on
// f16/bf16 bit patterns throw InternalError rather than print wrong code.
#include "ir/Expr.h"

#include <functional>
#include <string>

namespace llvm {
class IRBuilderBase;
class Value;
} // namespace llvm

namespace einfuse::llvm_backend {

/** op(x), x of type t. `where` names the kernel in error messages. */
llvm::Value *unary_op(llvm::IRBuilderBase &b, ir::UnaryOp op, llvm::Value *x, DType t, const std::string &where);
/** x op y, both of type t; comparisons give 1 or 0 of type t. */
llvm::Value *binary_op(llvm::IRBuilderBase &b, ir::BinaryOp op, llvm::Value *x, llvm::Value *y, DType t,
                       const std::string &where);
/** cond != 0 ? x : y, all of type t (a NaN condition is != 0, as in C). */
llvm::Value *select_op(llvm::IRBuilderBase &b, llvm::Value *cond, llvm::Value *x, llvm::Value *y, DType t,
                       const std::string &where);

/** Prints e: Const, Cast, Unary, Binary and Select here, with the ops above (both printers of
 * the backend, the loop nest's and the packed GEMM's epilogue, share it); every other node
 * (Access, ScalarRef, Reduce) is `leaf`'s. Values are scalars or vectors of `lanes` lanes; an
 * operation that mixes them splats the scalars. */
llvm::Value *print_arith(llvm::IRBuilderBase &b, const ir::Expr &e, unsigned lanes,
                         const std::function<llvm::Value *(const ir::Expr &)> &leaf, const std::string &where);

/** The libm functions that code from this backend may call, directly or once LLVM lowers an
 * intrinsic to a libcall (llvm.exp -> expf, and so on), with their addresses in this process:
 * HostJit.cpp defines them in the JIT so that they resolve however the host binary was linked. */
struct LibmSymbol {
    const char *name;
    void *address;
};
const LibmSymbol *libm_symbols(std::size_t *count);

} // namespace einfuse::llvm_backend
