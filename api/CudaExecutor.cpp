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

namespace {

std::size_t storage_bytes(const Tensor &t) {
    return static_cast<std::size_t>(t.storage_elements()) * dtype_size(t.dtype());
}

/** One kernel's launch: its function, grid and argument block (pointers, strides, extents). */
struct Launch {
    CudaFunction fn;
    cuda_backend::CudaLaunchConfig config;
    LaunchArgs args;
};

} // namespace

std::vector<double> CudaExecutor::run(const passes::Plan &plan, const std::map<std::string, const Tensor *> &tensors,
                                      const ir::Extents &extents, int repeat) const {
    CudaContext::get(); // makes the context current on this thread
    // Tensors already on the device are used in place; host tensors get a device copy, inputs
    // uploaded now and outputs downloaded at the end.
    std::map<std::string, DeviceBuffer> buffers;
    std::map<std::string, std::uint64_t> address;
    for (const auto &[name, t] : tensors) {
        if (t->on_device()) {
            address[name] = reinterpret_cast<std::uint64_t>(t->data());
            continue;
        }
        auto it = buffers.emplace(name, DeviceBuffer(storage_bytes(*t))).first;
        address[name] = it->second.address();
    }
    for (const auto &in : plan.program.inputs)
        if (!tensors.at(in.name)->on_device())
            buffers.at(in.name).upload(tensors.at(in.name)->data(), storage_bytes(*tensors.at(in.name)));

    std::vector<Launch> launches;
    for (const auto &k : plan.kernels) {
        std::vector<const Tensor *> params;
        for (const auto &p : k.params) params.push_back(tensors.at(p.name));
        KernelArgs host_args = kernel_args(k, params, extents);
        bool staged = cuda_backend::cuda_staged_fits(k, host_args.strides, host_args.extents);
        Launch l{module_->function(staged ? cuda_backend::cuda_staged_kernel_name(k) : k.name),
                 staged ? cuda_backend::cuda_staged_launch_config(k, host_args.extents)
                        : cuda_backend::cuda_launch_config(k, host_args.extents),
                 {}};
        std::size_t stride_at = 0;
        for (const auto &p : k.params) {
            l.args.add_pointer(address.at(p.name));
            for (int d = 0; d < p.rank; ++d) l.args.add_i64(host_args.strides[stride_at++]);
        }
        for (int64_t e : host_args.extents) l.args.add_i64(e);
        launches.push_back(std::move(l));
    }

    auto run_all = [&] {
        for (auto &l : launches) cuda_launch(l.fn, l.config.grid, l.config.block, l.args.pointers());
    };
    run_all();
    std::vector<double> times_us;
    for (int r = 0; r < repeat; ++r) times_us.push_back(cuda_time_ms(run_all) * 1e3);
    CudaContext::get().synchronize();

    for (const auto &out : plan.program.outputs) {
        const Tensor &t = *tensors.at(out.name);
        if (!t.on_device()) buffers.at(out.name).download(const_cast<void *>(t.data()), storage_bytes(t));
    }
    return times_us;
}

} // namespace einfuse
