// The C ABI of include/einfuse/einfuse.h on top of Compiled: DLTensors become borrowed Tensors,
// exceptions become status codes and a thread-local message. Nothing may escape a C function.
#include "einfuse/einfuse.h"

#include "api/Einfuse.h"
#include "support/Checked.h"
#include "support/Error.h"

#include <list>
#include <memory>
#include <mutex>
#include <new>
#include <optional>
#include <sstream>
#include <string>
#include <tuple>
#include <unordered_map>

namespace einfuse {
namespace {

/** A caller's mistake found at the boundary (null pointer, count, dtype, device): status 1. */
struct ArgumentError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

thread_local std::string last_error;

/** Runs f and turns whatever it throws into a status and this thread's message. */
template <class F> int guarded(const char *expr, F &&f) {
    try {
        last_error.clear();
        f();
        return EINFUSE_OK;
    } catch (const ArgumentError &e) {
        last_error = std::string("einfuse: error: ") + e.what();
        return EINFUSE_ERROR_ARGUMENT;
    } catch (const UserError &e) {
        last_error = render(e.diagnostic(), expr ? expr : "");
        return EINFUSE_ERROR_EXPRESSION;
    } catch (const TargetError &e) {
        last_error = std::string("einfuse: error: ") + e.what();
        return EINFUSE_ERROR_TARGET;
    } catch (const std::bad_alloc &) {
        last_error = "einfuse: error: out of memory";
        return EINFUSE_ERROR_INTERNAL;
    } catch (const std::exception &e) {
        last_error = std::string("einfuse: internal error: ") + e.what();
        return EINFUSE_ERROR_INTERNAL;
    } catch (...) {
        last_error = "einfuse: internal error: unknown exception";
        return EINFUSE_ERROR_INTERNAL;
    }
}

/** DLPack's (code, bits, lanes) as an einfuse dtype; `what` names the tensor in the message. */
DType to_dtype(DLDataType t, const std::string &what) {
    if (t.lanes == 1) {
        if (t.code == kDLFloat && t.bits == 16) return DType::F16;
        if (t.code == kDLFloat && t.bits == 32) return DType::F32;
        if (t.code == kDLFloat && t.bits == 64) return DType::F64;
        if (t.code == kDLBfloat && t.bits == 16) return DType::BF16;
        if (t.code == kDLInt && t.bits == 32) return DType::I32;
        if (t.code == kDLInt && t.bits == 64) return DType::I64;
    }
    std::ostringstream os;
    os << what << " has DLPack dtype (code " << int(t.code) << ", bits " << int(t.bits) << ", lanes " << t.lanes
       << "); supported: float16/32/64, bfloat16, int32/64 with 1 lane";
    throw ArgumentError(os.str());
}

Target to_target(int device_type) {
    if (device_type == kDLCPU) return Target::Host;
    if (device_type == kDLCUDA) return Target::Cuda;
    throw ArgumentError("device type " + std::to_string(device_type) + " is not supported (kDLCPU = 1 or kDLCUDA = 2)");
}

std::string tensor_name(bool output, int i) { return std::string(output ? "output " : "input ") + std::to_string(i); }

/** The device every tensor of a call must share: its target (device 0 only, for CUDA). */
Target common_target(int num_inputs, const DLTensor *inputs, int num_outputs, const DLTensor *outputs) {
    const DLTensor *first = num_inputs > 0 ? &inputs[0] : &outputs[0];
    Target target = to_target(first->device.device_type);
    auto same = [&](const DLTensor &t, const std::string &what) {
        if (t.device.device_type != first->device.device_type || t.device.device_id != first->device.device_id)
            throw ArgumentError(what + " is on another device than the first tensor; all must share one");
    };
    for (int i = 0; i < num_inputs; ++i)
        same(inputs[i], tensor_name(false, i));
    for (int i = 0; i < num_outputs; ++i)
        same(outputs[i], tensor_name(true, i));
    if (target == Target::Cuda && first->device.device_id != 0)
        throw TargetError("CUDA device " + std::to_string(first->device.device_id) +
                          " requested; this build runs on CUDA device 0 only");
    return target;
}

/** A non-owning Tensor over a DLTensor, after checking what DLPack allows but einfuse does not. */
Tensor borrow(const DLTensor &t, const std::string &what, bool output) {
    if (t.ndim < 0 || (t.ndim > 0 && !t.shape)) throw ArgumentError(what + " has a negative ndim or a null shape");
    DType dtype = to_dtype(t.dtype, what);
    Shape shape(t.shape, t.shape + t.ndim);
    Shape strides = t.strides ? Shape(t.strides, t.strides + t.ndim) : contiguous_strides(shape);
    for (int d = 0; d < t.ndim; ++d) {
        if (shape[d] < 0) throw ArgumentError(what + " has a negative extent");
        if (strides[d] < 0) throw ArgumentError(what + " has a negative stride (not supported)");
        if (output && strides[d] == 0 && shape[d] > 1)
            throw ArgumentError(what + " has a zero stride: an output's elements may not overlap");
    }
    try { // its byte span must fit int64, or offsets inside it wrap
        checked_reach(shape, strides, static_cast<int64_t>(dtype_size(dtype)));
    } catch (const UserError &e) {
        throw ArgumentError(what + ": " + e.what());
    }
    auto *data = static_cast<char *>(t.data);
    if (data) data += t.byte_offset;
    return Tensor::borrow(data, dtype, std::move(shape), std::move(strides), t.device.device_type == kDLCUDA);
}

std::string shape_text(const Shape &s) {
    std::string out = "[";
    for (std::size_t i = 0; i < s.size(); ++i)
        out += (i ? "," : "") + std::to_string(s[i]);
    return out + "]";
}

} // namespace
} // namespace einfuse

