#pragma once
// A GPU kernel's variants as data: in priority order, each with its guard and its launch
// configuration as launch rules (LaunchRule.h). passes/GpuLaunchRules fills them; the CUDA
// backend prints them into the standalone launcher (the first variant whose guard holds is
// launched) and the in-process executor evaluates the very same objects.
#include "ir/LaunchRule.h"
#include "support/DType.h"

#include <optional>

namespace einfuse::ir {

struct Kernel;

enum class VariantKind {
    Plain,     // the loop nest, a thread per output point, grid-stride: always runs; the list's last
    Staged,    // ir::Staging: inputs staged through shared memory
    Tiled,     // ir::Tiling: the reduced operands tiled through shared memory, maybe split
    GemmTiled, // ir::Gemm: the emitted tiled GEMM, one kernel per tile shape
    GemmSmall, // ir::Gemm planned with sizes: the small dense batched GEMM
    Library,   // ir::Gemm with a library epilogue: cuBLASLt, in-process only (never printed)
};

/** The kernel that folds a split reduction's parts (ir::Tiling::combine), launched after the
 * tiled kernel when its split count exceeds 1. Its arguments: the kernel's inputs, the parts,
 * `part_args` (the parts' point count and their stride per parallel variable), the outputs,
 * the sizes and the split count. */
struct CombineLaunch {
    std::string kernel;
    SizeExpr grid, block;
    std::vector<SizeExpr> part_args;
    DType partial = DType::F32; // the parts' element type
};

struct LaunchVariant {
    VariantKind kind = VariantKind::Plain;
    std::string suffix;  // the __global__ entry point is the kernel's name + suffix ("_staged"); Library: none
    std::string note;    // what it is and when it runs, for the launcher's comment
    SizeExpr guard;      // it may run where this is nonzero (constant 1: always)
    SizeExpr grid;       // blocks along x (the kernels' grid-stride loops cover the rest)
    SizeExpr block;      // threads per block
    SizeExpr splits;     // blocks along y: the parts of a split reduction (constant 1: none)
    int64_t shared_bytes = 0; // dynamic shared memory; every variant today uses static only
    std::optional<CombineLaunch> combine;
    /** A size-specialised variant (passes/GpuSpecialise): the kernel, planned for the sizes its
     * guard tests, whose code it launches; its name is this kernel's plus a tag ("_at_2x2x2"),
     * and `suffix` is that tag plus the variant's own ("_at_2x2x2_staged"). Its parameters and
     * sizes are this kernel's. Null: this kernel's own code. */
    std::shared_ptr<const Kernel> code;

    std::string entry(const std::string &kernel_name) const { return kernel_name + suffix; }
};

/** The number of points of the parallel loops, named `total` in the printed launcher (which
 * computes it with an overflow check before any rule runs; rules run only when it is > 0). */
SizeExpr total_work(const std::vector<std::string> &parallel_vars);

/** The first variant of `variants` (in order) whose guard holds for `facts`, skipping those
 * `skip` rejects; null when none. */
const LaunchVariant *choose_variant(const std::vector<LaunchVariant> &variants, const LaunchFacts &facts,
                                    bool (*skip)(const LaunchVariant &) = nullptr);

std::string_view variant_kind_name(VariantKind k); // "plain", "staged", ...

} // namespace einfuse::ir
