#include "exec/Compiled.h"

#include "ir/Magnitude.h"

#include "exec/HostExecutor.h"
#include "backends/cuda/CudaPrinter.h"
#include "ir/Magnitude.h"
#include "ir/Reference.h"
#include "ir/Walk.h"
#include "support/Error.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <deque>
#include <functional>
#include <limits>
#include <map>
#include <thread>

#ifdef EINFUSE_HAVE_LLVM
#include "backends/llvm/HostJit.h"
#endif
#ifdef EINFUSE_HAVE_CUDA
#include "exec/CudaExecutor.h"
#include "runtime/Nvrtc.h"
#endif

namespace einfuse {

std::string_view target_name(Target t) { return t == Target::Host ? "host" : "cuda"; }

struct Compiled::Backend {
    std::unique_ptr<HostExecutor> host;
#ifdef EINFUSE_HAVE_CUDA
    std::unique_ptr<CudaExecutor> cuda; // made at the first run: it needs the device's arch
#endif
};

namespace {

/** The machine the plan is for, as data for the passes. The GPU: with --arch, the table's row
 * for it (code for another machine); without, the device's own facts when there is one, else
 * the table's sm_90 row. The host: this CPU's vector width as the LLVM backend prints for it. */
ir::Target target_of(const CompileOptions &options) {
    if (options.target == Target::Cuda) {
        if (!options.arch.empty()) {
            int sm = ir::parse_arch(options.arch);
            if (sm == 0) throw UserError("--arch " + options.arch + ": expected sm_NN, such as sm_90");
            return ir::Target::gpu(sm);
        }
#ifdef EINFUSE_HAVE_CUDA
        CudaDeviceFacts facts;
        if (cuda_device_facts(&facts)) {
            ir::Target t = ir::Target::gpu(facts.compute_capability);
            t.sm_count = facts.sm_count;
            t.shared_per_sm = facts.shared_per_sm;
            t.source = "the device " + facts.name;
            return t;
        }
#endif
        return ir::Target::gpu(90);
    }
#ifdef EINFUSE_HAVE_LLVM
    // EINFUSE_HOST_VECTOR_BITS=256|128: plan and print as an AVX2 (SSE) machine would run the
    // code, on a wider CPU; the plan says so (passes/HostVectors).
    const char *limit = std::getenv("EINFUSE_HOST_VECTOR_BITS");
    ir::Target host = llvm_backend::host_target();
    if (limit) host = host.narrowed(std::atoi(limit), "EINFUSE_HOST_VECTOR_BITS=" + std::string(limit));
#else
    ir::Target host = ir::Target::host(0);
#endif
    host.cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    return host;
}

/** What the passes read: the target's facts and the user's choices. */
passes::LowerOptions lower_options_of(const CompileOptions &options) {
    passes::LowerOptions o;
    o.target = target_of(options);
    o.allow_tf32 = options.allow_tf32;
    o.gemm = options.gemm;
    o.threads = options.threads;
    return o;
}

} // namespace

Compiled::Compiled(ir::Program program, CompileOptions options)
    : program_(std::move(program)), options_(std::move(options)), lower_options_(lower_options_of(options_)),
      backend_(std::make_unique<Backend>()) {}

const passes::Plan &Compiled::plan() const {
    std::call_once(*unsized_once_, [&] {
        if (!plan_) plan_ = passes::lower(program_, {}, lower_options_);
    });
    return *plan_;
}

Compiled::~Compiled() = default;

Compiled::Compiled(Compiled &&) noexcept = default;

void Compiled::plan_for(const ir::Extents &sizes) {
    // The same shape class: the passes would decide the same, and the kernels take the sizes as
    // arguments. A few map lookups, no allocation.
    if (sized_ && plan_ && plan_->serves(sizes)) return;
    if (sized_ && plan_) { // keep the current plan and its code for a later return
        recent_.push_front({std::move(*plan_), std::move(backend_)});
        if (recent_.size() > kRecentPlans) recent_.pop_back();
    }
    auto earlier = std::find_if(recent_.begin(), recent_.end(), [&](const Planned &p) { return p.plan.serves(sizes); });
    if (earlier != recent_.end()) {
        plan_ = std::move(earlier->plan);
        backend_ = std::move(earlier->backend);
        recent_.erase(earlier);
    } else {
        plan_ = passes::lower(program_, sizes, lower_options_);
        ++counts_.plans;
        backend_ = std::make_unique<Backend>(); // compiled code belongs to its plan
    }
    sized_ = true;
}

std::vector<Tensor> Compiled::reference(const std::vector<const Tensor *> &inputs, const ir::Extents &extents) const {
    return ir::evaluate_reference(program_, inputs, extents);
}

std::vector<Tensor> Compiled::reference_magnitudes(const std::vector<const Tensor *> &inputs,
                                                   const ir::Extents &extents) const {
    std::vector<Tensor> magnitudes;
    for (const Tensor *t : inputs) magnitudes.push_back(ir::abs_copy(*t));
    std::vector<const Tensor *> pointers;
    for (const auto &t : magnitudes) pointers.push_back(&t);
    // A complex program: the reference on |inputs| (its sums of products' |terms|).
    if (ir::has_complex_type(program_)) return reference(pointers, extents);
    std::vector<const Tensor *> both = inputs;
    both.insert(both.end(), pointers.begin(), pointers.end());
    return ir::evaluate_reference(ir::magnitude_program(program_), both, extents);
}

int64_t Compiled::reduction_length(const ir::Extents &extents) const {
    // Through the steps the kernels compute (the contraction order's temporaries): a definition
    // adds the product of its reduced extents (nested reductions multiply), after the longest
    // chain of the temporaries it reads, whose rounding errors it carries. The largest over
    // the definitions, saturating. opt_einsum's 51 chained 2x2 matrices: 50 steps of 2 terms,
    // 100, not the 2^50 terms of the expression written as one sum.
    std::vector<std::string> notes;
    ir::Program steps = passes::prepare(program_, extents, notes);
    constexpr int64_t kMax = int64_t{1} << 62;
    std::map<std::string, int64_t> chain; // per tensor defined so far
    int64_t longest = 1;
    for (const auto &d : steps.definitions) {
        int64_t n = 1;
        for (const auto &v : ir::reduced_vars(d.value)) {
            int64_t e = std::max<int64_t>(extents.at(v), 1);
            n = n > kMax / e ? kMax : n * e;
        }
        int64_t before = 0;
        ir::for_each_access(d.value, [&](const ir::Access &a) {
            auto it = chain.find(a.tensor);
            if (it != chain.end()) before = std::max(before, it->second);
        });
        int64_t total = std::min(kMax, n + before);
        chain[d.tensor] = std::max(chain[d.tensor], total); // "+=" statements add to their tensor's chain
        longest = std::max(longest, total);
    }
    return longest;
}

namespace {

double elapsed_us(std::chrono::steady_clock::time_point since) {
    return std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - since).count();
}

/** The shape of a tensor the lowered program defines, under extents (a complex one: its parts'). */
Shape defined_shape(const ir::Program &lowered, const std::string &tensor, const ir::Extents &extents) {
    if (auto split = lowered.complex_parts.find(tensor); split != lowered.complex_parts.end())
        return defined_shape(lowered, split->second.first, extents);
    for (const auto &d : lowered.definitions)
        if (d.tensor == tensor) {
            Shape shape;
            for (const auto &v : d.indices) shape.push_back(extents.at(v));
            return shape;
        }
    throw InternalError("no definition of " + tensor);
}

/** The outputs the caller sees: the lowered program's, with a complex tensor whole where
 * passes/SplitComplex split it into parts. */
const std::vector<ir::TensorInfo> &returned_outputs(const ir::Program &lowered, const ir::Program &original) {
    return lowered.complex_parts.empty() ? lowered.outputs : original.outputs;
}

} // namespace

