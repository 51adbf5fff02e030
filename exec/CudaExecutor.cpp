#include "exec/CudaExecutor.h"

#include "exec/KernelArgs.h"
#include "exec/LibraryGemm.h"
#include "backends/cuda/CudaPrinter.h"
#include "runtime/Nvrtc.h"
#include "support/Error.h"

#include <algorithm>
#include <functional>

namespace einfuse {

CudaExecutor::CudaExecutor(const passes::Plan &plan, const std::string &arch) {
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

/** What k's launch rules read (ir/LaunchRule.h): the sizes, each param's strides and address. */
ir::LaunchFacts launch_facts(const ir::Kernel &k, const KernelArgs &args, const std::vector<std::uint64_t> &by_param) {
    ir::LaunchFacts f;
    for (std::size_t v = 0; v < k.index_vars.size(); ++v) f.sizes[k.index_vars[v]] = args.extents.at(v);
    auto at = args.strides.begin();
    for (std::size_t p = 0; p < k.params.size(); ++p) {
        f.strides[k.params[p].name].assign(at, at + k.params[p].rank);
        at += k.params[p].rank;
        f.addresses[k.params[p].name] = by_param.at(p);
    }
    return f;
}

} // namespace

/** One kernel's launch: its function, grid and argument block (pointers, strides, extents). */
struct CudaExecutor::Launch {
    CudaFunction fn;
    int64_t grid = 0, block = 0;
    LaunchArgs args;
    int64_t grid_y = 1;
    std::function<void(void *stream)> library{}; // set: a library call (cuBLASLt) instead of a kernel

    void queue(void *stream) {
        if (library) library(stream);
        else cuda_launch(fn, grid, block, args.pointers(), stream, grid_y);
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

void CudaExecutor::forget_launches() const { last_.reset(); }

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
        EINFUSE_ASSERT(!k.launch.empty(), "a plan for the GPU has its launch rules (passes::gpu_launch_rules)");
        std::vector<const Tensor *> params;
        std::vector<std::uint64_t> by_param;
        for (const auto &p : k.params) {
            params.push_back(tensors.at(p.name));
            by_param.push_back(address.at(p.name));
        }
        for (const auto &[v, n] : k.pinned) // planned with these sizes while others stayed free
            if (extents.at(v) != n)
                throw UserError("kernel " + k.name + " was planned with " + v + "=" + std::to_string(n) + ", not " +
                                std::to_string(extents.at(v)));
        KernelArgs host_args = kernel_args(k, params, extents);
        const ir::LaunchFacts facts = launch_facts(k, host_args, by_param);
        if (k.gemm) {
            launches.push_back(gemm_launch(k, address, host_args, facts, stream));
            continue;
        }
        // The first variant whose guard holds, as the standalone launcher picks it.
        const ir::LaunchVariant *v = ir::choose_variant(k.launch, facts);
        EINFUSE_ASSERT(v != nullptr, "the plain kernel, last, always runs");
        // A GEMM-strategy kernel without k.gemm: the passes dropped it for --gemm loops.
        ran_.push_back(v->code                                  ? "size-specialised " + v->code->name
                       : v->kind == ir::VariantKind::Tiled       ? "tiled broadcast-reduce kernel"
                       : k.strategy == ir::Strategy::Gemm ? "loop nest (--gemm loops)"
                                                          : "kernel");
        const std::size_t num_params = k.params.size(), num_inputs = static_cast<std::size_t>(k.num_inputs);
        Launch l{function(v->entry(k.name)), v->grid.evaluate(facts), v->block.evaluate(facts), {}, v->splits.evaluate(facts)};
        add_params(l.args, k, 0, num_params, address, host_args.strides);
        for (int64_t e : host_args.extents) l.args.add_i64(e);
        if (!v->combine) {
            launches.push_back(std::move(l));
            continue;
        }
        // A split reduction: the tiled kernel writes its parts [split, parallel...] densely into
        // scratch memory, then, when split, the combine kernel folds them.
        const ir::CombineLaunch &c = *v->combine;
        const int64_t splits = l.grid_y, total = c.part_args.at(0).evaluate(facts);
        std::uint64_t parts =
            splits > 1 ? scratch(k.name, stream, static_cast<std::size_t>(splits * total) * dtype_size(c.partial)) : 0;
        l.args.add_pointer(parts);
        launches.push_back(std::move(l));
        if (splits <= 1) continue;
        Launch combine{function(c.kernel), c.grid.evaluate(facts), c.block.evaluate(facts), {}};
        add_params(combine.args, k, 0, num_inputs, address, host_args.strides);
        combine.args.add_pointer(parts);
        for (const auto &a : c.part_args) combine.args.add_i64(a.evaluate(facts));
        add_params(combine.args, k, num_inputs, num_params, address, host_args.strides);
        for (int64_t e : host_args.extents) combine.args.add_i64(e);
        combine.args.add_i64(splits);
        launches.push_back(std::move(combine));
    }

