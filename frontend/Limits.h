#pragma once
// The sizes of a program or an einsum that einfuse accepts; docs/language.md lists them. Hostile
// or generated input reaches every recursive walk (parser, IR builders, verifier, printers,
// passes, LLVM), and planning work grows with operands and rank: past these an input gets a
// diagnostic at once instead of a crash on a small thread stack or minutes of work.
namespace einfuse::frontend {

/** Nesting of one expression: parentheses, unary minus, '^', calls, reductions, bracketed
 * indices. The parser takes about 2 KiB of stack a level (Release), the most of any walk. */
constexpr int kMaxNesting = 96;
/** Depth of an expression's tree, where a chain a + b + c + ... counts one per operator; what
 * the walks after parsing (IR, passes, LLVM) recurse over, under 1 KiB a level. With
 * kMaxNesting, an expression at both limits parses, lowers and JIT-compiles on a 256 KiB
 * thread stack. */
constexpr int kMaxExpressionDepth = 192;
/** Dimensions of one tensor (numpy's NPY_MAXDIMS before 2.0), '...' expanded. */
constexpr int kMaxRank = 32;
/** Operands of one einsum. */
constexpr int kMaxOperands = 1024;
/** Distinct index variables of one einsum or one statement (a 64-bit set each in planning). */
constexpr int kMaxIndexVariables = 64;

} // namespace einfuse::frontend
