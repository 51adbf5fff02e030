#include "api/CudaExecutor.h"

#include "api/KernelArgs.h"
#include "backends/cuda/CudaPrinter.h"
#include "runtime/Nvrtc.h"

namespace einfuse {

CudaExecutor::CudaExecutor(const passes::Plan &plan, const std::string &arch) {
    CudaContext &ctx = CudaContext::get();
    std::string source = cuda_backend::emit_cuda(plan.kernels, EINFUSE_VERSION);
    module_ = std::make_unique<CudaModule>(cuda_cubin(source, arch.empty() ? ctx.arch() : arch));
}

std::vector<double> CudaExecutor::run(const ir::Kernel &k, const std::vector<const Tensor *> &tensors,
                                      const ir::Extents &extents, int repeat) const {
    CudaContext::get(); // makes the context current on this thread
    KernelArgs host_args = kernel_args(k, tensors, extents);

    std::vector<DeviceBuffer> buffers;
    LaunchArgs args;
    std::size_t stride_at = 0;
    for (std::size_t p = 0; p < tensors.size(); ++p) {
        const Tensor &t = *tensors[p];
        std::size_t bytes = static_cast<std::size_t>(t.storage_elements()) * dtype_size(t.dtype());
        buffers.emplace_back(bytes);
        if (static_cast<int>(p) < k.num_inputs) buffers.back().upload(t.data(), bytes);
        args.add_pointer(buffers.back());
        for (int d = 0; d < t.rank(); ++d) args.add_i64(host_args.strides[stride_at++]);
    }
    for (int64_t e : host_args.extents) args.add_i64(e);

    CudaFunction fn = module_->function(k.name);
    auto config = cuda_backend::cuda_launch_config(k, host_args.extents);
    auto launch = [&] { cuda_launch(fn, config.grid, config.block, args.pointers()); };
    launch();
    std::vector<double> times_us;
    for (int r = 0; r < repeat; ++r) times_us.push_back(cuda_time_ms(launch) * 1e3);
    CudaContext::get().synchronize();

    const Tensor &out = *tensors.back();
    buffers.back().download(const_cast<void *>(out.data()),
                            static_cast<std::size_t>(out.storage_elements()) * dtype_size(out.dtype()));
    return times_us;
}

} // namespace einfuse