RunResult Compiled::run(const std::vector<const Tensor *> &inputs, const ir::Extents &extents, int repeat) const {
    RunResult result;
    std::vector<Tensor *> outputs;
    for (const auto &t : returned_outputs(plan().program, program_))
        result.outputs.emplace_back(t.dtype, defined_shape(plan().program, t.name, extents));
    for (auto &t : result.outputs) outputs.push_back(&t);
#ifdef EINFUSE_HAVE_CUDA
    reset_device_peak_bytes();
#endif
    result.times_us = execute(inputs, outputs, extents, repeat);
#ifdef EINFUSE_HAVE_CUDA
    if (backend_->cuda) result.ran = backend_->cuda->ran();
    result.device_peak_bytes = device_peak_bytes();
#endif
    return result;
}

void Compiled::run_into(const std::vector<const Tensor *> &inputs, const std::vector<Tensor *> &outputs,
                        const ir::Extents &extents, void *cuda_stream) const {
    const auto &wanted = returned_outputs(plan().program, program_);
    if (outputs.size() != wanted.size())
        throw UserError("expected " + std::to_string(wanted.size()) + " outputs, got " + std::to_string(outputs.size()));
    for (std::size_t i = 0; i < outputs.size(); ++i) {
        Shape shape = defined_shape(plan().program, wanted[i].name, extents);
        if (outputs[i]->dtype() != wanted[i].dtype || outputs[i]->shape() != shape)
            throw UserError("output " + wanted[i].name + " must be " + std::string(dtype_name(wanted[i].dtype)) +
                            " of the planned shape");
    }
    execute(inputs, outputs, extents, 0, cuda_stream);
}