using namespace einfuse;

/** One expression compiled for one signature and target. The mutex serialises runs: Compiled
 * builds its backend lazily and plan_for replaces it. */
struct einfuse_kernel {
    std::string expr;
    bool is_program = false;
    std::vector<DType> dtypes;
    std::vector<int> ranks;
    Target target = Target::Host;
    std::vector<std::string> input_names; // programs: in order of first use
    std::unique_ptr<Compiled> compiled;
    std::unique_ptr<Compiled> cuda_for_source; // a host kernel's CUDA twin, made for kernel_source
    std::optional<ir::Extents> planned;        // the sizes the current plan is for
    std::string source;
    std::mutex mutex;
};

namespace einfuse {
namespace {

std::unique_ptr<Compiled> compile_for(const einfuse_kernel &k, Target target) {
    CompileOptions options{target, "", 0};
    if (!k.is_program) return std::make_unique<CompiledEinsum>(k.expr, k.dtypes, options, k.ranks);
    std::map<std::string, DType> dtypes;
    for (std::size_t i = 0; i < k.input_names.size(); ++i)
        dtypes[k.input_names[i]] = k.dtypes[i];
    return std::make_unique<CompiledProgram>(k.expr, dtypes, options);
}

/** Parses and lowers; dtypes/ranks may be null (f32; the expression's own ranks). */
std::unique_ptr<einfuse_kernel> make_kernel(const char *expr, int num_inputs, const DLDataType *dtypes,
                                            const int *ranks, Target target) {
    if (!expr) throw ArgumentError("the expression is a null pointer");
    if (num_inputs < 0) throw ArgumentError("num_inputs is negative");
    auto k = std::make_unique<einfuse_kernel>();
    k->expr = expr;
    k->is_program = frontend::is_program(k->expr);
    k->target = target;
    for (int i = 0; i < num_inputs; ++i)
        k->dtypes.push_back(dtypes ? to_dtype(dtypes[i], tensor_name(false, i)) : DType::F32);
    if (k->is_program) {
        auto inputs = frontend::program_inputs(frontend::parse_program(k->expr));
        if (inputs.size() != static_cast<std::size_t>(num_inputs))
            throw UserError("the program reads " + std::to_string(inputs.size()) + " input tensors, got " +
                            std::to_string(num_inputs));
        for (int i = 0; i < num_inputs; ++i) {
            k->input_names.push_back(inputs[i].first);
            if (ranks && ranks[i] != inputs[i].second)
                throw UserError("input " + std::to_string(i) + " (" + inputs[i].first + ") has rank " +
                                std::to_string(ranks[i]) + " but the program uses it with rank " +
                                std::to_string(inputs[i].second));
        }
    } else {
        std::size_t operands = frontend::parse_einsum(k->expr).operands.size();
        if (operands != static_cast<std::size_t>(num_inputs))
            throw UserError("the einsum has " + std::to_string(operands) + " operands, got " +
                            std::to_string(num_inputs) + " inputs");
        if (ranks) k->ranks.assign(ranks, ranks + num_inputs);
    }
    k->compiled = compile_for(*k, target);
    EINFUSE_ASSERT(k->compiled->program().inputs.size() == static_cast<std::size_t>(num_inputs), "input count");
    return k;
}

/** Binds sizes, re-plans when they changed, checks the outputs' shapes and computes. */
void run_kernel(einfuse_kernel &k, int num_inputs, const DLTensor *inputs, int num_outputs, DLTensor *outputs,
                void *stream = nullptr) {
    if (num_inputs < 0 || num_outputs < 0) throw ArgumentError("a negative tensor count");
    if ((num_inputs > 0 && !inputs) || (num_outputs > 0 && !outputs)) throw ArgumentError("a null tensor array");
    const auto &program = k.compiled->program();
    if (static_cast<std::size_t>(num_inputs) != program.inputs.size())
        throw ArgumentError("expected " + std::to_string(program.inputs.size()) + " inputs, got " +
                            std::to_string(num_inputs));
    if (static_cast<std::size_t>(num_outputs) != program.outputs.size())
        throw ArgumentError("expected " + std::to_string(program.outputs.size()) + " outputs, got " +
                            std::to_string(num_outputs));
    if (common_target(num_inputs, inputs, num_outputs, outputs) != k.target)
        throw ArgumentError(std::string("the tensors' device does not match the kernel's (") +
                            std::string(target_name(k.target)) + ")");

    std::vector<Tensor> in, out;
    for (int i = 0; i < num_inputs; ++i) {
        in.push_back(borrow(inputs[i], tensor_name(false, i), false));
        if (in.back().dtype() != k.dtypes[i] || in.back().rank() != program.inputs[i].rank)
            throw UserError(tensor_name(false, i) + " is " + std::string(dtype_name(in.back().dtype())) + " of rank " +
                            std::to_string(in.back().rank()) + "; the kernel was compiled for " +
                            std::string(dtype_name(k.dtypes[i])) + " of rank " +
                            std::to_string(program.inputs[i].rank));
    }
    for (int i = 0; i < num_outputs; ++i)
        out.push_back(borrow(outputs[i], tensor_name(true, i), true));

    std::lock_guard<std::mutex> lock(k.mutex);
    ir::Extents extents;
    std::vector<Shape> want;
    if (!k.is_program) {
        const auto &e = static_cast<const CompiledEinsum &>(*k.compiled);
        std::vector<std::optional<Shape>> shapes;
        for (const auto &t : in)
            shapes.push_back(t.shape());
        extents = e.bind(shapes, {});
        want.push_back(e.output_shape(extents));
    } else {
        const auto &p = static_cast<const CompiledProgram &>(*k.compiled);
        std::map<std::string, Shape> shapes;
        for (std::size_t i = 0; i < in.size(); ++i)
            shapes[k.input_names[i]] = in[i].shape();
        extents = p.bind(shapes, {});
        for (const auto &o : program.outputs)
            want.push_back(p.tensor_shape(o.name, extents));
    }
    for (int i = 0; i < num_outputs; ++i)
        if (out[i].shape() != want[i] || out[i].dtype() != program.outputs[i].dtype)
            throw UserError(tensor_name(true, i) + " is " + std::string(dtype_name(out[i].dtype())) + " " +
                            shape_text(out[i].shape()) + "; the result (" + program.outputs[i].name + ") is " +
                            std::string(dtype_name(program.outputs[i].dtype)) + " " + shape_text(want[i]));
    if (!k.planned || *k.planned != extents) {
        k.compiled->plan_for(extents);
        k.planned = extents;
    }
    std::vector<const Tensor *> in_ptrs;
    std::vector<Tensor *> out_ptrs;
    for (const auto &t : in)
        in_ptrs.push_back(&t);
    for (auto &t : out)
        out_ptrs.push_back(&t);
    k.compiled->run_into(in_ptrs, out_ptrs, extents, stream);
}

/** einfuse_einsum's kernels, by (expression, dtypes, ranks, device), least recently used first
 * out when more than kCacheSize are held. Entries are shared: one evicted mid-run lives on. */
constexpr std::size_t kCacheSize = 64;

using CacheKey = std::tuple<std::string, std::vector<int>, std::vector<int>, int>;

struct CacheKeyHash {
    std::size_t operator()(const CacheKey &key) const {
        std::size_t h = std::hash<std::string>()(std::get<0>(key));
        auto mix = [&](std::size_t v) { h ^= v + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2); };
        for (int v : std::get<1>(key))
            mix(std::hash<int>()(v));
        for (int v : std::get<2>(key))
            mix(std::hash<int>()(v) * 31);
        mix(std::hash<int>()(std::get<3>(key)));
        return h;
    }
};

struct KernelCache {
    std::mutex mutex;
    std::list<CacheKey> order; // most recently used at the front
    std::unordered_map<CacheKey, std::pair<std::shared_ptr<einfuse_kernel>, std::list<CacheKey>::iterator>,
                       CacheKeyHash>
        entries;

