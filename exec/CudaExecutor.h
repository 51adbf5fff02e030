#pragma once
// Runs a plan's kernels on the GPU: the same CUDA C that `einfuse compile` writes, compiled
// in-process by NVRTC for the device's architecture and launched through the driver API.
#include "exec/Compiled.h"
#include "exec/KernelArgs.h"
#include "runtime/CudaDriver.h"

#include <map>

namespace einfuse {

/** Not thread-safe: it keeps the last call's launches and the split reductions' scratch memory;
 * its callers (Compiled, the public API, the C ABI) serialize runs of one kernel. */
class CudaExecutor {
public:
    /** Compiles every kernel of the plan for `arch` (empty: the device's own). Throws TargetError
     * when there is no device or NVRTC fails. */
    CudaExecutor(const passes::Plan &plan, const std::string &arch);

    /** Uploads the plan's inputs from `tensors` (every tensor of the lowered program by name),
     * runs the kernels in order once, downloads the outputs into their host tensors, and returns
     * the times of `repeat` further runs of the whole plan in microseconds (CUDA events). When
     * every tensor is already on the device and repeat is 0, it returns once the kernels are
     * queued on `stream` (a CUstream; nullptr: the default stream), as a kernel launch does. */
    std::vector<double> run(const passes::Plan &plan, const std::map<std::string, const Tensor *> &tensors,
                            const ir::Extents &extents, int repeat, void *stream = nullptr) const;

    /** Per kernel of the last run, what ran it: "cuBLASLt, 1 call", "emitted GEMM kernel", "loop
     * nest" and so on, with the reason when a GEMM did not run on cuBLASLt. */
    const std::vector<std::string> &ran() const { return ran_; }

    /** Queues the last run's launches again on `stream`; false when that run had host tensors
     * (its device copies are gone) or there was none. */
    bool relaunch(void *stream) const;
    /** Forgets the last run's launches (its device memory is about to be freed: the staged copies
     * of host complex tensors), so that relaunch says false. */
    void forget_launches() const;

    ~CudaExecutor();

private:
    struct Launch;
    struct Launches;
    /** Every kernel launch of the plan for these tensors (device addresses by name) and sizes, on
     * `stream` (whose scratch memory split reductions use). */
    std::vector<Launch> build_launches(const passes::Plan &plan, const std::map<std::string, const Tensor *> &tensors,
                                       const std::map<std::string, std::uint64_t> &address, const ir::Extents &extents,
                                       void *stream) const;
    /** The kernel `name` of the module, looked up once. */
    CudaFunction function(const std::string &name) const;
    /** Device memory of at least `bytes` for the partial results of kernel `name` on `stream`, kept. */
    std::uint64_t scratch(const std::string &name, void *stream, std::size_t bytes) const;
    /** The launch of GEMM kernel k: the first of k.launch (in the order the passes chose) whose
     * guard holds for `facts`, where cuBLASLt (the Library variant) runs only when LibraryGemm
     * maps the layout. Notes what it chose in ran_. */
    Launch gemm_launch(const ir::Kernel &k, const std::map<std::string, std::uint64_t> &address,
                       const KernelArgs &args, const ir::LaunchFacts &facts, void *stream) const;

    std::unique_ptr<CudaModule> module_;
    mutable std::map<std::string, CudaFunction> functions_;
    mutable std::map<std::pair<std::string, void *>, DeviceBuffer> scratch_; // by kernel and stream
    mutable std::unique_ptr<Launches> last_; // the last call's launches, reused by the same call
    mutable std::vector<std::string> ran_;
};

} // namespace einfuse