    return launches;
}

/** The GEMM variants in k.launch's order, as the passes chose it (passes/GpuLaunchRules: the
 * small dense variant, cuBLASLt, the tile shapes, the loop nest; --gemm cublaslt puts cuBLASLt
 * first, --gemm emitted leaves it out, --gemm loops leaves only the loop nest). Why that order:
 * cuBLASLt beat the tiled emitted kernel on every batched product from D=24 (126 us against 306)
 * to D=256 in the H200 sweep (docs/performance.md), and on 1024x1024 products from K=128 up
 * (below, within 2 us); the small dense variant, when it fits (sizes as planned, a, b and outputs
 * dense, a and b 16-byte aligned), ran batched D=32, 48, 64 in 81, 100, 109 us against
 * cuBLASLt's 105, 146, 112. The first whose guard holds runs; cuBLASLt also needs LibraryGemm to
 * map the strides and the library to load, else the walk goes on. `ran` only reports it. */
CudaExecutor::Launch CudaExecutor::gemm_launch(const ir::Kernel &k, const std::map<std::string, std::uint64_t> &address,
                                               const KernelArgs &args, const ir::LaunchFacts &facts,
                                               void *stream) const {
    std::string why_not = k.gemm->library_why_not; // stays so when there is no Library variant
    bool before_library = true;
    const ir::LaunchVariant *chosen = nullptr;
    for (const ir::LaunchVariant &v : k.launch) {
        if (!v.guard.evaluate(facts)) continue;
        if (v.kind != ir::VariantKind::Library) {
            chosen = &v;
            break;
        }
        before_library = false;
        if (!cublaslt_available(&why_not)) continue;
        try {
            std::vector<std::uint64_t> by_param;
            for (const auto &p : k.params) by_param.push_back(address.at(p.name));
            auto calls = plan_library_gemm(k, by_param, args, &why_not);
            if (!calls) continue;
            std::uint64_t workspace = scratch(k.name + "/cublaslt", stream, kLtWorkspaceBytes);
            ran_.push_back("cuBLASLt, " + std::to_string(calls->size()) + (calls->size() == 1 ? " call" : " calls"));
            Launch l;
            l.library = [calls = std::move(*calls), workspace](void *s) {
                for (const auto &c : calls) c.matmul->run(c.a, c.b, c.c, c.d, c.bias, workspace, s);
            };
            return l;
        } catch (const TargetError &e) {
            why_not = e.what();
        }
    }
    EINFUSE_ASSERT(chosen != nullptr, "the plain kernel, last, always runs");
    const bool small = chosen->kind == ir::VariantKind::GemmSmall;
    if (small && before_library && k.gemm->library) why_not = "the small dense variant fits";
    if (chosen->kind == ir::VariantKind::Plain || chosen->kind == ir::VariantKind::Staged)
        // A size-specialised kernel, or the loop nest for small matrices (passes/GpuSpecialise).
        ran_.push_back(chosen->code ? "size-specialised " + chosen->code->name : std::string("loop nest"));
    else // a size-specialised GEMM (D=32, 64) names itself first
        ran_.push_back((chosen->code ? "size-specialised " + chosen->code->name + ", " : std::string()) +
                       (small ? "emitted small dense GEMM kernel" : "emitted GEMM kernel") + " (not cuBLASLt: " +
                       why_not + ")");
    Launch l{function(chosen->entry(k.name)), chosen->grid.evaluate(facts), chosen->block.evaluate(facts), {}};
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
            // The copy holds the storage from its lowest element; element 0 lies past the
            // elements that negative strides reach below it.
            address[name] = it->second.address() +
                            static_cast<std::uint64_t>(-t->storage_offset()) * dtype_size(t->dtype());
        }
        for (const auto &in : plan.program.inputs)
            if (!tensors.at(in.name)->on_device())
                buffers.at(in.name).upload(tensors.at(in.name)->storage_begin(), storage_bytes(*tensors.at(in.name)));
        // An output whose storage has gaps (x[:, ::2], padded rows) is downloaded whole: its copy
        // starts as the host's, so the gaps come back unchanged.
        for (const auto &out : plan.program.outputs) {
            const Tensor &t = *tensors.at(out.name);
            if (!t.on_device() && t.storage_elements() != t.size()) buffers.at(out.name).upload(t.storage_begin(), storage_bytes(t));
        }
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
        if (!t.on_device()) buffers.at(out.name).download(const_cast<void *>(t.storage_begin()), storage_bytes(t));
    }
    if (key.empty()) last_.reset(); // its addresses were this call's buffers
    return times_us;
}

} // namespace einfuse