bool Compiled::relaunch(void *cuda_stream) const {
#ifdef EINFUSE_HAVE_CUDA
    return backend_ && backend_->cuda && backend_->cuda->relaunch(cuda_stream);
#else
    (void)cuda_stream;
    return false;
#endif
}

std::vector<double> Compiled::execute(const std::vector<const Tensor *> &inputs, const std::vector<Tensor *> &outputs,
                                      const ir::Extents &extents, int repeat, void *cuda_stream) const {
    if (inputs.size() != program_.inputs.size())
        throw UserError("expected " + std::to_string(program_.inputs.size()) + " inputs, got " +
                        std::to_string(inputs.size()));
    for (std::size_t i = 0; i < inputs.size(); ++i)
        if (inputs[i]->dtype() != program_.inputs[i].dtype || inputs[i]->rank() != program_.inputs[i].rank)
            throw UserError("input " + program_.inputs[i].name + " does not match the compiled signature");
    bool host = options_.target == Target::Host;
    for (const auto *t : inputs)
        if (host && t->on_device()) throw UserError("the host target cannot read a tensor in device memory");
    for (const auto *t : outputs)
        if (host && t->on_device()) throw UserError("the host target cannot write a tensor in device memory");

    // Everything the kernels touch, by name: inputs, outputs, and the temporaries made here.
    const ir::Program &lowered = plan().program;
    std::vector<Tensor> temporaries;
    for (const auto &t : lowered.temporaries) temporaries.emplace_back(t.dtype, defined_shape(lowered, t.name, extents));
    std::map<std::string, const Tensor *> by_name;
    // A complex tensor is bound as the two real views its parts are (passes/SplitComplex).
    const auto &parts = lowered.complex_parts;
    std::deque<Tensor> views; // stable addresses
#ifdef EINFUSE_HAVE_CUDA
    // On the GPU a host complex tensor gets one device copy, whose views the kernels use: two
    // views copied separately would each download the other's elements stale.
    std::vector<std::pair<std::shared_ptr<void>, std::pair<const Tensor *, Tensor>>> staged;
#endif
    auto bind = [&](const std::string &name, const Tensor *t, bool is_output) {
        auto split = parts.find(name);
        if (split == parts.end()) {
            by_name[name] = t;
            return;
        }
#ifdef EINFUSE_HAVE_CUDA
        if (!host && !t->on_device()) {
            void *address = nullptr;
            const std::size_t bytes = static_cast<std::size_t>(t->storage_elements()) * dtype_size(t->dtype());
            auto memory = allocate_device_memory(std::max<std::size_t>(bytes, 1), &address);
            static_cast<DeviceBuffer *>(memory.get())->upload(t->storage_begin(), bytes);
            auto *element0 = static_cast<std::byte *>(address) - t->storage_offset() * static_cast<int64_t>(dtype_size(t->dtype()));
            staged.push_back({memory, {is_output ? t : nullptr,
                                       Tensor::borrow(element0, t->dtype(), t->shape(), t->strides(), true)}});
            t = &staged.back().second.second;
        }
#else
        (void)is_output;
#endif
        views.push_back(complex_part_view(*t, 0));
        by_name[split->second.first] = &views.back();
        views.push_back(complex_part_view(*t, 1));
        by_name[split->second.second] = &views.back();
    };
    const auto &input_names = parts.empty() ? lowered.inputs : program_.inputs;
    const auto &output_names = returned_outputs(lowered, program_);
#ifdef EINFUSE_HAVE_CUDA
    staged.reserve(inputs.size() + outputs.size()); // the views point into it
#endif
    for (std::size_t i = 0; i < inputs.size(); ++i) bind(input_names[i].name, inputs[i], false);
    for (std::size_t i = 0; i < outputs.size(); ++i) bind(output_names[i].name, outputs[i], true);
    for (std::size_t i = 0; i < temporaries.size(); ++i) by_name[lowered.temporaries[i].name] = &temporaries[i];

    std::vector<double> times_us;
    if (host) {
        if (!backend_->host) {
            backend_->host = std::make_unique<HostExecutor>(plan());
            ++counts_.compiles;
        }
        auto run_all = [&] {
            for (const auto &k : plan().kernels) {
                std::vector<const Tensor *> params;
                for (const auto &t : k.params) params.push_back(by_name.at(t.name));
                backend_->host->run(k, params, extents);
            }
        };
        run_all();
        if (repeat > 0) backend_->host->settle(); // time the code that stays, not the first call's
        for (int r = 0; r < repeat; ++r) {
            auto start = std::chrono::steady_clock::now();
            run_all();
            times_us.push_back(elapsed_us(start));
        }
        return times_us;
    }
#ifdef EINFUSE_HAVE_CUDA
    if (!backend_->cuda) {
        backend_->cuda = std::make_unique<CudaExecutor>(plan(), options_.arch);
        ++counts_.compiles;
    }
    times_us = backend_->cuda->run(plan(), by_name, extents, repeat, cuda_stream);
    if (!staged.empty()) {
        CudaContext::get().synchronize();
        backend_->cuda->forget_launches(); // they point into `staged`, freed on return
    }
    for (const auto &[memory, copy] : staged)
        if (const Tensor *out = copy.first)
            static_cast<const DeviceBuffer *>(memory.get())
                ->download(const_cast<void *>(out->storage_begin()),
                           static_cast<std::size_t>(out->storage_elements()) * dtype_size(out->dtype()));
    return times_us;
#else
    throw TargetError("the CUDA backend is not part of this build (configured with EINFUSE_ENABLE_CUDA=OFF)");
#endif
}

