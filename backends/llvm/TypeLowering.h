#pragma once
// Element types in LLVM IR: how each einfuse DType is held, its constants, and numpy's casts
// between them. Internal to backends/llvm/ (CodeGen.cpp is its only user).
//
// f16 and bf16 are held as their 16-bit patterns (i16) and converted with integer arithmetic,
// not as LLVM's `half`/`bfloat`: on an x86-64 without F16C or AVX512-BF16 LLVM lowers those
// conversions to libcalls (__extendhfsf2, __truncsfhf2, __truncsfbf2, and __truncdfhf2 even with
// F16C) that the JIT would have to resolve, with a half-in-XMM ABI, and gcc 12's libgcc lacks the
// bf16 ones. Bit arithmetic is the same code on every CPU, needs no symbol, vectorises with
// integer SIMD and rounds exactly like support/Half.cpp (round to nearest even).
#include "support/DType.h"

namespace llvm {
class IRBuilderBase;
class LLVMContext;
class Type;
class Value;
} // namespace llvm

namespace einfuse::llvm_backend {

/** The LLVM type of t in memory and in registers: half/bfloat bits as i16, float, double, and the
 * integers by width (i8 for bool, 0 or 1). Signedness lives in the operations, not the type. */
llvm::Type *lowered_type(llvm::LLVMContext &ctx, DType t);
/** The constant `value` in t, rounded to nearest even. For integer types value is integral, and
 * +-infinity means t's max/min (the identity of max/min reductions; bool's are 1 and 0). */
llvm::Value *constant(llvm::IRBuilderBase &b, DType t, double value);
/** v, of type `from`, cast to `to` as numpy does: float to float rounds to nearest even (once,
 * also f64 -> f16), float to integer truncates toward zero (then saturates and wraps: see
 * TypeLowering.cpp; NaN gives 0), integer to float converts, integer to integer wraps, anything
 * to bool is != 0. */
llvm::Value *convert(llvm::IRBuilderBase &b, llvm::Value *v, DType from, DType to);

} // namespace einfuse::llvm_backend
