// The C ABI of include/einfuse/einfuse.h, a thin layer on the public C++ API (einfuse.hpp): it
// checks what DLPack allows but einfuse does not (status 1), turns DLTensors into Views and
// einfuse::Error into a status code and this thread's message. einfuse_einsum compiles through
// the C++ API's cache (the library's only one); einfuse_compile makes a kernel of its own.
// Nothing may escape a C function.
#include "einfuse/einfuse.h"
#include "einfuse/einfuse.hpp"

#include <cstdlib>
#include <memory>
#include <mutex>
#include <new>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

namespace einfuse {
namespace {

/** A failure found here, at the boundary, with its status. */
struct Failure {
    int status;
    std::string message;
};

[[noreturn]] void fail(int status, const std::string &message) {
    throw Failure{status, "einfuse: error: " + message + (status == EINFUSE_ERROR_EXPRESSION ? "\n" : "")};
}

thread_local std::string last_error;
thread_local int last_status = EINFUSE_OK;

/** Runs f and turns whatever it throws into a status and this thread's message. */
template <class F> int guarded_status(F &&f) {
    try {
        last_error.clear();
        f();
        return EINFUSE_OK;
    } catch (const Failure &e) {
        last_error = e.message;
        return e.status;
    } catch (const Error &e) {
        last_error = e.what();
        // Only an input error's text is clang-style lines; the others are one line, unterminated.
        if (e.kind() != ErrorKind::Input && !last_error.empty() && last_error.back() == '\n') last_error.pop_back();
        switch (e.kind()) {
        case ErrorKind::Input: return EINFUSE_ERROR_EXPRESSION;
        case ErrorKind::Target: return EINFUSE_ERROR_TARGET;
        case ErrorKind::Internal: return EINFUSE_ERROR_INTERNAL;
        }
        return EINFUSE_ERROR_INTERNAL;
    } catch (const std::bad_alloc &) { // the C++ API's own calls say Error (Target) instead
        last_error = "einfuse: error: out of memory";
        return EINFUSE_ERROR_TARGET;
    } catch (const std::exception &e) {
        last_error = std::string("einfuse: internal error: ") + e.what();
        return EINFUSE_ERROR_INTERNAL;
    } catch (...) {
        last_error = "einfuse: internal error: unknown exception";
        return EINFUSE_ERROR_INTERNAL;
    }
}

/** guarded_status, remembering the status for einfuse_last_status (calls that return a pointer). */
template <class F> int guarded(F &&f) { return last_status = guarded_status(std::forward<F>(f)); }

std::string tensor_name(bool output, int i) { return std::string(output ? "output " : "input ") + std::to_string(i); }

/** The type of input or output `index`'s DLPack dtype. (The tensor's name is made only for an
 * error: these checks run on every call.) */
ScalarType to_dtype(DLDataType t, bool output, int index) {
    if (auto s = scalar_type_of(t)) return *s;
    fail(EINFUSE_ERROR_ARGUMENT, tensor_name(output, index) + " has DLPack dtype (code " + std::to_string(t.code) + ", bits " +
                                     std::to_string(t.bits) + ", lanes " + std::to_string(t.lanes) +
                                     "); supported: float16/32/64, bfloat16, bool, int8/16/32/64, uint8/16/32/64 with 1 lane");
}

DeviceKind to_device(int device_type) {
    if (device_type == kDLCPU) return DeviceKind::Cpu;
    if (device_type == kDLCUDA) return DeviceKind::Cuda;
    fail(EINFUSE_ERROR_ARGUMENT,
         "device type " + std::to_string(device_type) + " is not supported (kDLCPU = 1 or kDLCUDA = 2)");
}

/** The device every tensor of a call must share (CUDA: device 0 only). */
DeviceKind common_device(int num_inputs, const DLTensor *inputs, int num_outputs, const DLTensor *outputs) {
    const DLTensor *first = num_inputs > 0 ? &inputs[0] : &outputs[0];
    DeviceKind device = to_device(first->device.device_type);
    auto same = [&](const DLTensor &t, bool output, int i) {
        if (t.device.device_type != first->device.device_type || t.device.device_id != first->device.device_id)
            fail(EINFUSE_ERROR_ARGUMENT,
                 tensor_name(output, i) + " is on another device than the first tensor; all must share one");
    };
    for (int i = 0; i < num_inputs; ++i) same(inputs[i], false, i);
    for (int i = 0; i < num_outputs; ++i) same(outputs[i], true, i);
    if (device == DeviceKind::Cuda && first->device.device_id != 0)
        fail(EINFUSE_ERROR_TARGET, "CUDA device " + std::to_string(first->device.device_id) +
                                       " requested; this build runs on CUDA device 0 only");
    return device;
}

/** The View of input or output `index`, after checking what DLPack allows but einfuse does not. */
View view_of(const DLTensor &t, bool output, int index) {
    auto what = [&] { return tensor_name(output, index); };
    if (t.ndim < 0 || (t.ndim > 0 && !t.shape))
        fail(EINFUSE_ERROR_ARGUMENT, what() + " has a negative ndim or a null shape");
    to_dtype(t.dtype, output, index);
    for (int d = 0; d < t.ndim; ++d) {
        if (t.shape[d] < 0) fail(EINFUSE_ERROR_ARGUMENT, what() + " has a negative extent");
    }
    View v;
    try { // the View refuses a byte span past int64 (offsets inside it would wrap)
        v = from_dlpack(t);
    } catch (const Error &e) {
        fail(EINFUSE_ERROR_ARGUMENT, what() + ": " + e.message());
    }
    // A zero stride (or strides that step onto each other) where a dimension has more than one
    // element; with a dimension of size 0 there are no elements, and numpy gives such one stride 0.
    if (output && has_overlapping_elements(v))
        fail(EINFUSE_ERROR_ARGUMENT, what() + "'s strides make its elements overlap (a zero stride on a dimension of "
                                            "size > 1, or strides that step onto each other); an output's elements "
                                            "may not overlap");
    return v;
}

std::string shape_text(const std::vector<std::int64_t> &s) {
    std::string out = "[";
    for (std::size_t i = 0; i < s.size(); ++i) out += (i ? "," : "") + std::to_string(s[i]);
    return out + "]";
}

std::string type_text(ScalarType t, int rank) {
    return std::string(scalar_type_name(t)) + " of rank " + std::to_string(rank);
}

} // namespace
} // namespace einfuse

