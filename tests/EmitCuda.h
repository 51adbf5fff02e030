#pragma once
// The CUDA printer for the backend tests' kernels. The printer needs every kernel's launch
// variants, the passes' decision; hand-built kernels (and those lowered for the host) get them
// here from the same pass, for the default GPU target (sm_90's row), as a plan for the GPU would.
#include "backends/cuda/CudaPrinter.h"
#include "passes/GpuLaunchRules.h"

#include <string>
#include <vector>

namespace einfuse::test {

inline std::string emit_cuda(std::vector<ir::Kernel> kernels, std::string_view version) {
    for (auto &k : kernels)
        if (k.launch.empty()) k = passes::gpu_launch_rules(k, ir::Target::gpu());
    return cuda_backend::emit_cuda(kernels, version);
}

} // namespace einfuse::test
