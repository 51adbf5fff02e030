// The public C++ API (include/einfuse/einfuse.hpp) on top of the internal layer (Einfuse.h):
// public views become borrowed Tensors, internal errors become einfuse::Error with the rendered
// diagnostic, and compiled programs live in a process-wide cache keyed by everything that
// decides the code.
#include "einfuse/einfuse.hpp"

#include "api/Einfuse.h"
#include "backends/cuda/CudaPrinter.h"
#include "support/Checked.h"
#include "support/Error.h"

#include <algorithm>
#include <mutex>
#include <numeric>
#include <sstream>

namespace einfuse {

// ---------------------------------------------------------------------------------------------
// Types and errors

namespace {

DType internal(ScalarType t) {
    switch (t) {
    case ScalarType::F16: return DType::F16;
    case ScalarType::BF16: return DType::BF16;
    case ScalarType::F32: return DType::F32;
    case ScalarType::F64: return DType::F64;
    case ScalarType::I32: return DType::I32;
    case ScalarType::I64: return DType::I64;
    }
    throw InternalError("unknown ScalarType");
}

ScalarType external(DType t) {
    switch (t) {
    case DType::F16: return ScalarType::F16;
    case DType::BF16: return ScalarType::BF16;
    case DType::F32: return ScalarType::F32;
    case DType::F64: return ScalarType::F64;
    case DType::I32: return ScalarType::I32;
    case DType::I64: return ScalarType::I64;
    }
    throw InternalError("unknown DType");
}

[[noreturn]] void input_error(const std::string &message) {
    throw Error(ErrorKind::Input, message, "einfuse: error: " + message + "\n");
}

/** Runs f; internal exceptions leave as einfuse::Error, user errors rendered against `source`
 * (the expression their ranges point into). */
template <class F> auto guarded(std::string_view source, F &&f) -> decltype(f()) {
    try {
        return f();
    } catch (const Error &) {
        throw;
    } catch (const UserError &e) {
        throw Error(ErrorKind::Input, e.diagnostic().message, render(e.diagnostic(), source));
    } catch (const TargetError &e) {
        throw Error(ErrorKind::Target, e.what(), "einfuse: error: " + std::string(e.what()) + "\n");
    } catch (const InternalError &e) {
        throw Error(ErrorKind::Internal, e.what(), "einfuse: internal error: " + std::string(e.what()) + "\n");
    }
}

/** Bytes of n elements of t: an Input error past int64, never a wrapped count. */
std::size_t array_bytes(int64_t n, ScalarType t) {
    return static_cast<std::size_t>(guarded("", [&] { return checked_bytes(n, scalar_type_size(t), "an array"); }));
}

std::vector<int64_t> c_strides(const std::vector<int64_t> &shape) { return contiguous_strides(shape); }

/** A borrowed Tensor over a public view. Only CUDA device 0 exists for the runtime. */
Tensor borrow(const View &v) {
    if (v.device().kind == DeviceKind::Cuda && v.device().id != 0)
        input_error("a view is on CUDA device " + std::to_string(v.device().id) + "; einfuse runs on device 0");
    return Tensor::borrow(v.data(), internal(v.dtype()), v.shape(), v.strides(), v.device().kind == DeviceKind::Cuda);
}

} // namespace

std::string_view scalar_type_name(ScalarType t) { return dtype_name(internal(t)); }
std::size_t scalar_type_size(ScalarType t) { return dtype_size(internal(t)); }

Error::Error(ErrorKind kind, std::string message, const std::string &rendered)
    : std::runtime_error(rendered), kind_(kind), message_(std::move(message)) {}

// ---------------------------------------------------------------------------------------------
// Views, DLPack, arrays

View::View(void *data, ScalarType dtype, std::vector<std::int64_t> shape, std::vector<std::int64_t> strides,
           Device device)
    : data_(data), dtype_(dtype), shape_(std::move(shape)), strides_(std::move(strides)), device_(device) {
    for (int64_t s : shape_)
        if (s < 0) input_error("negative dimension size " + std::to_string(s));
    if (strides_.empty()) strides_ = c_strides(shape_);
    if (strides_.size() != shape_.size())
        input_error("a view has " + std::to_string(shape_.size()) + " dimensions but " +
                    std::to_string(strides_.size()) + " strides");
    guarded("", [&] { return checked_reach(shape_, strides_, static_cast<int64_t>(scalar_type_size(dtype_))); });
}

std::int64_t View::numel() const { return guarded("", [&] { return element_count(shape_); }); }
bool View::is_contiguous() const { return strides_ == c_strides(shape_); }

View from_dlpack(const DLTensor &t) {
    Device device;
    switch (t.device.device_type) {
    case kDLCPU:
    case kDLCUDAHost: device = Device::cpu(); break;
    case kDLCUDA:
    case kDLCUDAManaged: device = Device::cuda(t.device.device_id); break;
    default: input_error("DLPack device type " + std::to_string(t.device.device_type) + " is not supported");
    }
    if (t.dtype.lanes != 1) input_error("DLPack vector types (lanes > 1) are not supported");
    std::optional<ScalarType> dtype;
    int bits = t.dtype.bits;
    if (t.dtype.code == kDLFloat) dtype = bits == 16 ? ScalarType::F16 : bits == 32 ? ScalarType::F32 : bits == 64 ? ScalarType::F64 : dtype;
    if (t.dtype.code == kDLBfloat && bits == 16) dtype = ScalarType::BF16;
    if (t.dtype.code == kDLInt) dtype = bits == 32 ? ScalarType::I32 : bits == 64 ? ScalarType::I64 : dtype;
    if (!dtype)
        input_error("DLPack dtype (code " + std::to_string(t.dtype.code) + ", " + std::to_string(bits) +
                    " bits) is not an einfuse element type");
    if (t.ndim < 0 || (t.ndim > 0 && !t.shape)) input_error("a DLTensor without a shape");
    std::vector<int64_t> shape(t.shape, t.shape + t.ndim);
    std::vector<int64_t> strides = t.strides ? std::vector<int64_t>(t.strides, t.strides + t.ndim) : std::vector<int64_t>{};
    void *data = t.data ? static_cast<char *>(t.data) + t.byte_offset : nullptr;
    return View(data, *dtype, std::move(shape), std::move(strides), device);
}

DLTensor to_dlpack(const View &v) {
    DLTensor t{};
    t.data = v.data();
    t.device.device_type = v.device().kind == DeviceKind::Cuda ? kDLCUDA : kDLCPU;
    t.device.device_id = v.device().id;
    t.ndim = v.ndim();
    switch (v.dtype()) {
    case ScalarType::F16: t.dtype = {kDLFloat, 16, 1}; break;
    case ScalarType::BF16: t.dtype = {kDLBfloat, 16, 1}; break;
    case ScalarType::F32: t.dtype = {kDLFloat, 32, 1}; break;
    case ScalarType::F64: t.dtype = {kDLFloat, 64, 1}; break;
    case ScalarType::I32: t.dtype = {kDLInt, 32, 1}; break;
    case ScalarType::I64: t.dtype = {kDLInt, 64, 1}; break;
    }
    // DLTensor's fields are not const; einfuse's views are never written through them.
    t.shape = const_cast<int64_t *>(v.shape().data());
    t.strides = const_cast<int64_t *>(v.strides().data());
    t.byte_offset = 0;
    return t;
}

Array::Array(ScalarType dtype, std::vector<std::int64_t> shape, Device device)
    : dtype_(dtype), shape_(std::move(shape)), device_(device) {
    std::int64_t n = guarded("", [&] { return element_count(shape_); });
    std::size_t bytes = array_bytes(n, dtype_);
    if (device_.kind == DeviceKind::Cpu) {
        bytes_.resize(bytes);
        return;
    }
    if (device_.id != 0) input_error("einfuse drives CUDA device 0 only, not device " + std::to_string(device_.id));
    device_memory_ = guarded("", [&] { return allocate_device_memory(bytes, &device_data_); });
}

std::int64_t Array::numel() const { return guarded("", [&] { return element_count(shape_); }); }
std::size_t Array::nbytes() const { return array_bytes(numel(), dtype_); }
void *Array::data() { return device_memory_ ? device_data_ : bytes_.data(); }
const void *Array::data() const { return device_memory_ ? device_data_ : bytes_.data(); }

void Array::check_type(ScalarType t) const {
    if (device_memory_) input_error("the array lives on the CUDA device: the host cannot read it in place");
    if (t != dtype_)
        input_error("the array holds " + std::string(scalar_type_name(dtype_)) + ", not " +
                    std::string(scalar_type_name(t)));
}

std::vector<double> Array::to_doubles() const {
    if (device_memory_) { // copy to the host, then read as a host array
        Array host(dtype_, shape_);
        guarded("", [&] { download_device_memory(device_memory_, host.data(), nbytes()); });
        return host.to_doubles();
    }
    Tensor t = borrow(view());
    std::vector<double> out(static_cast<std::size_t>(numel()));
    for (std::size_t i = 0; i < out.size(); ++i) out[i] = t.load(static_cast<int64_t>(i));
    return out;
}

View Array::view() { return View(data(), dtype_, shape_, {}, device_); }
View Array::view() const { return View(data(), dtype_, shape_, {}, device_); }

// ---------------------------------------------------------------------------------------------
// Compiled kernels and their cache

Signature Signature::einsum(std::vector<ScalarType> dtypes, std::vector<int> ranks) {
    Signature s;
    s.dtypes = std::move(dtypes);
    s.ranks = std::move(ranks);
    return s;
}

Signature Signature::program(std::map<std::string, ScalarType> input_dtypes, std::vector<std::string> outputs) {
    Signature s;
    s.input_dtypes = std::move(input_dtypes);
    s.outputs = std::move(outputs);
    return s;
}

Signature Signature::of(const std::vector<View> &inputs) {
    Signature s;
    for (const auto &v : inputs) {
        s.dtypes.push_back(v.dtype());
        s.ranks.push_back(v.ndim());
    }
    return s;
}

namespace detail {

struct KernelState {
    std::string expr;
    Signature signature;
    DeviceKind target = DeviceKind::Cpu;
    KernelOptions options;
    std::unique_ptr<Compiled> compiled;
    CompiledEinsum *einsum = nullptr;   // compiled, when expr is an einsum
    CompiledProgram *program = nullptr; // compiled, when expr is a program
    std::optional<ir::Extents> planned; // the sizes of the current plan, once run
    std::vector<std::uint64_t> last_call; // the views of the last run on device views only
    std::mutex mutex;                   // run() re-plans and compiles lazily: one at a time
};

} // namespace detail

namespace {

/** The internal compiled form of expr for a signature (the work behind compile()). */
void compile_into(detail::KernelState &s) {
    CompileOptions options{s.target == DeviceKind::Cuda ? Target::Cuda : Target::Host, s.options.arch,
                           s.options.threads};
    options.allow_tf32 = s.options.allow_tf32;
    if (frontend::is_program(s.expr)) {
        std::map<std::string, DType> dtypes;
        for (const auto &[name, t] : s.signature.input_dtypes) dtypes[name] = internal(t);
        if (!s.signature.dtypes.empty()) {
            auto inputs = frontend::program_inputs(frontend::parse_program(s.expr));
            if (inputs.size() != s.signature.dtypes.size())
                throw UserError("the program reads " + std::to_string(inputs.size()) + " inputs, but the signature gives " +
                                std::to_string(s.signature.dtypes.size()) + " dtypes");
            for (std::size_t i = 0; i < inputs.size(); ++i) dtypes[inputs[i].first] = internal(s.signature.dtypes[i]);
        }
        auto p = std::make_unique<CompiledProgram>(s.expr, dtypes, options, s.signature.outputs);
        s.program = p.get();
        s.compiled = std::move(p);
        return;
    }
    if (!s.signature.outputs.empty() || !s.signature.input_dtypes.empty())
        throw UserError("an einsum's signature gives dtypes (and ranks) by operand, not by name");
    std::vector<DType> dtypes;
    for (ScalarType t : s.signature.dtypes) dtypes.push_back(internal(t));
    if (dtypes.empty()) dtypes.assign(frontend::parse_einsum(s.expr).operands.size(), DType::F32);
    auto e = std::make_unique<CompiledEinsum>(s.expr, dtypes, options, s.signature.ranks);
    s.einsum = e.get();
    s.compiled = std::move(e);
}

std::string cache_key(std::string_view expr, const Signature &sig, DeviceKind target, const KernelOptions &o) {
    std::ostringstream key;
    key << expr << '\x1f' << (target == DeviceKind::Cuda ? "cuda" : "host") << '\x1f' << o.arch << '\x1f'
        << o.threads << '\x1f' << o.allow_tf32 << '\x1f';
    for (ScalarType t : sig.dtypes) key << scalar_type_name(t) << ',';
    key << '\x1f';
    for (int r : sig.ranks) key << r << ',';
    key << '\x1f';
    for (const auto &[n, t] : sig.input_dtypes) key << n << '=' << scalar_type_name(t) << ',';
    key << '\x1f';
    for (const auto &n : sig.outputs) key << n << ',';
    return key.str();
}

struct Cache {
    std::mutex mutex;
    std::map<std::string, std::shared_ptr<detail::KernelState>> kernels;
    CacheStats stats;
};

Cache &cache() {
    static Cache c;
    return c;
}

std::vector<TensorSpec> specs(const std::vector<ir::TensorInfo> &ts) {
    std::vector<TensorSpec> out;
    for (const auto &t : ts) out.push_back({t.name, external(t.dtype), t.rank});
    return out;
}

detail::KernelState &checked(const std::shared_ptr<detail::KernelState> &s) {
    if (!s) input_error("the Kernel is empty (default-constructed)");
    return *s;
}

/** Index sizes for a run, from the inputs' shapes; for a program whose outputs carry indices
 * that no input has (C[i] = 1), from the outputs' shapes as well. */
ir::Extents bind(const detail::KernelState &s, const std::vector<View> &inputs, const std::vector<View> *outputs) {
    if (s.einsum) {
        std::vector<std::optional<Shape>> shapes;
        for (const auto &v : inputs) shapes.emplace_back(v.shape());
        if (shapes.size() != s.einsum->ast().operands.size())
            throw UserError("the einsum has " + std::to_string(s.einsum->ast().operands.size()) + " operands, got " +
                            std::to_string(shapes.size()) + " inputs");
        return s.einsum->bind(shapes, {});
    }
    const auto &params = s.program->program().inputs;
    if (inputs.size() != params.size())
        throw UserError("the program reads " + std::to_string(params.size()) + " inputs, got " +
                        std::to_string(inputs.size()));
    std::map<std::string, Shape> shapes;
    for (std::size_t i = 0; i < inputs.size(); ++i) shapes[params[i].name] = inputs[i].shape();
    try {
        return s.program->bind(shapes, {});
    } catch (const UserError &) {
        if (!outputs) throw;
        ir::Extents dims;
        const auto &outs = s.program->program().outputs;
        for (std::size_t o = 0; o < outs.size() && o < outputs->size(); ++o)
            for (const auto &d : s.program->program().definitions)
                if (d.tensor == outs[o].name && d.indices.size() == (*outputs)[o].shape().size())
                    for (std::size_t k = 0; k < d.indices.size(); ++k) dims[d.indices[k]] = (*outputs)[o].shape()[k];
        try {
            return s.program->bind(shapes, dims);
        } catch (const UserError &) {
        }
        throw; // the first error: the retry's would speak of --dims, which the caller never gave
    }
}

/** Plans for `extents` unless the current plan already is for them. Caller holds s.mutex. */
void plan_for(detail::KernelState &s, const ir::Extents &extents) {
    if (s.planned && *s.planned == extents) return;
    s.compiled->plan_for(extents);
    s.planned = extents;
}

} // namespace

Kernel compile(std::string_view expr, const Signature &signature, DeviceKind target, const KernelOptions &options) {
    return guarded(expr, [&] {
        Cache &c = cache();
        std::string key = cache_key(expr, signature, target, options);
        {
            std::lock_guard<std::mutex> lock(c.mutex);
            if (auto it = c.kernels.find(key); it != c.kernels.end()) {
                ++c.stats.hits;
                Kernel k;
                k.state_ = it->second;
                return k;
            }
        }
        // Compiled outside the lock; when two threads race, the first to insert wins.
        auto state = std::make_shared<detail::KernelState>();
        state->expr = std::string(expr);
        state->signature = signature;
        state->target = target;
        state->options = options;
        compile_into(*state);
        std::lock_guard<std::mutex> lock(c.mutex);
        ++c.stats.misses;
        Kernel k;
        k.state_ = c.kernels.emplace(key, std::move(state)).first->second;
        return k;
    });
}

CacheStats compile_cache_stats() {
    std::lock_guard<std::mutex> lock(cache().mutex);
    CacheStats s = cache().stats;
    s.entries = cache().kernels.size();
    return s;
}

void clear_compile_cache() {
    std::lock_guard<std::mutex> lock(cache().mutex);
    cache().kernels.clear();
}

void Kernel::run(const std::vector<View> &inputs, const std::vector<View> &outputs) const {
    run(inputs, outputs, nullptr);
}

namespace {

/** Everything a run depends on in its views: addresses, types, shapes and strides, in order; empty
 * when a view is on the host (such a run copies, and is not repeated as it is). */
std::vector<std::uint64_t> call_signature(const std::vector<View> &inputs, const std::vector<View> &outputs) {
    std::vector<std::uint64_t> sig;
    sig.reserve(8 * (inputs.size() + outputs.size()) + 2);
    for (const auto *views : {&inputs, &outputs}) {
        sig.push_back(views->size());
        for (const View &v : *views) {
            if (v.device().kind != DeviceKind::Cuda) return {};
            sig.push_back(reinterpret_cast<std::uint64_t>(v.data()));
            sig.push_back(static_cast<std::uint64_t>(v.dtype()) << 32 | static_cast<std::uint64_t>(v.device().id));
            sig.push_back(v.shape().size());
            for (auto x : v.shape()) sig.push_back(static_cast<std::uint64_t>(x));
            for (auto x : v.strides()) sig.push_back(static_cast<std::uint64_t>(x));
        }
    }
    return sig;
}

} // namespace

void Kernel::run(const std::vector<View> &inputs, const std::vector<View> &outputs, void *cuda_stream) const {
    detail::KernelState &s = checked(state_);
    // The same device views as the last run: its checks hold and its launches are queued again.
    std::vector<std::uint64_t> sig = s.target == DeviceKind::Cuda ? call_signature(inputs, outputs)
                                                                 : std::vector<std::uint64_t>{};
    guarded(s.expr, [&] {
        if (!sig.empty()) {
            std::lock_guard<std::mutex> lock(s.mutex);
            if (sig == s.last_call && s.compiled->relaunch(cuda_stream)) return;
        }
        std::vector<Tensor> ins, outs;
        for (const auto &v : inputs) ins.push_back(borrow(v));
        for (const auto &v : outputs) outs.push_back(borrow(v));
        std::vector<const Tensor *> in_ptrs;
        std::vector<Tensor *> out_ptrs;
        for (const auto &t : ins) in_ptrs.push_back(&t);
        for (auto &t : outs) out_ptrs.push_back(&t);
        std::lock_guard<std::mutex> lock(s.mutex);
        ir::Extents extents = bind(s, inputs, &outputs);
        plan_for(s, extents);
        s.last_call.clear();
        s.compiled->run_into(in_ptrs, out_ptrs, extents, cuda_stream);
        s.last_call = std::move(sig);
    });
}

std::vector<Array> Kernel::run(const std::vector<View> &inputs) const {
    detail::KernelState &s = checked(state_);
    std::vector<Array> results;
    std::vector<View> views;
    guarded(s.expr, [&] {
        std::lock_guard<std::mutex> lock(s.mutex);
        ir::Extents extents = bind(s, inputs, nullptr);
        for (const auto &t : s.compiled->program().outputs) {
            Shape shape = s.einsum ? s.einsum->output_shape(extents) : s.program->tensor_shape(t.name, extents);
            // Results live where the inputs do: on the device when any input is there.
            bool on_device = std::any_of(inputs.begin(), inputs.end(),
                                         [](const View &v) { return v.device().kind == DeviceKind::Cuda; });
            results.emplace_back(external(t.dtype), shape, on_device ? Device::cuda() : Device::cpu());
        }
    });
    for (auto &a : results) views.push_back(a.view());
    run(inputs, views);
    return results;
}

std::string Kernel::plan() const {
    detail::KernelState &s = checked(state_);
    std::lock_guard<std::mutex> lock(s.mutex);
    return guarded(s.expr, [&] { return emit(*s.compiled, "plan"); });
}

const std::string &Kernel::expression() const { return checked(state_).expr; }
DeviceKind Kernel::target() const { return checked(state_).target; }
std::vector<TensorSpec> Kernel::inputs() const { return specs(checked(state_).compiled->program().inputs); }
std::vector<TensorSpec> Kernel::outputs() const { return specs(checked(state_).compiled->program().outputs); }

// ---------------------------------------------------------------------------------------------
// One-shot calls

namespace {
DeviceKind where(const std::vector<View> &inputs, const View *output) {
    bool cuda = output && output->device().kind == DeviceKind::Cuda;
    for (const auto &v : inputs) cuda = cuda || v.device().kind == DeviceKind::Cuda;
    return cuda ? DeviceKind::Cuda : DeviceKind::Cpu;
}
} // namespace

void einsum_into(std::string_view spec, const std::vector<View> &inputs, const View &output,
                 const KernelOptions &options) {
    Kernel k = compile(spec, Signature::of(inputs), where(inputs, &output), options);
    if (k.outputs().size() != 1)
        input_error("the program has " + std::to_string(k.outputs().size()) +
                    " outputs; einsum_into computes one (use compile() and Kernel::run)");
    k.run(inputs, {output});
}

Array einsum(std::string_view spec, const std::vector<View> &inputs, const KernelOptions &options) {
    Kernel k = compile(spec, Signature::of(inputs), where(inputs, nullptr), options);
    if (k.outputs().size() != 1)
        input_error("the program has " + std::to_string(k.outputs().size()) +
                    " outputs; einsum returns one (use compile() and Kernel::run)");
    return std::move(k.run(inputs).front());
}

// ---------------------------------------------------------------------------------------------
// Embedding

namespace {

/** A CUDA-target compiled form of `expr` (a host Kernel's plan would differ), planned for
 * nothing yet: embed() plans it. */
std::unique_ptr<detail::KernelState> cuda_state(std::string_view expr, const Signature &signature) {
    auto s = std::make_unique<detail::KernelState>();
    s->expr = std::string(expr);
    s->signature = signature;
    s->target = DeviceKind::Cuda;
    compile_into(*s);
    return s;
}

EmbeddedSource embed(detail::KernelState &s, const std::optional<ir::Extents> &sized) {
    ir::Extents extents = sized.value_or(ir::Extents{});
    if (sized) s.compiled->plan_for(extents);
    const passes::Plan &plan = s.compiled->plan();
    EmbeddedSource out;
    out.source = emit(*s.compiled, "cu");
    out.inputs = specs(plan.program.inputs);
    out.outputs = specs(plan.program.outputs);
    out.temporaries = specs(plan.program.temporaries);
    out.sizes = Sizes(extents.begin(), extents.end());
    auto role = [&](const std::string &name) {
        for (const auto &t : plan.program.inputs)
            if (t.name == name) return ParamRole::Input;
        for (const auto &t : plan.program.outputs)
            if (t.name == name) return ParamRole::Output;
        return ParamRole::Temporary;
    };
    auto rule = cuda_backend::cuda_launch_rule();
    for (const auto &k : plan.kernels) {
        EmbeddedKernel e;
        e.name = k.name;
        e.launcher = k.name + "_launch";
        e.statement = k.comment;
        e.strategy = std::string(ir::strategy_name(k.strategy));
        e.num_inputs = k.num_inputs;
        auto indices = cuda_backend::cuda_param_indices(k);
        for (std::size_t p = 0; p < k.params.size(); ++p)
            e.params.push_back({k.params[p].name, external(k.params[p].dtype), indices[p], role(k.params[p].name)});
        e.sizes = k.index_vars;
        e.launch.block = rule.block;
        e.launch.max_grid = rule.max_grid;
        e.launch.parallel = ir::parallel_vars(k);
        std::string product;
        for (const auto &v : e.launch.parallel) product += (product.empty() ? "" : "*") + v;
        e.launch.rule = "grid = min(ceil(" + (product.empty() ? std::string("1") : product) + " / " +
                        std::to_string(rule.block) + "), " + std::to_string(rule.max_grid) +
                        "), block = " + std::to_string(rule.block);
        std::vector<int64_t> values;
        for (const auto &v : k.index_vars)
            if (auto it = extents.find(v); it != extents.end()) values.push_back(it->second);
        if (sized && values.size() == k.index_vars.size())
            e.launch.grid = cuda_backend::cuda_launch_config(k, values).grid;
        out.kernels.push_back(std::move(e));
    }
    return out;
}

} // namespace

EmbeddedSource cuda_source(std::string_view expr, const Signature &signature, const Sizes &sizes) {
    return guarded(expr, [&] {
        auto state = cuda_state(expr, signature);
        detail::KernelState &s = *state;
        std::optional<ir::Extents> extents;
        if (!sizes.empty()) { // bound as `einfuse compile --dims` binds them: checked, with carets
            ir::Extents dims(sizes.begin(), sizes.end());
            extents = s.einsum ? s.einsum->bind(std::vector<std::optional<Shape>>(s.einsum->ast().operands.size()), dims)
                               : s.program->bind({}, dims);
        }
        return embed(s, extents);
    });
}

std::string Kernel::cuda_source() const {
    detail::KernelState &s = checked(state_);
    std::optional<ir::Extents> planned;
    {
        std::lock_guard<std::mutex> lock(s.mutex);
        planned = s.planned;
    }
    return guarded(s.expr, [&] {
        return embed(*cuda_state(s.expr, s.signature), planned).source;
    });
}

} // namespace einfuse
