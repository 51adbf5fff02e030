// The public C++ API's kernels (include/einfuse/einfuse.hpp) on top of the internal layer
// (exec/Compiled.h): compiled programs live in the library's one cache (also the C ABI's), keyed by
// everything that decides the code; runs bind sizes from the views and re-plan when they change.
#include "api/PublicApiDetail.h"

#include "exec/Compiled.h"
#include "api/LruCache.h"
#include "backends/cuda/CudaPrinter.h"
#include "ir/Reference.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <mutex>

namespace einfuse {

using namespace public_api;

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
    std::shared_ptr<const ParsedExpression> parsed; // inspect()'s parse of expr, when given
    Signature signature;
    DeviceKind target = DeviceKind::Cpu;
    KernelOptions options;
    std::unique_ptr<Compiled> compiled;
    CompiledEinsum *einsum = nullptr;   // compiled, when expr is an einsum
    CompiledProgram *program = nullptr; // compiled, when expr is a program
    std::optional<ir::Extents> planned; // the sizes of the current plan, once run
    std::vector<std::int64_t> planned_shapes; // the views' shapes `planned` was bound from by run()
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
    switch (s.options.gemm) {
    case GemmPath::Auto: options.gemm = GemmRunner::Auto; break;
    case GemmPath::Library: options.gemm = GemmRunner::Library; break;
    case GemmPath::Emitted: options.gemm = GemmRunner::Emitted; break;
    case GemmPath::Loops: options.gemm = GemmRunner::LoopNest; break;
    }
    if (frontend::is_program(s.expr)) {
        std::map<std::string, DType> dtypes;
        for (const auto &[name, t] : s.signature.input_dtypes) dtypes[name] = internal(t);
        auto ast = s.parsed ? s.parsed->program // parsed once
                            : std::make_shared<const frontend::ProgramAst>(frontend::parse_program(s.expr));
        if (!s.signature.dtypes.empty()) {
            auto inputs = frontend::program_inputs(*ast);
            if (inputs.size() != s.signature.dtypes.size())
                throw UserError("the program reads " + std::to_string(inputs.size()) + " inputs, but the signature gives " +
                                std::to_string(s.signature.dtypes.size()) + " dtypes");
            for (std::size_t i = 0; i < inputs.size(); ++i) dtypes[inputs[i].first] = internal(s.signature.dtypes[i]);
        }
        auto p = std::make_unique<CompiledProgram>(std::move(ast), dtypes, options, s.signature.outputs);
        s.program = p.get();
        s.compiled = std::move(p);
        return;
    }
    if (!s.signature.outputs.empty() || !s.signature.input_dtypes.empty())
        throw UserError("an einsum's signature gives dtypes (and ranks) by operand, not by name");
    std::vector<DType> dtypes;
    for (ScalarType t : s.signature.dtypes) dtypes.push_back(internal(t));
    auto e = s.parsed ? std::make_unique<CompiledEinsum>(*s.parsed->einsum, dtypes, options, s.signature.ranks)
                      : std::make_unique<CompiledEinsum>(s.expr, dtypes, options, s.signature.ranks);
    s.einsum = e.get();
    s.compiled = std::move(e);
}

/** Everything that decides the code, as text. Built with appends, not a stream: it is made on
 * every einsum()/einsum_into() and C ABI einfuse_einsum call, a cache hit included. */
std::string cache_key(std::string_view expr, const Signature &sig, DeviceKind target, const KernelOptions &o) {
    std::string key;
    key.reserve(expr.size() + o.arch.size() + 16 + 8 * (sig.dtypes.size() + sig.ranks.size()));
    auto field = [&](std::string_view text) { key.append(text).push_back('\x1f'); };
    auto item = [&](std::string_view text) { key.append(text).push_back(','); };
    field(expr);
    field(target == DeviceKind::Cuda ? "cuda" : "host");
    field(o.arch);
    field(std::to_string(o.threads));
    field(o.allow_tf32 ? "1" : "0");
    field(std::to_string(static_cast<int>(o.gemm)));
    for (ScalarType t : sig.dtypes) item(scalar_type_name(t));
    key.push_back('\x1f');
    for (int r : sig.ranks) item(std::to_string(r));
    key.push_back('\x1f');
    for (const auto &[n, t] : sig.input_dtypes) item(n + "=" + std::string(scalar_type_name(t)));
    key.push_back('\x1f');
    for (const auto &n : sig.outputs) item(n);
    return key;
}