struct CompiledEinsum::Parts {
    frontend::EinsumAst ast;
    frontend::ResolvedEinsum resolved;
    ir::Program program;
};

namespace {
CompiledEinsum::Parts einsum_parts(frontend::EinsumAst ast, const std::vector<DType> &dtypes, const std::vector<int> &ranks);
}

CompiledEinsum::CompiledEinsum(std::string_view spec, const std::vector<DType> &dtypes, CompileOptions options,
                               const std::vector<int> &ranks)
    : CompiledEinsum(einsum_parts(frontend::parse_einsum(spec), dtypes, ranks), std::move(options)) {}

CompiledEinsum::CompiledEinsum(frontend::EinsumAst ast, const std::vector<DType> &dtypes, CompileOptions options,
                               const std::vector<int> &ranks)
    : CompiledEinsum(einsum_parts(std::move(ast), dtypes, ranks), std::move(options)) {}

CompiledEinsum::CompiledEinsum(Parts &&parts, CompileOptions options)
    : Compiled(std::move(parts.program), std::move(options)), ast_(std::move(parts.ast)),
      resolved_(std::move(parts.resolved)) {}

namespace {
CompiledEinsum::Parts einsum_parts(frontend::EinsumAst ast, const std::vector<DType> &dtypes, const std::vector<int> &ranks) {
    CompiledEinsum::Parts parts;
    parts.ast = std::move(ast);
    parts.resolved = frontend::resolve_einsum(parts.ast, ranks.empty() ? frontend::label_ranks(parts.ast) : ranks);
    // No dtypes: every operand f32 (the public API's default), known only once parsed.
    std::vector<DType> types = dtypes.empty() ? std::vector<DType>(parts.ast.operands.size(), DType::F32) : dtypes;
    parts.program = frontend::einsum_program(parts.resolved, types);
    return parts;
}
} // namespace

