#include "api/CudaExecutor.h"

#include "api/KernelArgs.h"
#include "backends/cuda/CudaPrinter.h"
#include "api/LibraryGemm.h"
#include "runtime/Nvrtc.h"

#include <functional>

namespace einfuse {

CudaExecutor::CudaExecutor(const passes::Plan &plan, const std::string &arch, GemmRunner gemm) : gemm_runner_(gemm) {
    CudaContext &ctx = CudaContext::get();
    std::string source = cuda_backend::emit_cuda(plan.kernels, EINFUSE_VERSION);
    module_ = std::make_unique<CudaModule>(cuda_cubin(source, arch.empty() ? ctx.arch() : arch));
}

CudaFunction CudaExecutor::function(const std::string &name) const {
    auto it = functions_.find(name);
    if (it == functions_.end()) it = functions_.emplace(name, module_->function(name)).first;
    return it->second;
}

std::uint64_t CudaExecutor::scratch(const std::string &name, void *stream, std::size_t bytes) const {
    // One per stream: runs queued on two streams may overlap, and must not share their parts.
    DeviceBuffer &b = scratch_[{name, stream}];
    if (b.size() < bytes) b = DeviceBuffer(bytes);
    return b.address();
}

namespace {

std::size_t storage_bytes(const Tensor &t) {
    return static_cast<std::size_t>(t.storage_elements()) * dtype_size(t.dtype());
}

/** Pointer and strides of every param from first to last (exclusive), then optionally more. */
void add_params(LaunchArgs &args, const ir::Kernel &k, std::size_t first, std::size_t last,
                const std::map<std::string, std::uint64_t> &address, const std::vector<int64_t> &strides) {
    std::size_t at = 0;
    for (std::size_t p = 0; p < first; ++p) at += static_cast<std::size_t>(k.params[p].rank);
    for (std::size_t p = first; p < last; ++p) {
        args.add_pointer(address.at(k.params[p].name));
        for (int d = 0; d < k.params[p].rank; ++d) args.add_i64(strides[at++]);
    }
}

} // namespace

/** One kernel's launch: its function, grid and argument block (pointers, strides, extents). */
struct CudaExecutor::Launch {
    CudaFunction fn;
    cuda_backend::CudaLaunchConfig config;
    LaunchArgs args;
    int64_t grid_y = 1;
    std::function<void(void *stream)> library{}; // set: a library call (cuBLASLt) instead of a kernel

