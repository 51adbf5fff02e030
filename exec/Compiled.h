#pragma once
// The one layer that sees everything: parse -> passes -> backend -> launch. The CLI and the tests
// use it; later issues grow it into the public C++ API and the C ABI.
#include "frontend/Einsum.h"
#include "frontend/Program.h"
#include "passes/Pipeline.h"
#include "support/Tensor.h"

#include <map>
#include <memory>
#include <mutex>
#include <deque>
#include <optional>
#include <string>
#include <vector>

namespace einfuse {

enum class Target { Host, Cuda };
std::string_view target_name(Target t);

/** Which code runs a GEMM kernel (--gemm): a lowering option, see passes/Pipeline.h. */
using GemmRunner = passes::GemmRunner;

struct CompileOptions {
    Target target = Target::Host;
    std::string arch;  // CUDA architecture such as "sm_90"; empty: the device's own
    int threads = 0;   // host worker threads; 0: all cores
    bool allow_tf32 = false; // f32 GEMMs may round their inputs to tf32 (tensor cores)
    GemmRunner gemm = GemmRunner::Auto;
};

/** What a run produced: the outputs (on the host, in the order of program().outputs) and, per
 * timed repetition, microseconds. */
struct RunResult {
    std::vector<Tensor> outputs;
    std::vector<double> times_us;
    std::vector<std::string> ran; // per CUDA kernel, what ran it ("cuBLASLt, 1 call", ...)
    std::size_t device_peak_bytes = 0; // the most device memory einfuse held during the run
};

/** A program lowered for one target: what einsums and index-notation programs share. Host code
 * is JIT-compiled at the first run; CUDA code is compiled with NVRTC at the first run, for the
 * device that runs it. */
class Compiled {
public:
    Compiled(ir::Program program, CompileOptions options);
    virtual ~Compiled();
    Compiled(Compiled &&) noexcept;

    const ir::Program &program() const { return program_; }
    /** The plan serving the sizes of the last plan_for() (made for sizes of their shape class,
     * plan().sizes), or, before any, for unknown sizes (lowered at the first call: a caller that
     * binds sizes before asking lowers once). */
    const passes::Plan &plan() const;
    const CompileOptions &options() const { return options_; }

    /** Plans for these index sizes (the strategies and the contraction order depend on them);
     * without it the plan assumes sizes. Call before run(). A plan serves every size of its
     * shape class (passes::Plan::guards: the facts about sizes its passes relied on), so a new
     * free size (a framework's batch of 100, then 5000, then 4999) checks the guards and reuses
     * the plan and its compiled code: no passes, no compiler. The last kRecentPlans classes
     * stay, with their code, the most recent first. */
    void plan_for(const ir::Extents &sizes);
    static constexpr std::size_t kRecentPlans = 16;

    /** How often this object lowered (ran the passes for sizes) and compiled (JIT or NVRTC). */
    struct Counts {
        std::size_t plans = 0, compiles = 0;
    };
    Counts counts() const { return counts_; }

    /** Computes the outputs from `inputs` (in the order of program().inputs); with repeat > 0,
     * also times `repeat` further runs, of the code later calls settle on (HostExecutor::settle). */
    RunResult run(const std::vector<const Tensor *> &inputs, const ir::Extents &extents, int repeat = 0) const;

    /** Computes into caller-allocated outputs (in the order of program().outputs), which must
     * have the planned shapes and the outputs' dtypes, any strides. Tensors may be borrowed views
     * (Tensor::borrow): for Target::Cuda, device tensors are used in place and host tensors are
     * copied; Target::Host needs host tensors. Throws UserError on a mismatch. `cuda_stream` (a
     * CUstream / cudaStream_t; nullptr: the default stream) is where Target::Cuda queues the
     * kernels; with device tensors only, the call returns once they are queued. */
    void run_into(const std::vector<const Tensor *> &inputs, const std::vector<Tensor *> &outputs,
                  const ir::Extents &extents, void *cuda_stream = nullptr) const;

    /** Queues the last run's kernels again, with the same arguments, on `cuda_stream`: for a
     * caller that knows the tensors are the same device tensors as then. False (nothing done)
     * when the last run was not on device tensors only, or there was none. */
    bool relaunch(void *cuda_stream) const;

    /** The float64 reference results of the same program, for checking. */
    std::vector<Tensor> reference(const std::vector<const Tensor *> &inputs, const ir::Extents &extents) const;

    /** What each output element's rounding errors scale with (ir::max_relative_error's scale):
     * for an einsum, its sum of |terms| (the reference on the inputs' absolute values); for a
     * program, ir::magnitude_program's first-order bound; for a complex program, the reference
     * on |inputs|. */
    std::vector<Tensor> reference_magnitudes(const std::vector<const Tensor *> &inputs, const ir::Extents &extents) const;

    /** The number of terms the longest chain of reductions adds up, for tolerances. */
    int64_t reduction_length(const ir::Extents &extents) const;