/** The library's one compile cache: the C++ API's compile() and einsum calls and the C ABI's
 * einfuse_einsum all go through it. It holds the EINFUSE_CACHE_ENTRIES (a positive integer;
 * default kDefaultCacheEntries) most recently used kernels; each holds its lowered program and,
 * once run, its machine code, so an unbounded cache would grow with every new expression. */
constexpr std::size_t kDefaultCacheEntries = 256;

std::size_t cache_capacity() {
    const char *text = std::getenv("EINFUSE_CACHE_ENTRIES");
    if (!text || !*text) return kDefaultCacheEntries;
    char *end = nullptr;
    unsigned long long n = std::strtoull(text, &end, 10);
    return *end == '\0' && n > 0 ? static_cast<std::size_t>(n) : kDefaultCacheEntries;
}

LruCache<detail::KernelState> &cache() {
    static auto *c = new LruCache<detail::KernelState>(cache_capacity()); // never destroyed: usable from atexit handlers
    return *c;
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
ir::Extents bind_views(const detail::KernelState &s, const std::vector<View> &inputs, const std::vector<View> *outputs) {
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
void plan_state(detail::KernelState &s, const ir::Extents &extents) {
    if (s.planned && *s.planned == extents) return;
    s.planned_shapes.clear();
    s.compiled->plan_for(extents);
    s.planned = extents;
}

} // namespace

namespace {
std::shared_ptr<detail::KernelState> new_state(std::string_view expr, const Signature &signature, DeviceKind target,
                                               const KernelOptions &options,
                                               std::shared_ptr<const detail::ParsedExpression> parsed = nullptr) {
    auto state = std::make_shared<detail::KernelState>();
    state->expr = std::string(expr);
    state->parsed = std::move(parsed);
    state->signature = signature;
    state->target = target;
    state->options = options;
    compile_into(*state);
    return state;
}
} // namespace

Kernel compile(std::string_view expr, const Signature &signature, DeviceKind target, const KernelOptions &options) {
    return guarded(expr, [&] {
        Kernel k;
        k.state_ = cache().get_or_make(cache_key(expr, signature, target, options),
                                       [&] { return new_state(expr, signature, target, options); });
        return k;
    });
}

Kernel compile_uncached(std::string_view expr, const Signature &signature, DeviceKind target,
                        const KernelOptions &options) {
    return guarded(expr, [&] {
        Kernel k;
        k.state_ = new_state(expr, signature, target, options);
        return k;
    });
}

Kernel compile_uncached(const ExpressionInfo &expression, const Signature &signature, DeviceKind target,
                        const KernelOptions &options) {
    if (!expression.parsed) input_error("the ExpressionInfo was not made by inspect()");
    const std::string &expr = expression.parsed->text;
    return guarded(expr, [&] {
        Kernel k;
        k.state_ = new_state(expr, signature, target, options, expression.parsed);
        return k;
    });
}

CacheStats compile_cache_stats() {
    auto s = cache().stats();
    return {s.hits, s.misses, s.entries, s.capacity};
}

void clear_compile_cache() { cache().clear(); }

void Kernel::run(const std::vector<View> &inputs, const std::vector<View> &outputs) const {
    run(inputs, outputs, nullptr);
}

namespace {

/** Everything a run depends on in its views: addresses, types, shapes and strides, in order; empty
 * when a view is on the host (such a run copies, and is not repeated as it is). */
/** The views' ranks and shapes, all that binding the index sizes reads (run() binds once per
 * distinct shapes: a repeated call skips the binding and the plan's comparison). */
std::vector<std::int64_t> shape_signature(const std::vector<View> &inputs, const std::vector<View> &outputs) {
    std::vector<std::int64_t> sig;
    sig.reserve(4 * (inputs.size() + outputs.size()) + 1);
    for (const auto *views : {&inputs, &outputs}) {
        for (const View &v : *views) {
            sig.push_back(static_cast<std::int64_t>(v.shape().size()));
            sig.insert(sig.end(), v.shape().begin(), v.shape().end());
        }
        sig.push_back(-1);
    }
    return sig;
}

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

namespace {

/** What a run would refuse (a null data pointer, sizes that disagree, an output of another shape
 * or dtype), refused before run_buffered allocates temporaries of the outputs' shapes: a
 * description that claims a huge output must fail as it would without the overlap, not ask for
 * its memory first. */
void check_before_buffering(detail::KernelState &s, const std::vector<View> &inputs, const std::vector<View> &outputs) {
    for (const auto *views : {&inputs, &outputs})
        for (const View &v : *views) borrow(v);
    const auto &wanted = s.compiled->program().outputs;
    if (outputs.size() != wanted.size())
        throw UserError("expected " + std::to_string(wanted.size()) + " outputs, got " + std::to_string(outputs.size()));
    std::lock_guard<std::mutex> lock(s.mutex);
    ir::Extents extents = bind_views(s, inputs, &outputs);
    for (std::size_t i = 0; i < outputs.size(); ++i) {
        Shape shape = s.einsum ? s.einsum->output_shape(extents) : s.program->tensor_shape(wanted[i].name, extents);
        if (internal(outputs[i].dtype()) != wanted[i].dtype || outputs[i].shape() != shape)
            throw UserError("output " + wanted[i].name + " must be " + std::string(dtype_name(wanted[i].dtype)) +
                            " of the planned shape");
    }
}

} // namespace

void Kernel::run(const std::vector<View> &inputs, const std::vector<View> &outputs, void *cuda_stream) const {
    detail::KernelState &s = checked(state_);
    // The same device views as the last run: its checks hold and its launches are queued again.
    std::vector<std::uint64_t> sig = s.target == DeviceKind::Cuda ? call_signature(inputs, outputs)
                                                                 : std::vector<std::uint64_t>{};
    bool relaunched = guarded(s.expr, [&] {
        if (!sig.empty()) {
            std::lock_guard<std::mutex> lock(s.mutex);
            if (sig == s.last_call && s.compiled->relaunch(cuda_stream)) return true;
        }
        check_output_layouts(outputs, s.compiled->program().outputs);
        return false;
    });
    if (relaunched) return;
    // An output that shares memory with an input or another output: numpy's result, through a
    // temporary (Overlap.cpp). No lock is held there: its copy may run this very kernel.
    std::vector<bool> buffer = outputs_to_buffer(inputs, outputs);
    if (std::find(buffer.begin(), buffer.end(), true) != buffer.end())
        return guarded(s.expr, [&] {
            check_before_buffering(s, inputs, outputs);
            run_buffered(*this, inputs, outputs, buffer, s.options, cuda_stream);
        });
    guarded(s.expr, [&] {
        std::vector<Tensor> ins, outs;
        for (const auto &v : inputs) ins.push_back(borrow(v));
        for (const auto &v : outputs) outs.push_back(borrow(v));
        std::vector<const Tensor *> in_ptrs;
        std::vector<Tensor *> out_ptrs;
        for (const auto &t : ins) in_ptrs.push_back(&t);
        for (auto &t : outs) out_ptrs.push_back(&t);
        std::vector<std::int64_t> shapes = shape_signature(inputs, outputs);
        std::lock_guard<std::mutex> lock(s.mutex);
        if (!s.planned || s.planned_shapes != shapes) {
            ir::Extents extents = bind_views(s, inputs, &outputs);
            plan_state(s, extents);
            s.planned_shapes = std::move(shapes);
        }
        s.last_call.clear();
        s.compiled->run_into(in_ptrs, out_ptrs, *s.planned, cuda_stream);
        s.last_call = std::move(sig);
    });
}

std::vector<std::vector<std::int64_t>> Kernel::output_shapes(const std::vector<View> &inputs) const {
    detail::KernelState &s = checked(state_);
    return guarded(s.expr, [&] {
        std::lock_guard<std::mutex> lock(s.mutex);
        ir::Extents extents = bind_views(s, inputs, nullptr);
        std::vector<std::vector<std::int64_t>> shapes;
        for (const auto &t : s.compiled->program().outputs)
            shapes.push_back(s.einsum ? s.einsum->output_shape(extents) : s.program->tensor_shape(t.name, extents));
        return shapes;
    });
}

std::vector<Array> Kernel::run(const std::vector<View> &inputs) const {
    std::vector<std::vector<std::int64_t>> shapes = output_shapes(inputs);
    std::vector<TensorSpec> specs = outputs();
    // Results live where the inputs do: on the device when any input is there.
    bool on_device = std::any_of(inputs.begin(), inputs.end(),
                                 [](const View &v) { return v.device().kind == DeviceKind::Cuda; });
    std::vector<Array> results;
    std::vector<View> views;
    for (std::size_t i = 0; i < shapes.size(); ++i)
        results.emplace_back(specs[i].dtype, shapes[i], on_device ? Device::cuda() : Device::cpu());
    for (auto &a : results) views.push_back(a.view());
    run(inputs, views);
    return results;
}

std::string Kernel::plan() const {
    detail::KernelState &s = checked(state_);
    std::lock_guard<std::mutex> lock(s.mutex);
    return guarded(s.expr, [&] { return einfuse::emit(*s.compiled, "plan"); });
}

bool Kernel::is_program() const { return checked(state_).program != nullptr; }

namespace {
Sizes bind_sizes(detail::KernelState &s, const std::vector<std::optional<std::vector<std::int64_t>>> &shapes,
                 const Sizes &sizes, bool partial) {
    return guarded(s.expr, [&] {
        ir::Extents dims(sizes.begin(), sizes.end()), bound;
        const auto &inputs = s.compiled->program().inputs;
        if (shapes.size() != inputs.size())
            throw UserError("expected " + std::to_string(inputs.size()) + " input shapes, got " +
                            std::to_string(shapes.size()));
        if (s.einsum) {
            bound = s.einsum->bind(shapes, dims, partial);
        } else {
            std::map<std::string, Shape> named;
            for (std::size_t i = 0; i < shapes.size(); ++i)
                if (shapes[i]) named[inputs[i].name] = *shapes[i];
            bound = s.program->bind(named, dims, partial);
        }
        return Sizes(bound.begin(), bound.end());
    });
}
} // namespace

Sizes Kernel::bind(const std::vector<std::optional<std::vector<std::int64_t>>> &shapes, const Sizes &sizes) const {
    return bind_sizes(checked(state_), shapes, sizes, false);
}

Sizes Kernel::bind_known(const std::vector<std::optional<std::vector<std::int64_t>>> &shapes, const Sizes &sizes) const {
    return bind_sizes(checked(state_), shapes, sizes, true);
}

std::vector<std::int64_t> Kernel::input_shape(std::size_t i, const Sizes &sizes) const {
    detail::KernelState &s = checked(state_);
    return guarded(s.expr, [&] {
        ir::Extents e(sizes.begin(), sizes.end());
        if (s.einsum) return s.einsum->operand_shape(static_cast<int>(i), e);
        return s.program->tensor_shape(s.compiled->program().inputs.at(i).name, e);
    });
}

std::vector<std::int64_t> Kernel::output_shape(std::size_t i, const Sizes &sizes) const {
    detail::KernelState &s = checked(state_);
    return guarded(s.expr, [&] {
        ir::Extents e(sizes.begin(), sizes.end());
        if (s.einsum) return s.einsum->output_shape(e);
        return s.program->tensor_shape(s.compiled->program().outputs.at(i).name, e);
    });
}

void Kernel::plan_for(const Sizes &sizes) const {
    detail::KernelState &s = checked(state_);
    std::lock_guard<std::mutex> lock(s.mutex);
    guarded(s.expr, [&] { plan_state(s, ir::Extents(sizes.begin(), sizes.end())); });
}

std::string Kernel::emit(std::string_view kind) const { return emit(kind, {}); }

std::string Kernel::emit(std::string_view kind, std::string_view name) const {
    detail::KernelState &s = checked(state_);
    std::lock_guard<std::mutex> lock(s.mutex);
    return guarded(s.expr, [&] { return einfuse::emit(*s.compiled, kind, name); });
}

namespace {

/** Borrowed Tensors of host views, and pointers to them as Compiled takes them. */
struct Borrowed {
    std::vector<Tensor> tensors;
    std::vector<const Tensor *> pointers;
    explicit Borrowed(const std::vector<View> &views) {
        for (const auto &v : views) tensors.push_back(borrow(v));
        for (const auto &t : tensors) pointers.push_back(&t);
    }
};

Array to_array(const Tensor &t) {
    EINFUSE_ASSERT(t.is_contiguous() && !t.on_device(), "a run's outputs are contiguous host tensors");
    Array a(external(t.dtype()), t.shape());
    if (a.nbytes()) std::memcpy(a.data(), t.data(), a.nbytes());
    return a;
}

} // namespace

Kernel::Timing Kernel::measure(const std::vector<View> &inputs, const Sizes &sizes, int repeat) const {
    detail::KernelState &s = checked(state_);
    return guarded(s.expr, [&] {
        Borrowed in(inputs);
        ir::Extents extents(sizes.begin(), sizes.end());
        std::lock_guard<std::mutex> lock(s.mutex);
        plan_state(s, extents);
        RunResult r = s.compiled->run(in.pointers, extents, repeat);
        Timing t;
        for (const auto &o : r.outputs) t.outputs.push_back(to_array(o));
        t.times_us = std::move(r.times_us);
        t.ran = std::move(r.ran);
        t.device_peak_bytes = r.device_peak_bytes;
        return t;
    });
}

std::vector<Kernel::Deviation> Kernel::check(const std::vector<View> &inputs, const std::vector<View> &outputs,
                                             const Sizes &sizes) const {
    detail::KernelState &s = checked(state_);
    return guarded(s.expr, [&] {
        Borrowed in(inputs), out(outputs);
        ir::Extents extents(sizes.begin(), sizes.end());
        std::vector<Tensor> want = s.compiled->reference(in.pointers, extents);
        if (want.size() != outputs.size())
            throw UserError("expected " + std::to_string(want.size()) + " outputs, got " + std::to_string(outputs.size()));
        // Rounding errors scale with each element's magnitudes (an einsum's sum of |terms|, a
        // program's first-order bound: ir/Magnitude.h), not with a result that cancels.
        std::vector<Tensor> scale = s.compiled->reference_magnitudes(in.pointers, extents);
        std::vector<Deviation> result;
        for (std::size_t i = 0; i < want.size(); ++i)
            result.push_back({ir::max_relative_error(out.tensors[i], want[i], scale[i]),
                              tolerance(out.tensors[i].dtype(), s.compiled->reduction_length(extents))});
        return result;
    });
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

std::string interleaved_subscripts(const std::vector<EinsumArg> &args, std::vector<View> *views) {
    // Before: only the subscript string; numpy's einsum(a, [0, 1], b, [1, 2], [0, 2]) had no C++ twin.
    auto letters = [](const std::vector<int> &labels) {
        std::string out;
        for (int l : labels) {
            if (l == ellipsis) out += "...";
            else if (l >= 0 && l < 26) out += static_cast<char>('a' + l);
            else if (l >= 26 && l < 52) out += static_cast<char>('A' + (l - 26));
            else
                input_error("interleaved einsum: label " + std::to_string(l) +
                            " is not one of 0-51 (numpy's: 0-25 are 'a'-'z', 26-51 'A'-'Z') or einfuse::ellipsis");
        }
        return out;
    };
    std::size_t n = 0;
    while (n < args.size() && (args[n].is_view() || args[n].is_labels())) ++n;
    for (std::size_t i = n; i < args.size(); ++i)
        if (args[i].is_view() || args[i].is_labels()) input_error("interleaved einsum: an argument after a missing one");
    std::string spec;
    std::size_t i = 0;
    for (; i + 1 < n || (i < n && args[i].is_view()); i += 2) {
        if (!args[i].is_view())
            input_error("interleaved einsum: argument " + std::to_string(i) + " is a label list where a view belongs "
                        "(operands and their label lists alternate: a, {0, 1}, b, {1, 2}, then the output's)");
        if (i + 1 >= n || !args[i + 1].is_labels())
            input_error("interleaved einsum: operand " + std::to_string(i / 2) + " has no label list after it");
        spec += (i ? "," : "") + letters(args[i + 1].labels());
        if (views) views->push_back(args[i].view());
    }
    if (i == 0) input_error("interleaved einsum: no operand");
    if (i < n) spec += "->" + letters(args[i].labels());
    return spec;
}

Array einsum(const EinsumArg &x0, const EinsumArg &x1, const EinsumArg &x2, const EinsumArg &x3, const EinsumArg &x4,
             const EinsumArg &x5, const EinsumArg &x6, const EinsumArg &x7, const EinsumArg &x8, const EinsumArg &x9,
             const EinsumArg &x10, const EinsumArg &x11, const EinsumArg &x12, const EinsumArg &x13,
             const EinsumArg &x14, const EinsumArg &x15, const EinsumArg &x16, const EinsumArg &x17,
             const EinsumArg &x18, const EinsumArg &x19, const EinsumArg &x20, const EinsumArg &x21,
             const EinsumArg &x22, const EinsumArg &x23, const EinsumArg &x24, const EinsumArg &x25,
             const EinsumArg &x26, const EinsumArg &x27, const EinsumArg &x28, const EinsumArg &x29,
             const EinsumArg &x30, const EinsumArg &x31, const EinsumArg &x32) {
    std::vector<View> views;
    std::string spec = interleaved_subscripts({x0,  x1,  x2,  x3,  x4,  x5,  x6,  x7,  x8,  x9,  x10,
                                               x11, x12, x13, x14, x15, x16, x17, x18, x19, x20, x21,
                                               x22, x23, x24, x25, x26, x27, x28, x29, x30, x31, x32},
                                              &views);
    return einsum(spec, views);
}

// ---------------------------------------------------------------------------------------------
// Embedding

namespace {

/** A CUDA-target compiled form of `expr` (a host Kernel's plan would differ), planned for
 * nothing yet: embed() plans it. */
std::unique_ptr<detail::KernelState> cuda_state(std::string_view expr, const Signature &signature,
                                                const KernelOptions &options = {}) {
    auto s = std::make_unique<detail::KernelState>();
    s->expr = std::string(expr);
    s->signature = signature;
    s->target = DeviceKind::Cuda;
    s->options = options;
    compile_into(*s);
    return s;
}

EmbeddedSource embed(detail::KernelState &s, const std::optional<ir::Extents> &sized, std::string_view name = {}) {
    if (sized) s.compiled->plan_for(*sized);
    // Some sizes only (pinned, the rest free): the metadata is the unsized one's, rules without values.
    bool complete = sized.has_value();
    for (const auto &v : s.compiled->program().index_vars) complete = complete && sized->count(v);
    std::vector<std::vector<int64_t>> shapes;
    if (complete)
        for (const auto &t : s.compiled->plan().program.outputs)
            shapes.push_back(s.einsum ? s.einsum->output_shape(*sized) : s.program->tensor_shape(t.name, *sized));
    EmbeddedSource out = describe_embedding(*s.compiled, complete ? sized : std::nullopt, name, shapes);
    if (sized && !complete) out.sizes = Sizes(sized->begin(), sized->end());
    return out;
}

/** Sizes bound as `einfuse compile --dims` binds them: checked, with carets; some may stay free. */
std::optional<ir::Extents> bind_dims(detail::KernelState &s, const Sizes &sizes) {
    if (sizes.empty()) return std::nullopt;
    ir::Extents dims(sizes.begin(), sizes.end());
    return s.einsum ? s.einsum->bind(std::vector<std::optional<Shape>>(s.einsum->ast().operands.size()), dims, true)
                    : s.program->bind({}, dims, true);
}

} // namespace

EmbeddedSource cuda_source(std::string_view expr, const Signature &signature, const Sizes &sizes) {
    return cuda_source(expr, signature, sizes, {});
}

EmbeddedSource cuda_source(std::string_view expr, const Signature &signature, const Sizes &sizes, std::string_view name) {
    return guarded(expr, [&] {
        auto state = cuda_state(expr, signature);
        return embed(*state, bind_dims(*state, sizes), name);
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

EmbeddedSource Kernel::embedded_source(const Sizes &sizes, std::string_view name) const {
    detail::KernelState &s = checked(state_);
    return guarded(s.expr, [&] {
        auto state = cuda_state(s.expr, s.signature, s.options);
        return embed(*state, bind_dims(*state, sizes), name);
    });
}

} // namespace einfuse
