#pragma once
// The host's vector width and kernel variant, per kernel and per CPU: recorded in
// ir::Kernel::host_vectors with the reason, printed by --emit plan, obeyed by backends/llvm
// (function attributes "prefer-vector-width", "+prefer-no-gather,+prefer-no-scatter", and
// "-avx512f"/"-avx" when the user narrowed the target).
#include "ir/Kernel.h"

namespace einfuse::passes {

/** The widest vectors an unrolled kernel uses: it moves each batch element's contiguous slice
 * through whole-vector loads and shuffles, at the memory limit at 256 bits already (measured in
 * docs/performance.md, "Host vectors per CPU"), and wider shuffles cross more 128-bit lanes.
 * Except on a CPU measured to run rows of 512 bits faster in 512-bit vectors (znver4). */
constexpr int kUnrolledVectorBits = 256;

/** Decides k.host_vectors for `target` (a host target; a GPU kernel is returned unchanged):
 *   unrolled, elementwise: LLVM's vectorisers choose the loads; gathers and scatters are off, so a
 *     batch element's slice is loaded as whole vectors and rearranged with shuffles (interleaved
 *     groups) or SLP row vectors, whatever the CPU's gather speed; unrolled at most
 *     kUnrolledVectorBits wide (128, no AVX, where the output rows are 128 bits on a CPU measured to
 *     run those faster so: znver3; 512 where the rows fill 512-bit vectors on a CPU measured to run
 *     those faster so: znver4); an unrolled kernel whose output rows fill a vector (D >= 8 in f32)
 *     is vectorised along its rows and keeps LLVM's default cost model (no gather arises there);
 *   broadcast-reduce (and a GEMM's loop nest): lanes across the parallel loop at the target's
 *     width; reads that vary across lanes are gathered on purpose (passes/ReductionLanes may then
 *     put the lanes along the sum instead);
 *   packed GEMM: the micro-kernel's width (ir::Gemm::host_vector_bits).
 * The width never exceeds target.vector_bits (EINFUSE_HOST_VECTOR_BITS narrows it). */
ir::Kernel choose_host_vectors(ir::Kernel k, const ir::Target &target);

/** The plan's line for it: "256-bit vectors (CPU rocketlake: 512), gathers and scatters off: ...". */
std::string describe_host_vectors(const ir::HostVectors &v, const ir::Target &target);

} // namespace einfuse::passes
