#pragma once
// Which multiply-adds fuse into one FMA, decided once on the printed IR. Internal to
// backends/llvm/ (HostJit.cpp runs it on every module before optimising).
namespace llvm {
class Module;
}

namespace einfuse::llvm_backend {

/** Rewrites each `x * y + z`, `x * y - z` and `z - x * y` whose product is used once into
 * `llvm.fmuladd` (one rounding), then clears the `contract` flag everywhere, so that no later
 * choice fuses anything else.
 *
 * Why not leave it to the flags: with `contract` on the instructions, the code generator fuses
 * a multiply and an add when it sees them together, and what it sees depends on the vector
 * width. A lane loop's vector body and its scalar tail then round the same expression
 * differently, and a result depends on which rows fall in the tail, that is on the thread
 * count. Seen on an AMD Zen 5 (znver5): the f64 Gaussian sum differed in the last bit between
 * 1, 2 and 3 threads. `llvm.fmuladd` is lowered to an FMA for every width on a CPU with FMA
 * (and to a multiply and an add for every width without), so each row rounds the same way
 * whichever loop computes it. */
void make_contractions_explicit(llvm::Module &m);

} // namespace einfuse::llvm_backend