ir::Extents CompiledEinsum::bind(const std::vector<std::optional<Shape>> &shapes, const ir::Extents &dims,
                                 bool partial) const {
    return frontend::bind_einsum_extents(resolved_, shapes, dims, partial);
}

Shape CompiledEinsum::output_shape(const ir::Extents &extents) const {
    return frontend::einsum_operand_shape(resolved_, -1, extents);
}

Shape CompiledEinsum::operand_shape(int operand, const ir::Extents &extents) const {
    return frontend::einsum_operand_shape(resolved_, operand, extents);
}

CompiledProgram::CompiledProgram(std::string_view source, const std::map<std::string, DType> &dtypes,
                                 CompileOptions options, const std::vector<std::string> &outputs)
    : CompiledProgram(std::make_shared<const frontend::ProgramAst>(frontend::parse_program(source)), dtypes,
                      std::move(options), outputs) {}

CompiledProgram::CompiledProgram(std::shared_ptr<const frontend::ProgramAst> ast,
                                 const std::map<std::string, DType> &dtypes, CompileOptions options,
                                 const std::vector<std::string> &outputs)
    : Compiled(frontend::program_ir(*ast, dtypes, outputs), std::move(options)), ast_(std::move(ast)) {}

ir::Extents CompiledProgram::bind(const std::map<std::string, Shape> &shapes, const ir::Extents &dims,
                                  bool partial) const {
    return frontend::bind_program_extents(*ast_, shapes, dims, partial);
}

Shape CompiledProgram::tensor_shape(const std::string &tensor, const ir::Extents &extents) const {
    return frontend::program_tensor_shape(*ast_, tensor, extents);
}

std::string emit(const Compiled &compiled, std::string_view kind, std::string_view name) {
    const auto &kernels = compiled.plan().kernels;
    if (kind == "plan") {
        return "\"" + compiled.program().source + "\" for " + std::string(target_name(compiled.options().target)) +
               "\n" + compiled.plan().explain();
    }
    if (kind == "cu") return cuda_backend::emit_cuda(compiled.plan(), EINFUSE_VERSION, name);
    if (kind == "h") return cuda_backend::emit_cuda_header(compiled.plan(), EINFUSE_VERSION, name);
    if (kind == "llvm") {
#ifdef EINFUSE_HAVE_LLVM
        return llvm_backend::emit_llvm_ir(kernels, compiled.plan().target);
#else
        throw TargetError("--emit llvm needs the host backend, which is not part of this build");
#endif
    }
    if (kind == "ptx") {
#ifdef EINFUSE_HAVE_CUDA
        return cuda_ptx(cuda_backend::emit_cuda(cuda_backend::cuda_naming(compiled.plan(), name).kernels, EINFUSE_VERSION),
                        compiled.options().arch.empty() ? "sm_90" : compiled.options().arch);
#else
        throw TargetError("--emit ptx needs the CUDA backend, which is not part of this build");
#endif
    }
    throw UserError("unknown --emit kind '" + std::string(kind) + "' (expected cu, h, ptx, llvm or plan)");
}