    std::shared_ptr<einfuse_kernel> get(const CacheKey &key, const char *expr, const std::vector<DLDataType> &dtypes,
                                        const std::vector<int> &ranks, Target target) {
        {
            std::lock_guard<std::mutex> lock(mutex);
            auto it = entries.find(key);
            if (it != entries.end()) {
                order.splice(order.begin(), order, it->second.second);
                return it->second.first;
            }
        }
        // Compile outside the lock: another thread's hit need not wait. Two threads missing the
        // same key both compile; the first to insert wins.
        std::shared_ptr<einfuse_kernel> k =
            make_kernel(expr, static_cast<int>(dtypes.size()), dtypes.data(), ranks.data(), target);
        std::lock_guard<std::mutex> lock(mutex);
        auto it = entries.find(key);
        if (it != entries.end()) return it->second.first;
        order.push_front(key);
        entries.emplace(key, std::make_pair(k, order.begin()));
        if (entries.size() > kCacheSize) {
            entries.erase(order.back());
            order.pop_back();
        }
        return k;
    }
};

KernelCache &kernel_cache() {
    static KernelCache *cache = new KernelCache; // never destroyed: safe in calls from atexit handlers
    return *cache;
}

} // namespace
} // namespace einfuse

extern "C" {

int einfuse_einsum(const char *spec, int num_inputs, const DLTensor *inputs, DLTensor *output) {
    return guarded(spec, [&] {
        if (!spec) throw ArgumentError("the expression is a null pointer");
        if (!output) throw ArgumentError("the output is a null pointer");
        if (num_inputs < 0 || (num_inputs > 0 && !inputs)) throw ArgumentError("a null or negative input array");
        Target target = common_target(num_inputs, inputs, 1, output);
        std::vector<DLDataType> dtypes;
        std::vector<int> ranks, dtype_key;
        for (int i = 0; i < num_inputs; ++i) {
            to_dtype(inputs[i].dtype, tensor_name(false, i)); // rejects what einfuse cannot compute
            if (inputs[i].ndim < 0) throw ArgumentError(tensor_name(false, i) + " has a negative ndim");
            dtypes.push_back(inputs[i].dtype);
            ranks.push_back(inputs[i].ndim);
            dtype_key.push_back(inputs[i].dtype.code << 8 | inputs[i].dtype.bits);
        }
        CacheKey key{spec, dtype_key, ranks, static_cast<int>(target)};
        auto k = kernel_cache().get(key, spec, dtypes, ranks, target);
        if (k->compiled->program().outputs.size() != 1)
            throw UserError("einfuse_einsum computes one output; the program has " +
                            std::to_string(k->compiled->program().outputs.size()) + " (use einfuse_compile/run)");
        run_kernel(*k, num_inputs, inputs, 1, output);
    });
}

const char *einfuse_last_error(void) { return last_error.c_str(); }

einfuse_kernel *einfuse_compile(const char *expr, int num_inputs, const DLDataType *dtypes, const int *ranks,
                                int device_type) {
    einfuse_kernel *result = nullptr;
    guarded(expr, [&] { result = make_kernel(expr, num_inputs, dtypes, ranks, to_target(device_type)).release(); });
    return result;
}

int einfuse_run(einfuse_kernel *k, int num_inputs, const DLTensor *inputs, int num_outputs, DLTensor *outputs) {
    return guarded(k ? k->expr.c_str() : "", [&] {
        if (!k) throw ArgumentError("the kernel is a null pointer");
        run_kernel(*k, num_inputs, inputs, num_outputs, outputs);
    });
}

int einfuse_run_on_stream(einfuse_kernel *k, int num_inputs, const DLTensor *inputs, int num_outputs,
                          DLTensor *outputs, void *stream) {
    return guarded(k ? k->expr.c_str() : "", [&] {
        if (!k) throw ArgumentError("the kernel is a null pointer");
        run_kernel(*k, num_inputs, inputs, num_outputs, outputs, stream);
    });
}

const char *einfuse_kernel_source(einfuse_kernel *k) {
    const char *result = nullptr;
    guarded(k ? k->expr.c_str() : "", [&] {
        if (!k) throw ArgumentError("the kernel is a null pointer");
        std::lock_guard<std::mutex> lock(k->mutex);
        const Compiled *cuda = k->compiled.get();
        if (k->target != Target::Cuda) {
            // The host plan differs from the GPU one: plan a CUDA twin for the same sizes.
            if (!k->cuda_for_source) k->cuda_for_source = compile_for(*k, Target::Cuda);
            if (k->planned) k->cuda_for_source->plan_for(*k->planned);
            cuda = k->cuda_for_source.get();
        }
        k->source = emit(*cuda, "cu");
        result = k->source.c_str();
    });
    return result;
}

void einfuse_free(einfuse_kernel *k) { delete k; }

const char *einfuse_version(void) { return EINFUSE_VERSION; }

} // extern "C"
