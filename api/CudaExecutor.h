#pragma once
// Runs a plan's kernels on the GPU: the same CUDA C that `einfuse compile` writes, compiled
// in-process by NVRTC for the device's architecture and launched through the driver API.
#include "api/Einfuse.h"
#include "runtime/CudaDriver.h"

namespace einfuse {

class CudaExecutor {
public:
    /** Compiles every kernel of the plan for `arch` (empty: the device's own). Throws TargetError
     * when there is no device or NVRTC fails. */
    CudaExecutor(const passes::Plan &plan, const std::string &arch);

    /** Uploads `tensors` (the kernel's params, output last), runs once, downloads the output,
     * and returns the times of `repeat` further runs in microseconds (CUDA events). */
    std::vector<double> run(const ir::Kernel &k, const std::vector<const Tensor *> &tensors,
                            const ir::Extents &extents, int repeat) const;

private:
    std::unique_ptr<CudaModule> module_;
};

} // namespace einfuse