    void queue(void *stream) {
        if (library) library(stream);
        else cuda_launch(fn, config.grid, config.block, args.pointers(), stream, grid_y);
    }
};

/** The launches of one call, and what they were built for: a call on the same device tensors
 * (addresses, shapes, strides) and sizes reuses them and skips building the argument blocks. */
struct CudaExecutor::Launches {
    std::vector<std::uint64_t> key;
    std::vector<Launch> list;
};

namespace {

/** What a call's launches depend on, when every tensor is on the device; empty otherwise. */
std::vector<std::uint64_t> launch_key(const passes::Plan &plan, const std::map<std::string, const Tensor *> &tensors,
                                      const ir::Extents &extents) {
    std::vector<std::uint64_t> key;
    for (const auto &[name, t] : tensors) {
        if (!t->on_device()) return {};
        key.push_back(reinterpret_cast<std::uint64_t>(t->data()));
        for (int64_t x : t->shape()) key.push_back(static_cast<std::uint64_t>(x));
        for (int64_t x : t->strides()) key.push_back(static_cast<std::uint64_t>(x));
    }
    for (const auto &[v, n] : extents) key.push_back(static_cast<std::uint64_t>(n));
    key.push_back(reinterpret_cast<std::uint64_t>(&plan));
    return key;
}

} // namespace

CudaExecutor::~CudaExecutor() = default;

bool CudaExecutor::relaunch(void *stream) const {
    // The key ends with the stream the launches were built for (their scratch memory is its own).
    if (!last_ || last_->key.empty() || last_->key.back() != reinterpret_cast<std::uint64_t>(stream)) return false;
    CudaContext::get();
    for (auto &l : last_->list) l.queue(stream);
    return true;
}

std::vector<CudaExecutor::Launch> CudaExecutor::build_launches(const passes::Plan &plan,
                                                               const std::map<std::string, const Tensor *> &tensors,
                                                               const std::map<std::string, std::uint64_t> &address,
                                                               const ir::Extents &extents, void *stream) const {
    std::vector<Launch> launches;
    ran_.clear();
    for (const auto &k : plan.kernels) {
        std::vector<const Tensor *> params;
        for (const auto &p : k.params) params.push_back(tensors.at(p.name));
        KernelArgs host_args = kernel_args(k, params, extents);
        const std::size_t num_params = k.params.size(), num_inputs = static_cast<std::size_t>(k.num_inputs);
        auto config = cuda_backend::cuda_launch_config(k, host_args.extents);
        if (k.gemm) {
            launches.push_back(gemm_launch(k, address, host_args, stream));
            continue;
        }
        ran_.push_back(k.tiling ? "tiled broadcast-reduce kernel" : "kernel");
        if (k.tiling) {
            // The tiled kernel, then, when its reduction is split, the combine kernel over the parts.
            int64_t reduce_extent = host_args.extents.at(k.var_index(k.tiling->reduce_var));
            auto tiled_config = cuda_backend::cuda_tiled_launch_config(k, host_args.extents);
            int64_t splits = cuda_backend::cuda_tiled_splits(k, tiled_config.grid, reduce_extent);
            int64_t total = 1;
            for (const auto &v : ir::parallel_vars(k)) total *= host_args.extents.at(k.var_index(v));
            Launch tiled{function(cuda_backend::cuda_tiled_kernel_name(k)), tiled_config, {}, splits};
            add_params(tiled.args, k, 0, num_params, address, host_args.strides);
            for (int64_t e : host_args.extents) tiled.args.add_i64(e);
            std::uint64_t parts = 0;
            if (k.tiling->combine) {
                const ir::Kernel &combine = *k.tiling->combine;
                parts = splits > 1 ? scratch(k.name, stream, static_cast<std::size_t>(splits * total) *
                                                                       dtype_size(combine.params.at(num_inputs).dtype))
                                                 : 0;
                tiled.args.add_pointer(parts);
            }
            launches.push_back(std::move(tiled));
            if (splits > 1) {
                Launch c{function(k.tiling->combine->name), config, {}};
                add_params(c.args, k, 0, num_inputs, address, host_args.strides);
                c.args.add_pointer(parts); // the parts, [split, parallel...] densely
                c.args.add_i64(total);
                std::vector<std::string> par = ir::parallel_vars(k);
                for (std::size_t d = 0; d < par.size(); ++d) {
                    int64_t stride = 1;
                    for (std::size_t e = d + 1; e < par.size(); ++e) stride *= host_args.extents.at(k.var_index(par[e]));
                    c.args.add_i64(stride);
                }
                add_params(c.args, k, num_inputs, num_params, address, host_args.strides);
                for (int64_t e : host_args.extents) c.args.add_i64(e);
                c.args.add_i64(splits);
                launches.push_back(std::move(c));
            }
            continue;
        }
        bool staged = cuda_backend::cuda_staged_fits(k, host_args.strides, host_args.extents);
        Launch l{function(staged ? cuda_backend::cuda_staged_kernel_name(k) : k.name),
                 staged ? cuda_backend::cuda_staged_launch_config(k, host_args.extents) : config, {}};
        add_params(l.args, k, 0, num_params, address, host_args.strides);
        for (int64_t e : host_args.extents) l.args.add_i64(e);
        launches.push_back(std::move(l));
    }

    return launches;
}


/** cuBLASLt runs every GEMM it can: in the H200 sweep (docs/performance.md) it beat the tiled
 * emitted kernel on every batched product from D=24 (126 us against 306) to D=256, and on
 * 1024x1024 products from K=128 up; below K=128 the two were within 2 us of each other.
 * Except under Auto where the emitted small dense variant fits (sizes as planned, a, b and
 * outputs dense, a and b 16-byte aligned, two warps per batch element: cuda_gemm_small_fits):
 * it ran batched D=32, 48, 64 products in 81, 100, 109 us against cuBLASLt's 105, 146, 112, and
 * D=32 at B=65,536 at 3.59 TB/s against 2.67. --gemm cublaslt still forces cuBLASLt. */
CudaExecutor::Launch CudaExecutor::gemm_launch(const ir::Kernel &k, const std::map<std::string, std::uint64_t> &address,
                                               const KernelArgs &args, void *stream) const {
    const ir::Gemm &g = *k.gemm;
    std::string why_not;
    std::vector<std::uint64_t> by_param;
    for (const auto &p : k.params) by_param.push_back(address.at(p.name));
    const bool small = cuda_backend::cuda_gemm_small_fits(k, args.strides, args.extents, by_param);
    if (gemm_runner_ == GemmRunner::Emitted || gemm_runner_ == GemmRunner::LoopNest) why_not = "forced";
    else if (small && gemm_runner_ == GemmRunner::Auto) why_not = "the small dense variant fits";
    else if (!g.library) why_not = g.library_why_not;
    else if (!cublaslt_available(&why_not)) {
    } else {
        try {
            auto calls = plan_library_gemm(k, by_param, args, &why_not);
            if (calls) {
                std::uint64_t workspace = scratch(k.name + "/cublaslt", stream, kLtWorkspaceBytes);
                ran_.push_back("cuBLASLt, " + std::to_string(calls->size()) + (calls->size() == 1 ? " call" : " calls"));
                Launch l;
                l.library = [calls = std::move(*calls), workspace](void *s) {
                    for (const auto &c : calls) c.matmul->run(c.a, c.b, c.c, c.d, c.bias, workspace, s);
                };
                return l;
            }
        } catch (const TargetError &e) {
            why_not = e.what();
        }
    }
    // The emitted tiled GEMM kernel, or (forced) the loop nest: the same argument block.
    Launch l;
    if (gemm_runner_ == GemmRunner::LoopNest) {
        l.fn = function(k.name);
        l.config = cuda_backend::cuda_launch_config(k, args.extents);
        ran_.push_back("loop nest (forced)");
    } else {
        auto gemm = cuda_backend::cuda_gemm_launch_config(k, args.extents, args.strides, by_param);
        l.fn = function(cuda_backend::cuda_gemm_kernel_name(k, args.extents, args.strides, by_param));
        l.config = {gemm.grid_x, gemm.block};
        ran_.push_back(std::string(small ? "emitted small dense GEMM kernel" : "emitted GEMM kernel") +
                       " (not cuBLASLt: " + why_not + ")");
    }
    add_params(l.args, k, 0, k.params.size(), address, args.strides);
    for (int64_t e : args.extents) l.args.add_i64(e);
    return l;
}

std::vector<double> CudaExecutor::run(const passes::Plan &plan, const std::map<std::string, const Tensor *> &tensors,
                                      const ir::Extents &extents, int repeat, void *stream) const {
    CudaContext::get(); // makes the context current on this thread
    std::vector<std::uint64_t> key = launch_key(plan, tensors, extents);
    if (!key.empty()) key.push_back(reinterpret_cast<std::uint64_t>(stream)); // its scratch is the stream's
    std::map<std::string, DeviceBuffer> buffers;
    if (key.empty() || !last_ || last_->key != key) {
        // Tensors already on the device are used in place; host tensors get a device copy, inputs
        // uploaded now and outputs downloaded at the end.
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
        last_ = std::make_unique<Launches>(Launches{key, build_launches(plan, tensors, address, extents, stream)});
    }

    auto run_all = [&] {
        for (auto &l : last_->list) l.queue(stream);
    };
    run_all();
    std::vector<double> times_us;
    for (int r = 0; r < repeat; ++r) times_us.push_back(cuda_time_ms(run_all, stream) * 1e3);
    if (!buffers.empty() || repeat > 0) CudaContext::get().synchronize();

    for (const auto &out : plan.program.outputs) {
        const Tensor &t = *tensors.at(out.name);
        if (!t.on_device()) buffers.at(out.name).download(const_cast<void *>(t.data()), storage_bytes(t));
    }
    if (key.empty()) last_.reset(); // its addresses were this call's buffers
    return times_us;
}

} // namespace einfuse