Tensor einsum(std::string_view spec, const std::vector<Tensor> &inputs, Target target) {
    std::vector<DType> dtypes;
    std::vector<std::optional<Shape>> shapes;
    std::vector<int> ranks;
    std::vector<const Tensor *> ptrs;
    for (const auto &t : inputs) {
        dtypes.push_back(t.dtype());
        shapes.push_back(t.shape());
        ranks.push_back(t.rank());
        ptrs.push_back(&t);
    }
    CompiledEinsum compiled(spec, dtypes, CompileOptions{target, "", 0}, ranks);
    ir::Extents extents = compiled.bind(shapes, {});
    compiled.plan_for(extents);
    return compiled.run(ptrs, extents).outputs.front();
}

Tensor einsum_reference(const CompiledEinsum &compiled, const std::vector<const Tensor *> &inputs,
                        const ir::Extents &extents) {
    return compiled.reference(inputs, extents).front();
}

#ifdef EINFUSE_HAVE_CUDA
std::shared_ptr<void> allocate_device_memory(std::size_t bytes, void **address) {
    CudaContext::get();
    auto buffer = std::make_shared<DeviceBuffer>(bytes);
    *address = reinterpret_cast<void *>(buffer->address());
    return buffer;
}

void download_device_memory(const std::shared_ptr<void> &memory, void *host, std::size_t bytes) {
    CudaContext::get();
    static_cast<const DeviceBuffer *>(memory.get())->download(host, bytes);
}
void synchronize_device() { CudaContext::get().synchronize(); }
#else
std::shared_ptr<void> allocate_device_memory(std::size_t, void **) {
    throw TargetError("device memory needs the CUDA backend, which is not part of this build");
}
void download_device_memory(const std::shared_ptr<void> &, void *, std::size_t) {
    throw TargetError("device memory needs the CUDA backend, which is not part of this build");
}
void synchronize_device() {}
#endif

double tolerance(DType dtype, int64_t n) {
    // A stated bound, the same for every kernel: 8 u (8 + sqrt(n)), u the accumulation type's
    // machine epsilon (f32 for f16/bf16), relative to max(|reference|, 1). The constant part
    // covers the elementwise work (a few ulps per function); sqrt(n) is how round-to-nearest
    // errors of n terms grow when they are independent (Higham, Accuracy and Stability, 4.2),
    // which pairwise and blocked sums reach with room to spare. A serial sum whose errors are
    // not independent exceeds it, as it should: 2^25 f32 ones summed one by one give 2^24
    // (error 0.5, bound 5.5e-3). Storing to f16 or bf16 then rounds once more: 2^-11 or 2^-8
    // of the value, doubled for margin. Integers are exact.
    double root = 8.0 + std::sqrt(static_cast<double>(std::max<int64_t>(n, 0)));
    if (is_integer(dtype)) return 0.0; // bool too
    if (dtype == DType::F64) return 8.0 * std::numeric_limits<double>::epsilon() * root;
    double accumulate = 8.0 * std::numeric_limits<float>::epsilon() * root;
    double store = dtype == DType::F16 ? 0x1p-10 : dtype == DType::BF16 ? 0x1p-7 : 0.0;
    return accumulate + store;
}

int64_t reduction_length(const Compiled &compiled, const ir::Extents &extents) {
    return compiled.reduction_length(extents);
}

} // namespace einfuse