using namespace einfuse;

/** A compiled kernel and the texts einfuse_kernel_source handed out. The Kernel serialises its
 * own runs; the mutex guards `sources`. Each text, once handed out, stays as it is until
 * einfuse_free: one thread may read it while another runs the kernel at new sizes and asks for
 * the new source (before, the second call freed the text the first thread was reading). A set
 * keeps one copy of each distinct text (one per set of sizes asked for; plans and tensor names
 * from einfuse_kernel_plan and einfuse_kernel_tensors too), at a stable address. */
struct einfuse_kernel {
    explicit einfuse_kernel(einfuse::Kernel k) : kernel(std::move(k)), inputs(kernel.inputs()), outputs(kernel.outputs()) {}
    einfuse::Kernel kernel;
    // The signature, kept: every run checks the tensors against it.
    std::vector<einfuse::TensorSpec> inputs, outputs;
    std::set<std::string> sources;
    std::mutex mutex;
};

namespace einfuse {
namespace {

/** Compiles (through the cache or not) and checks the inputs' count and, for a program, ranks:
 * dtypes and ranks may be null (f32; the expression's own ranks). */
Kernel compile_checked(const char *expr, int num_inputs, const DLDataType *dtypes, const int *ranks, DeviceKind device,
                       bool cached, const KernelOptions &options = {}, std::vector<std::string> outputs = {}) {
    if (!expr) fail(EINFUSE_ERROR_ARGUMENT, "the expression is a null pointer");
    if (num_inputs < 0) fail(EINFUSE_ERROR_ARGUMENT, "num_inputs is negative");
    Signature signature;
    signature.outputs = std::move(outputs);
    for (int i = 0; i < num_inputs; ++i) {
        signature.dtypes.push_back(dtypes ? to_dtype(dtypes[i], false, i) : ScalarType::F32);
        if (ranks) signature.ranks.push_back(ranks[i]);
    }
    Kernel k = cached ? compile(expr, signature, device, options) : compile_uncached(expr, signature, device, options);
    std::vector<TensorSpec> inputs = k.inputs();
    if (inputs.size() != static_cast<std::size_t>(num_inputs))
        fail(EINFUSE_ERROR_EXPRESSION, "the expression reads " + std::to_string(inputs.size()) + " inputs, got " +
                                           std::to_string(num_inputs));
    for (int i = 0; ranks && i < num_inputs; ++i) // an einsum's ranks were checked by compile()
        if (ranks[i] != inputs[i].rank)
            fail(EINFUSE_ERROR_EXPRESSION, tensor_name(false, i) + " (" + inputs[i].name + ") has rank " +
                                               std::to_string(ranks[i]) + " but the expression uses it with rank " +
                                               std::to_string(inputs[i].rank));
    return k;
}

/** Why outputs do not fit the result, in the C ABI's words (the shapes in brackets), if that
 * is what a run refused them for. */
void check_output_shapes(const Kernel &k, const std::vector<View> &in, const std::vector<View> &out,
                         const std::vector<TensorSpec> &out_specs) {
    std::vector<std::vector<std::int64_t>> want = k.output_shapes(in);
    for (std::size_t i = 0; i < out.size(); ++i)
        if (out[i].shape() != want[i] || out[i].dtype() != out_specs[i].dtype)
            fail(EINFUSE_ERROR_EXPRESSION,
                 tensor_name(true, static_cast<int>(i)) + " is " + std::string(scalar_type_name(out[i].dtype())) + " " +
                     shape_text(out[i].shape()) + "; the result (" + out_specs[i].name + ") is " +
                     std::string(scalar_type_name(out_specs[i].dtype)) + " " + shape_text(want[i]));
}

/** Checks the tensors against the kernel's signature, then computes. The run checks the
 * outputs' shapes before it computes anything; only when it refuses them are they compared here,
 * for a message that names both shapes (so that a call that fits binds its sizes once). */
void run_kernel(const Kernel &k, const std::vector<TensorSpec> &in_specs, const std::vector<TensorSpec> &out_specs,
                int num_inputs, const DLTensor *inputs, int num_outputs, DLTensor *outputs, void *stream) {
    if (num_inputs < 0 || num_outputs < 0) fail(EINFUSE_ERROR_ARGUMENT, "a negative tensor count");
    if ((num_inputs > 0 && !inputs) || (num_outputs > 0 && !outputs)) fail(EINFUSE_ERROR_ARGUMENT, "a null tensor array");
    if (static_cast<std::size_t>(num_inputs) != in_specs.size())
        fail(EINFUSE_ERROR_ARGUMENT,
             "expected " + std::to_string(in_specs.size()) + " inputs, got " + std::to_string(num_inputs));
    if (static_cast<std::size_t>(num_outputs) != out_specs.size())
        fail(EINFUSE_ERROR_ARGUMENT,
             "expected " + std::to_string(out_specs.size()) + " outputs, got " + std::to_string(num_outputs));
    if (common_device(num_inputs, inputs, num_outputs, outputs) != k.target())
        fail(EINFUSE_ERROR_ARGUMENT, std::string("the tensors' device does not match the kernel's (") +
                                         (k.target() == DeviceKind::Cuda ? "cuda" : "host") + ")");
    std::vector<View> in, out;
    in.reserve(static_cast<std::size_t>(num_inputs));
    out.reserve(static_cast<std::size_t>(num_outputs));
    for (int i = 0; i < num_inputs; ++i) {
        in.push_back(view_of(inputs[i], false, i));
        if (in.back().dtype() != in_specs[i].dtype || in.back().ndim() != in_specs[i].rank)
            fail(EINFUSE_ERROR_EXPRESSION, tensor_name(false, i) + " is " + type_text(in.back().dtype(), in.back().ndim()) +
                                               "; the kernel was compiled for " +
                                               type_text(in_specs[i].dtype, in_specs[i].rank));
    }
    for (int i = 0; i < num_outputs; ++i) out.push_back(view_of(outputs[i], true, i));
    try {
        k.run(in, out, stream);
    } catch (const Error &e) {
        if (e.kind() != ErrorKind::Input) throw;
        check_output_shapes(k, in, out, out_specs);
        throw;
    }
}

/** The DLPack dtype of an einfuse type. */
DLDataType to_dlpack_dtype(ScalarType t) { return dlpack_dtype(t); }

/** einfuse_compile_with_options' text, "threads=4;arch=sm_90;outputs=C,D", as options and outputs. */
KernelOptions parse_options(const char *text, std::vector<std::string> &outputs) {
    KernelOptions options;
    std::string all = text ? text : "";
    auto split = [](const std::string &s, char sep) {
        std::vector<std::string> parts;
        std::size_t begin = 0;
        for (std::size_t end; (end = s.find(sep, begin)) != std::string::npos; begin = end + 1)
            parts.push_back(s.substr(begin, end - begin));
        parts.push_back(s.substr(begin));
        return parts;
    };
    for (const std::string &item : split(all, ';')) {
        if (item.empty()) continue;
        std::size_t eq = item.find('=');
        std::string key = item.substr(0, eq), value = eq == std::string::npos ? "" : item.substr(eq + 1);
        auto bad = [&] { fail(EINFUSE_ERROR_ARGUMENT, "bad option '" + item + "'"); };
        if (eq == std::string::npos) bad();
        if (key == "threads") {
            if (value.empty() || value.size() > 6 || value.find_first_not_of("0123456789") != std::string::npos) bad();
            options.threads = std::stoi(value);
        } else if (key == "arch") {
            options.arch = value;
        } else if (key == "allow_tf32") {
            if (value != "0" && value != "1") bad();
            options.allow_tf32 = value == "1";
        } else if (key == "gemm") {
            if (value == "auto") options.gemm = GemmPath::Auto;
            else if (value == "library") options.gemm = GemmPath::Library;
            else if (value == "emitted") options.gemm = GemmPath::Emitted;
            else if (value == "loops") options.gemm = GemmPath::Loops;
            else bad();
        } else if (key == "outputs") {
            for (const std::string &name : split(value, ','))
                if (!name.empty()) outputs.push_back(name);
        } else {
            fail(EINFUSE_ERROR_ARGUMENT, "unknown option '" + key + "' (threads, arch, allow_tf32, gemm, outputs)");
        }
    }
    return options;
}

/** A text owned by k (stable until einfuse_free), as einfuse_kernel_source hands them out. */
const char *kernel_text(einfuse_kernel *k, std::string text) {
    std::lock_guard<std::mutex> lock(k->mutex);
    return k->sources.insert(std::move(text)).first->c_str();
}

thread_local std::vector<std::string> inspected_names;

/** k's index sizes from the shapes of `inputs` (their ndim, shape and dtype only: data may be
 * NULL), checked against k's signature. */
Sizes bound_sizes(einfuse_kernel *k, int num_inputs, const DLTensor *inputs) {
    const std::vector<TensorSpec> &in_specs = k->inputs;
    std::vector<std::optional<std::vector<std::int64_t>>> in_shapes;
    for (int i = 0; i < num_inputs; ++i) {
        const DLTensor &t = inputs[i];
        if (t.ndim < 0 || (t.ndim > 0 && !t.shape))
            fail(EINFUSE_ERROR_ARGUMENT, tensor_name(false, i) + " has a negative ndim or a null shape");
        ScalarType dtype = to_dtype(t.dtype, false, i);
        if (dtype != in_specs[i].dtype || t.ndim != in_specs[i].rank)
            fail(EINFUSE_ERROR_EXPRESSION, tensor_name(false, i) + " is " + type_text(dtype, t.ndim) +
                                               "; the kernel was compiled for " +
                                               type_text(in_specs[i].dtype, in_specs[i].rank));
        in_shapes.emplace_back(std::vector<std::int64_t>(t.shape, t.shape + t.ndim));
        for (std::int64_t e : *in_shapes.back())
            if (e < 0) fail(EINFUSE_ERROR_ARGUMENT, tensor_name(false, i) + " has a negative extent");
    }
    return k->kernel.bind(in_shapes);
}

} // namespace
} // namespace einfuse