    struct Backend; // the target's compiled code

private:
    std::vector<double> execute(const std::vector<const Tensor *> &inputs, const std::vector<Tensor *> &outputs,
                                const ir::Extents &extents, int repeat, void *cuda_stream = nullptr) const;
    ir::Program program_;
    // Empty until plan() or plan_for() lowers; unsized_once_ makes concurrent first plan() calls
    // lower once (a pointer, so that Compiled stays movable).
    mutable std::optional<passes::Plan> plan_;
    std::unique_ptr<std::once_flag> unsized_once_ = std::make_unique<std::once_flag>();
    CompileOptions options_;
    passes::LowerOptions lower_options_; // the target's facts (checked at construction) and the user's choices
    std::unique_ptr<Backend> backend_;
    /** Whether plan_ is sized (from plan_for), and earlier sized plans with their code, the most
     * recent first. */
    struct Planned {
        passes::Plan plan;
        std::unique_ptr<Backend> backend;
    };
    bool sized_ = false;
    std::deque<Planned> recent_;
    mutable Counts counts_;
};

/** An einsum parsed, checked and lowered for one target. */
class CompiledEinsum : public Compiled {
public:
    /** ranks[i] is operand i's rank, needed where it uses '...'; empty: each operand's label
     * count. Throws UserError for bad subscripts or a signature that does not fit them. */
    CompiledEinsum(std::string_view spec, const std::vector<DType> &dtypes, CompileOptions options,
                   const std::vector<int> &ranks = {});
    /** The same from subscripts already parsed (frontend::parse_einsum): parsed once. */
    CompiledEinsum(frontend::EinsumAst ast, const std::vector<DType> &dtypes, CompileOptions options,
                   const std::vector<int> &ranks = {});

    const frontend::EinsumAst &ast() const { return ast_; }
    const frontend::ResolvedEinsum &resolved() const { return resolved_; }

    /** Index sizes from the inputs' shapes and --dims-style sizes; throws UserError. `partial`:
     * sizes neither gives are left out, not an error. */
    ir::Extents bind(const std::vector<std::optional<Shape>> &shapes, const ir::Extents &dims, bool partial = false) const;
    Shape output_shape(const ir::Extents &extents) const;
    Shape operand_shape(int operand, const ir::Extents &extents) const;

    struct Parts; // what the frontend makes of the subscripts, built before the base class

private:
    CompiledEinsum(Parts &&parts, CompileOptions options);
    frontend::EinsumAst ast_;
    frontend::ResolvedEinsum resolved_;
};

/** An index-notation program parsed, checked and lowered for one target. */
class CompiledProgram : public Compiled {
public:
    /** dtypes: element type per input tensor (missing: f32). outputs: the tensors to return;
     * empty: those defined and not read by a later statement. Throws UserError. */
    CompiledProgram(std::string_view source, const std::map<std::string, DType> &dtypes, CompileOptions options,
                    const std::vector<std::string> &outputs = {});
    /** The same from a program already parsed (frontend::parse_program): parsed once. */
    CompiledProgram(std::shared_ptr<const frontend::ProgramAst> ast, const std::map<std::string, DType> &dtypes,
                    CompileOptions options, const std::vector<std::string> &outputs);

    const frontend::ProgramAst &ast() const { return *ast_; }

    /** Index sizes from input shapes (by tensor name) and --dims-style sizes; throws UserError.
     * `partial`: sizes neither gives are left out, not an error. */
    ir::Extents bind(const std::map<std::string, Shape> &shapes, const ir::Extents &dims, bool partial = false) const;
    /** The shape of an input or defined tensor under extents. */
    Shape tensor_shape(const std::string &tensor, const ir::Extents &extents) const;

private:
    std::shared_ptr<const frontend::ProgramAst> ast_;
};

/** Text of the code for the plan: "cu" (standalone CUDA C), "h" (its header), "llvm" (host LLVM
 * IR after O3), "ptx", or "plan". `name` prefixes the exported symbols of cu, h and ptx (empty:
 * einfuse's own names). Throws UserError for an unknown kind or a bad name. */
std::string emit(const Compiled &compiled, std::string_view kind, std::string_view name = {});

/** The einsum of host tensors, computed on the host: einfuse::einsum("bij,bjk->bik", {a, b}). */
Tensor einsum(std::string_view spec, const std::vector<Tensor> &inputs, Target target = Target::Host);

/** The float64 reference result of an einsum, for checking. */
Tensor einsum_reference(const CompiledEinsum &compiled, const std::vector<const Tensor *> &inputs,
                        const ir::Extents &extents);

/** Device memory of the current CUDA device, freed with the returned handle; `*address`
 * receives its address. Throws TargetError where there is no device or no CUDA backend. */
std::shared_ptr<void> allocate_device_memory(std::size_t bytes, void **address);
/** Copies the first `bytes` of memory from allocate_device_memory to the host. */
void download_device_memory(const std::shared_ptr<void> &memory, void *host, std::size_t bytes);
/** Waits until the CUDA device has done everything queued on it (before freeing memory its
 * queued kernels use). Nothing to wait for without the CUDA backend. */
void synchronize_device();

/** The largest relative error (against max(|reference|, 1)) a result of dtype may have, for a
 * reduction over `reduction_length` terms: 8 u (8 + sqrt(n)), u the accumulation type's epsilon,
 * plus the final rounding of f16/bf16; 0 for integers, which must be exact. docs/cli.md states it. */
double tolerance(DType dtype, int64_t reduction_length);
int64_t reduction_length(const Compiled &compiled, const ir::Extents &extents);

} // namespace einfuse
