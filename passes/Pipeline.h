#pragma once
// The lowering pipeline, one readable function: Program -> verified -> strategy per contraction
// -> loop nests, through a PassManager (PassManager.h): EINFUSE_PRINT_AFTER=<pass>|all prints the
// IR after a pass, EINFUSE_DEBUG=2 after every pass, EINFUSE_TIME_PASSES=1 the timings.
#include "ir/Kernel.h"
#include "passes/GpuWorkspace.h"
#include "ir/SizeGuard.h"

namespace einfuse::passes {

struct Plan {
    ir::Program program;             // as lowered: after contraction order, with its temporaries
    std::vector<ir::Kernel> kernels; // in the order they run
    std::vector<std::string> notes;  // decisions about the whole program (contraction order)
    ir::Target target;               // the machine it was planned for
    WorkspaceLayout workspace;       // the GPU: temporaries and split parts in the entry point's workspace
    /** The sizes it was planned for, and every fact about sizes its passes relied on
     * (passes/Sizes.h): its shape class. For other sizes where every guard holds, lower() gives
     * this plan again (its messages aside, which quote the sizes it was made for), so it and its
     * compiled code serve them: the kernels take every size as an argument. */
    ir::Extents sizes;
    std::vector<ir::SizeGuard> guards;
    bool serves(const ir::Extents &other) const { return ir::all_hold(guards, other); }
    /** "b free; i == 3, j == 3, ...": the guards, for tests and debugging. */
    std::string shape_class() const;
    /** The text of --emit plan: each kernel, its strategy, its loop nest, and why the other
     * strategies were not chosen. */
    std::string explain() const;
};

/** Where the plan runs: the strategies' costs differ (passes/strategy/). */
using Device = ir::DeviceKind;

/** Which code runs a GEMM kernel (--gemm). Auto: the cost model's choice (the GPU: the small
 * dense variant where it fits, else cuBLASLt where its epilogue and the strides fit, else the
 * emitted tiled kernel; the host: the packed GEMM where it can). The others force one where it can
 * run, for tests and benchmarks: Library tries cuBLASLt first, Emitted never, LoopNest runs the
 * plain loop nest on either target. */
enum class GemmRunner { Auto, Library, Emitted, LoopNest };

/** What the passes plan for: the machine (its facts as data) and the choices the user makes
 * rather than the cost model. */
struct LowerOptions {
    /** The device and its facts (ir/Target.h). By default an AVX2 host; for_device(Gpu): the
     * table's sm_90 row (an H100/H200). The api fills it from the real machine. */
    ir::Target target = ir::Target::host(256);
    bool allow_tf32 = false; // f32 GEMMs may round their inputs to tf32 (tensor cores; about 3 digits)
    GemmRunner gemm = GemmRunner::Auto;
    int threads = 0; // host worker threads (--threads); 0: the target's cores, fewer for small calls

    static LowerOptions for_device(Device device);
};

/** The program as its kernels compute it: verified, simplified, producers fused, contractions
 * of three or more operands ordered into steps with temporaries (lower()'s first passes); their
 * decisions are appended to notes. */
ir::Program prepare(const ir::Program &program, const ir::Extents &sizes, std::vector<std::string> &notes);

/** `sizes` are the index sizes to plan for, where known (the contraction order and the unrolled
 * strategy depend on them). */
Plan lower(const ir::Program &program, const ir::Extents &sizes, const LowerOptions &options);
/** The same for the default target of `device`. */
Plan lower(const ir::Program &program, const ir::Extents &sizes = {}, Device device = Device::Host);

} // namespace einfuse::passes
