#pragma once
// The LLVM host backend: kernels JIT-compiled for this machine's CPU (its own vector width:
// AVX2, AVX-512), or printed as optimised LLVM IR. No LLVM header leaks from here, so users of
// the API compile fast.
#include "ir/Kernel.h"
#include "support/Error.h"

#include <atomic>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace einfuse::llvm_backend {

/** A compiled kernel, in the calling convention of ir/Kernel.h:
 *   data[p]     base pointer of params[p] (inputs, then outputs), of its dtype
 *   strides     each param's `rank` strides in elements, concatenated in param order; any value,
 *               0 for a broadcast dimension
 *   extents[v]  extent of index_vars[v]
 *   begin, end  the range of the outermost loop, when it is parallel (the caller splits it across
 *               threads; clamped to [0, extent)); ignored when the body starts otherwise.
 * Outputs must not overlap inputs or each other: the code assumes it. */
using HostKernelFn = void (*)(void *const *data, const int64_t *strides, const int64_t *extents, int64_t begin,
                              int64_t end);

/** How much LLVM does for a kernel: compile time against run time. */
enum class CodeTier {
    /** Memory to registers, CSE, InstCombine and SimplifyCFG, then code generation at -O1: a
     * few milliseconds a kernel. For a first call, where compiling is most of the time; the code
     * of kernels whose lanes the printer writes itself (lanes along a sum) runs as fast as Full's.
     * A packed GEMM's cold code is its own pipeline without the loop unrolling. */
    Cold,
    /** Cold's passes, then code generation at -O0 (LLVM's fast instruction selection and register
     * allocation): half Cold's compile time or less, code up to 2x slower. For kernels whose
     * runs are short (exec/HostTiers: loop nests of at most kColdIterations, lanes kernels of at
     * most kColdSmallLaneIterations), where compiling is the time. */
    ColdSmall,
    /** LLVM's O2 with both vectorisers: kernels that run few iterations. */
    Quick,
    /** LLVM's O3 with both vectorisers, code generation at -O3. */
    Full,
};

/** What a caller asks of a compile in progress. */
struct CompileControl {
    const std::atomic<bool> *cancel = nullptr; // set: stop as soon as LLVM allows
    int threads = 0;                           // modules compiled at once; 0: one per core
};

/** A compile stopped through CompileControl::cancel. */
struct CompileCancelled : TargetError {
    CompileCancelled() : TargetError("host backend: the compile was cancelled") {}
};

/** Kernels compiled by LLVM's O3 pipeline and ORC's LLJIT for the host CPU. Every function is
 * resolved during compile(), so function() is a map lookup, safe to call from any thread, and
 * the functions may run concurrently. */
class HostModule {
  public:
    /** Every element type (f16 bf16 f32 f64, bool and the 8-64-bit integers) compiles, at
     * CodeTier::Full. Throws TargetError when LLVM fails, InternalError on a malformed kernel or
     * two kernels with one name. */
    static std::unique_ptr<HostModule> compile(const std::vector<ir::Kernel> &kernels);
    /** The same, kernels[i] compiled at tiers[i] (empty: all Full); exec/HostTiers chooses.
     * `control` may ask for fewer threads or cancel:
     * then the optional passes left are skipped, no further module is started, and compile()
     * throws CompileCancelled. */
    static std::unique_ptr<HostModule> compile(const std::vector<ir::Kernel> &kernels, const std::vector<CodeTier> &tiers,
                                               const CompileControl &control = {});

    /** A kernel's code and, when it shares that code with another kernel of the module, which of
     * its extents the code takes: extents[extent_slots[0]], ... in that order, 1 for a slot of -1
     * (empty: all of them, as ir/Kernel.h says); likewise its strides (strides[stride_slots[0]],
     * ..., 0 for -1) and its tensors (data[data_slots[0]], ...), each empty when taken as they
     * are. Packed GEMMs of different shapes share one code this way (GemmShare.h). Throws
     * InternalError if no kernel has that name. */
    struct Entry {
        HostKernelFn fn = nullptr;
        std::vector<int> extent_slots, stride_slots, data_slots;
    };
    const Entry &entry(const std::string &kernel_name) const;

    /** The code of a kernel that takes all its extents (entry() otherwise). Throws InternalError
     * if no kernel has that name or its code is shared. */
    HostKernelFn function(const std::string &kernel_name) const;

    /** The module's LLVM IR text after O3, as emit_llvm_ir() prints it. */
    const std::string &optimized_ir() const;

    ~HostModule();
    HostModule(const HostModule &) = delete;
    HostModule &operator=(const HostModule &) = delete;

  private:
    HostModule();
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

/** Optimises and generates machine code for a tiny loop at O3, on the calling thread, once per
 * process (a few milliseconds): the function-local statics LLVM makes on first use of its
 * optimiser and code generator then exist before a caller registers an exit handler that must
 * run before they are destroyed (exec/HostTiers joins its compile thread so). Cold code alone,
 * generated at -O0, does not make those of the -O3 code generator. */
void make_compiler_statics();

/** This CPU as the passes plan for it (ir::Target::host): LLVM's name for it, its features and
 * its widest vector register. A user's narrower limit (EINFUSE_HOST_VECTOR_BITS) is the
 * caller's to apply (ir::Target::narrowed); the passes record it per kernel. */
ir::Target host_target();

/** A CPU named as LLVM knows it ("znver4", "skylake-avx512", "haswell"), with LLVM's features for
 * it: plans and `emit_llvm_ir(kernels, target)` for another machine. TargetError when LLVM does
 * not know the name. */
ir::Target cpu_target(const std::string &cpu);

/** The range a packed GEMM kernel's begin/end split: batch points x M, for `extents` in the
 * order of k.index_vars. */
int64_t gemm_parallel_extent(const ir::Kernel &k, const std::vector<int64_t> &extents);

/** LLVM IR text of the kernels after the O3 pipeline for the host CPU, for
 * `einfuse compile --emit llvm`: a header line naming einfuse and its version, then each kernel's
 * statement as a comment, then the module. Throws like HostModule::compile. */
std::string emit_llvm_ir(const std::vector<ir::Kernel> &kernels);
/** The same for `target` (host_target() or cpu_target()): the code that CPU would run. */
std::string emit_llvm_ir(const std::vector<ir::Kernel> &kernels, const ir::Target &target);

} // namespace einfuse::llvm_backend