extern "C" {

int einfuse_einsum(const char *spec, int num_inputs, const DLTensor *inputs, DLTensor *output) {
    return einfuse_einsum_on_stream(spec, num_inputs, inputs, output, nullptr);
}

int einfuse_einsum_on_stream(const char *spec, int num_inputs, const DLTensor *inputs, DLTensor *output, void *stream) {
    return guarded([&] {
        if (!spec) fail(EINFUSE_ERROR_ARGUMENT, "the expression is a null pointer");
        if (!output) fail(EINFUSE_ERROR_ARGUMENT, "the output is a null pointer");
        if (num_inputs < 0 || (num_inputs > 0 && !inputs)) fail(EINFUSE_ERROR_ARGUMENT, "a null or negative input array");
        DeviceKind device = common_device(num_inputs, inputs, 1, output);
        std::vector<DLDataType> dtypes;
        std::vector<int> ranks;
        for (int i = 0; i < num_inputs; ++i) {
            if (inputs[i].ndim < 0) fail(EINFUSE_ERROR_ARGUMENT, tensor_name(false, i) + " has a negative ndim");
            dtypes.push_back(inputs[i].dtype);
            ranks.push_back(inputs[i].ndim);
        }
        Kernel k = compile_checked(spec, num_inputs, dtypes.data(), ranks.data(), device, true);
        if (k.outputs().size() != 1)
            fail(EINFUSE_ERROR_EXPRESSION, "einfuse_einsum computes one output; the program has " +
                                               std::to_string(k.outputs().size()) + " (use einfuse_compile/run)");
        run_kernel(k, k.inputs(), k.outputs(), num_inputs, inputs, 1, output, stream);
    });
}

const char *einfuse_last_error(void) { return last_error.c_str(); }

int einfuse_last_status(void) { return last_status; }

einfuse_kernel *einfuse_compile(const char *expr, int num_inputs, const DLDataType *dtypes, const int *ranks,
                                int device_type) {
    einfuse_kernel *result = nullptr;
    guarded([&] {
        DeviceKind device = to_device(device_type);
        result = new einfuse_kernel(compile_checked(expr, num_inputs, dtypes, ranks, device, false));
    });
    return result;
}

int einfuse_run_on_stream(einfuse_kernel *k, int num_inputs, const DLTensor *inputs, int num_outputs,
                          DLTensor *outputs, void *stream) {
    return guarded([&] {
        if (!k) fail(EINFUSE_ERROR_ARGUMENT, "the kernel is a null pointer");
        run_kernel(k->kernel, k->inputs, k->outputs, num_inputs, inputs, num_outputs, outputs, stream);
    });
}

int einfuse_run(einfuse_kernel *k, int num_inputs, const DLTensor *inputs, int num_outputs, DLTensor *outputs) {
    return einfuse_run_on_stream(k, num_inputs, inputs, num_outputs, outputs, nullptr);
}

const char *einfuse_kernel_source(einfuse_kernel *k) {
    const char *result = nullptr;
    guarded([&] {
        if (!k) fail(EINFUSE_ERROR_ARGUMENT, "the kernel is a null pointer");
        std::string source = k->kernel.cuda_source(); // a host kernel's is planned for the GPU
        std::lock_guard<std::mutex> lock(k->mutex);
        result = k->sources.insert(std::move(source)).first->c_str();
    });
    return result;
}

void einfuse_free(einfuse_kernel *k) { delete k; }

const char *einfuse_version(void) { return EINFUSE_VERSION; }

einfuse_kernel *einfuse_compile_with_options(const char *expr, int num_inputs, const DLDataType *dtypes, const int *ranks,
                                             int device_type, const char *options) {
    einfuse_kernel *result = nullptr;
    guarded([&] {
        DeviceKind device = to_device(device_type);
        std::vector<std::string> outputs;
        KernelOptions kernel_options = parse_options(options, outputs);
        result = new einfuse_kernel(compile_checked(expr, num_inputs, dtypes, ranks, device, false, kernel_options, outputs));
    });
    return result;
}

int einfuse_inspect(const char *expr, int *is_program, int *num_inputs, int capacity, const char **names, int *ranks) {
    return guarded([&] {
        if (!expr) fail(EINFUSE_ERROR_ARGUMENT, "the expression is a null pointer");
        if (!num_inputs) fail(EINFUSE_ERROR_ARGUMENT, "num_inputs is a null pointer");
        ExpressionInfo info = inspect(expr);
        if (is_program) *is_program = info.is_program ? 1 : 0;
        *num_inputs = static_cast<int>(info.inputs.size());
        inspected_names.clear();
        for (const auto &input : info.inputs) inspected_names.push_back(input.name);
        for (int i = 0; i < capacity && i < *num_inputs; ++i) {
            if (names) names[i] = inspected_names[i].c_str();
            if (ranks) ranks[i] = info.inputs[i].rank;
        }
    });
}

int einfuse_kernel_tensors(einfuse_kernel *k, int outputs, int *count, int capacity, const char **names,
                           DLDataType *dtypes, int *ranks) {
    return guarded([&] {
        if (!k) fail(EINFUSE_ERROR_ARGUMENT, "the kernel is a null pointer");
        if (!count) fail(EINFUSE_ERROR_ARGUMENT, "count is a null pointer");
        const std::vector<TensorSpec> &specs = outputs ? k->outputs : k->inputs;
        *count = static_cast<int>(specs.size());
        for (int i = 0; i < capacity && i < *count; ++i) {
            if (names) names[i] = kernel_text(k, specs[i].name);
            if (dtypes) dtypes[i] = to_dlpack_dtype(specs[i].dtype);
            if (ranks) ranks[i] = specs[i].rank;
        }
    });
}

int einfuse_output_shapes(einfuse_kernel *k, int num_inputs, const DLTensor *inputs, int num_outputs,
                          DLDataType *dtypes, int *ranks, int64_t *shapes, int max_rank) {
    return guarded([&] {
        if (!k) fail(EINFUSE_ERROR_ARGUMENT, "the kernel is a null pointer");
        if ((num_inputs > 0 && !inputs) || !dtypes || !ranks || (!shapes && max_rank > 0))
            fail(EINFUSE_ERROR_ARGUMENT, "a null array");
        const std::vector<TensorSpec> &in_specs = k->inputs, &out_specs = k->outputs;
        if (num_inputs < 0 || static_cast<std::size_t>(num_inputs) != in_specs.size())
            fail(EINFUSE_ERROR_ARGUMENT,
                 "expected " + std::to_string(in_specs.size()) + " inputs, got " + std::to_string(num_inputs));
        if (num_outputs < 0 || static_cast<std::size_t>(num_outputs) != out_specs.size())
            fail(EINFUSE_ERROR_ARGUMENT,
                 "expected " + std::to_string(out_specs.size()) + " outputs, got " + std::to_string(num_outputs));
        Sizes sizes = bound_sizes(k, num_inputs, inputs);
        for (int o = 0; o < num_outputs; ++o) {
            std::vector<std::int64_t> shape = k->kernel.output_shape(static_cast<std::size_t>(o), sizes);
            if (static_cast<int>(shape.size()) > max_rank)
                fail(EINFUSE_ERROR_ARGUMENT, tensor_name(true, o) + " has rank " + std::to_string(shape.size()) +
                                                 "; max_rank is " + std::to_string(max_rank));
            dtypes[o] = to_dlpack_dtype(out_specs[o].dtype);
            ranks[o] = static_cast<int>(shape.size());
            for (std::size_t d = 0; d < shape.size(); ++d) shapes[static_cast<std::size_t>(o) * max_rank + d] = shape[d];
        }
    });
}

const char *einfuse_kernel_embedding(einfuse_kernel *k, int num_inputs, const DLTensor *inputs, const char *name) {
    const char *result = nullptr;
    guarded([&] {
        if (!k) fail(EINFUSE_ERROR_ARGUMENT, "the kernel is a null pointer");
        if (num_inputs > 0 && !inputs) fail(EINFUSE_ERROR_ARGUMENT, "a null array");
        std::size_t expected = k->kernel.inputs().size();
        if (num_inputs != 0 && (num_inputs < 0 || static_cast<std::size_t>(num_inputs) != expected))
            fail(EINFUSE_ERROR_ARGUMENT,
                 "expected " + std::to_string(expected) + " inputs (or 0: unsized), got " + std::to_string(num_inputs));
        Sizes sizes = num_inputs > 0 ? bound_sizes(k, num_inputs, inputs) : Sizes{};
        result = kernel_text(k, embedded_json(k->kernel.embedded_source(sizes, name ? name : "")));
    });
    return result;
}

const char *einfuse_kernel_embedding_dims(einfuse_kernel *k, const char *dims, const char *name) {
    const char *result = nullptr;
    guarded([&] {
        if (!k) fail(EINFUSE_ERROR_ARGUMENT, "the kernel is a null pointer");
        Sizes sizes;
        std::string text = dims ? dims : "", part;
        std::istringstream parts(text);
        while (std::getline(parts, part, ',')) { // "i=2, j=3": spaces around names and values ignored
            std::size_t eq = part.find('=');
            std::string var = eq == std::string::npos ? "" : part.substr(0, eq), value = eq == std::string::npos ? "" : part.substr(eq + 1);
            for (std::string *t : {&var, &value}) {
                t->erase(0, t->find_first_not_of(' '));
                t->erase(t->find_last_not_of(' ') + 1);
            }
            char *end = nullptr;
            long long n = std::strtoll(value.c_str(), &end, 10);
            if (var.empty() || value.empty() || *end != '\0' || n < 0)
                fail(EINFUSE_ERROR_ARGUMENT, "dims \"" + text + "\": expected NAME=SIZE[,NAME=SIZE...], e.g. \"d=3\"");
            sizes[var] = n;
        }
        result = kernel_text(k, embedded_json(k->kernel.embedded_source(sizes, name ? name : "")));
    });
    return result;
}

const char *einfuse_kernel_plan(einfuse_kernel *k) {
    const char *result = nullptr;
    guarded([&] {
        if (!k) fail(EINFUSE_ERROR_ARGUMENT, "the kernel is a null pointer");
        result = kernel_text(k, k->kernel.plan());
    });
    return result;
}

} // extern "C"
