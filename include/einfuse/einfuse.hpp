#pragma once
// einfuse's public C++ API: einsums and index-notation programs on host or CUDA device memory,
// reusable compiled kernels, and the CUDA source of a kernel for hosts that compile it themselves.
// Light on purpose: the standard library and DLPack only (no LLVM, Boost or CUDA headers), so a
// user's translation unit compiles fast. docs/api.md is the reference, with examples.
//
// Every entry point throws einfuse::Error (never an internal type) on failure.
#include <dlpack/dlpack.h>

#include <complex>

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

// libeinfuse is built with hidden visibility: what this header declares is its exported API.
#if defined(__GNUC__)
#pragma GCC visibility push(default)
#endif

namespace einfuse {

// ---------------------------------------------------------------------------------------------
// Element types, devices, errors

/** Element types of the language; f16 and bf16 accumulate in f32; bool and the integers compute
 * in their own type and wrap as numpy's do (bool: + is or, * is and); C64 and C128 are
 * std::complex<float> and std::complex<double> (numpy's complex64, complex128). New types go at
 * the end. */
enum class ScalarType { F16, BF16, F32, F64, I32, I64, Bool, I8, I16, U8, U16, U32, U64, C64, C128 };
/** "f32" for ScalarType::F32: the spelling of the CLI's --dtype. */
std::string_view scalar_type_name(ScalarType t);
/** Bytes per element. */
std::size_t scalar_type_size(ScalarType t);

/** Where memory lives, and where a kernel runs: the host (CPU) or a CUDA device. */
enum class DeviceKind { Cpu, Cuda };

/** A device: the host, or CUDA device `id`. einfuse runs on CUDA device 0 (its primary context,
 * the one the CUDA runtime API uses too); views of another device are refused. */
struct Device {
    DeviceKind kind = DeviceKind::Cpu;
    int id = 0;
    static Device cpu() { return {DeviceKind::Cpu, 0}; }
    static Device cuda(int id = 0) { return {DeviceKind::Cuda, id}; }
    bool operator==(const Device &o) const { return kind == o.kind && id == o.id; }
    bool operator!=(const Device &o) const { return !(*this == o); }
};

/** Why a call failed. Input: the caller's mistake (bad expression, shape, dtype, layout);
 * Target: a backend or device that cannot do the job (no GPU, NVRTC failed); Internal: an
 * einfuse bug, never the answer to bad input. */
enum class ErrorKind { Input, Target, Internal };

/** Half-open byte range [begin, end) of an expression's text. */
struct TextRange {
    int begin = 0;
    int end = 0;
};

/** The one exception type of the API. what() is the full clang-style text, with carets under the
 * offending part of the expression for input errors, and notes below:
 *   einfuse: error: index 'j' has size 3 in operand 0 but 4 in operand 1
 *     bij,bjk->bik
 *       ^   ^
 * message() is the first line's message alone. */
class Error : public std::runtime_error {
public:
    Error(ErrorKind kind, std::string message, const std::string &rendered);
    /** An Input error about `source` (the expression), carets under `ranges`, then the notes:
     * rendered as einfuse renders its own. */
    static Error input(std::string message, std::string_view source, std::vector<TextRange> ranges = {},
                       std::vector<std::string> notes = {});
    ErrorKind kind() const { return kind_; }
    const std::string &message() const { return message_; }
    const std::vector<std::string> &notes() const { return notes_; }
    /** Input errors: where in the expression, as byte ranges (what the carets mark). */
    const std::vector<TextRange> &ranges() const { return ranges_; }
    /** The same error with `notes` added below the others (an Input error is rendered again). */
    Error with_notes(const std::vector<std::string> &notes) const;

private:
    ErrorKind kind_;
    std::string message_;
    std::string source_;              // Input errors: the text the ranges point into
    std::vector<TextRange> ranges_;
    std::vector<std::string> notes_;
};

// ---------------------------------------------------------------------------------------------
// Tensors

namespace detail {
template <class T, class = void> struct is_element : std::false_type {};
template <class T> // arithmetic only, so that sizeof never sees void
struct is_element<T, std::enable_if_t<std::is_arithmetic_v<T>>>
    : std::bool_constant<std::is_same_v<std::remove_cv_t<T>, float> || std::is_same_v<std::remove_cv_t<T>, double> ||
                         std::is_integral_v<T>> {}; // bool and 8 to 64-bit integers, signed or not
template <class T> struct is_element<std::complex<T>, void> : std::bool_constant<std::is_same_v<T, float> || std::is_same_v<T, double>> {};
template <class T> struct is_element<const std::complex<T>, void> : is_element<std::complex<T>> {};
template <class T> constexpr bool is_element_v = is_element<T>::value;
template <class T> constexpr ScalarType scalar_type_of() {
    using U = std::remove_cv_t<T>;
    if constexpr (std::is_same_v<U, std::complex<float>>) return ScalarType::C64;
    else if constexpr (std::is_same_v<U, std::complex<double>>) return ScalarType::C128;
    else if constexpr (std::is_same_v<U, float>) return ScalarType::F32;
    else if constexpr (std::is_same_v<U, double>) return ScalarType::F64;
    else if constexpr (std::is_same_v<U, bool>) return ScalarType::Bool;
    else if constexpr (std::is_signed_v<U>)
        return sizeof(U) == 1 ? ScalarType::I8 : sizeof(U) == 2 ? ScalarType::I16 : sizeof(U) == 4 ? ScalarType::I32 : ScalarType::I64;
    else return sizeof(U) == 1 ? ScalarType::U8 : sizeof(U) == 2 ? ScalarType::U16 : sizeof(U) == 4 ? ScalarType::U32 : ScalarType::U64;
}
} // namespace detail

/** A non-owning view of a tensor: data, element type, shape, strides counted in elements, and the
 * device the data lives on. The caller keeps the memory alive while einfuse uses it. einfuse only
 * writes outputs; inputs may point to const memory. Strides may be any values: Fortran order,
 * padded rows, 0 for a broadcast dimension of an input, negative for a reversed view (numpy's
 * x[::-1]; data points at element 0, as in numpy and DLPack, and the elements reach below it),
 * anything on a view without elements (numpy gives a size-0 dimension stride 0). The span from
 * the lowest to the highest byte must fit int64. */
class View {
public:
    View() = default;
    /** strides empty: C-contiguous (row-major). Throws Error when strides and shape differ in
     * length or a size is negative. */
    View(void *data, ScalarType dtype, std::vector<std::int64_t> shape, std::vector<std::int64_t> strides = {},
         Device device = {});
    View(const void *data, ScalarType dtype, std::vector<std::int64_t> shape,
         std::vector<std::int64_t> strides = {}, Device device = {})
        : View(const_cast<void *>(data), dtype, std::move(shape), std::move(strides), device) {}
    /** Typed: the dtype follows T (float f32, double f64, 32-bit int i32, 64-bit int i64). */
    template <class T, std::enable_if_t<detail::is_element_v<T>, int> = 0>
    View(T *data, std::vector<std::int64_t> shape, std::vector<std::int64_t> strides = {}, Device device = {})
        : View(const_cast<std::remove_cv_t<T> *>(data), detail::scalar_type_of<T>(), std::move(shape),
               std::move(strides), device) {}

    void *data() const { return data_; }
    ScalarType dtype() const { return dtype_; }
    const std::vector<std::int64_t> &shape() const { return shape_; }
    /** Always one per dimension: the contiguous ones when constructed with none. */
    const std::vector<std::int64_t> &strides() const { return strides_; }
    Device device() const { return device_; }
    int ndim() const { return static_cast<int>(shape_.size()); }
    std::int64_t numel() const;
    bool is_contiguous() const;

private:
    void *data_ = nullptr;
    ScalarType dtype_ = ScalarType::F32;
    std::vector<std::int64_t> shape_, strides_;
    Device device_;
};

/** The View of a DLTensor (byte_offset applied; NULL strides: C-contiguous). Devices: kDLCPU and
 * kDLCUDAHost are the host, kDLCUDA and kDLCUDAManaged a CUDA device. Throws Error for other
 * devices, vector lanes, or element types einfuse lacks. The view copies shape and strides, so
 * the DLTensor's own arrays may go away; its data must not. */
View from_dlpack(const DLTensor &t);

/** The einfuse element type of a DLPack dtype, or nullopt where einfuse has none (other codes or
 * widths, lanes != 1). */
std::optional<ScalarType> scalar_type_of(DLDataType t);
/** The DLPack dtype of t: kDLFloat, kDLBfloat, kDLInt, kDLUInt, kDLComplex (64, 128) with its bits; bool is code 6
 * (kDLBool, DLPack 0.8) with 8 bits. */
DLDataType dlpack_dtype(ScalarType t);

/** The DLTensor of a View. Its shape and strides point into the View's own storage: the
 * DLTensor is valid while `v` lives, unmoved and unassigned. Treat them as read-only. */
DLTensor to_dlpack(const View &v);

/** Whether the memory of two views may overlap: their byte ranges, from the lowest to the highest
 * byte each can reach, meet (numpy's may_share_memory). A view without elements shares nothing.
 * Kernel::run computes an output for which this holds with any input or other output into a
 * temporary and copies it, so that the result is numpy's. */
bool may_share_memory(const View &a, const View &b);

/** Whether two elements of the view are the same memory: a stride of 0, or strides that step onto
 * one another, on a dimension of size > 1 (any stride is fine for a dimension of size 0 or 1).
 * Exact for the layouts one meets; a layout too irregular to decide in bounded time counts as
 * overlapping. An output like that is refused (an Input error). */
bool has_overlapping_elements(const View &v);

/** An owning, C-contiguous tensor: what the allocating calls return. On the host it is
 * zero-initialised and copies are deep; on a CUDA device (Device::cuda()) its memory is shared by
 * copies, uninitialised until written, and read on the host through to_doubles(). */
class Array {
public:
    Array() = default;
    Array(ScalarType dtype, std::vector<std::int64_t> shape, Device device = Device::cpu());

    ScalarType dtype() const { return dtype_; }
    const std::vector<std::int64_t> &shape() const { return shape_; }
    Device device() const { return device_; }
    int ndim() const { return static_cast<int>(shape_.size()); }
    std::int64_t numel() const;
    std::size_t nbytes() const;
    /** The elements' address: host memory, or device memory for a device array. */
    void *data();
    const void *data() const;
    /** The elements as T (host arrays only); throws Error when T is not the dtype. */
    template <class T> T *data_as() { check_type(detail::scalar_type_of<T>()); return static_cast<T *>(data()); }
    template <class T> const T *data_as() const {
        check_type(detail::scalar_type_of<T>());
        return static_cast<const T *>(data());
    }
    /** Every element converted to double, in C order (f16 and bf16 included); a device array
     * is copied to the host first. */
    std::vector<double> to_doubles() const;
    /** A View of the whole array, on its device (valid while the array lives). */
    View view();
    View view() const;
    /** A host array of fresh random values, as the CLI's inputs: uniform in [-1, 1) for floats,
     * -4..4 without 0 for integers (sums stay exact). */
    static Array random(ScalarType dtype, std::vector<std::int64_t> shape, std::uint64_t seed);

private:
    void check_type(ScalarType t) const;
    ScalarType dtype_ = ScalarType::F32;
    std::vector<std::int64_t> shape_;
    Device device_;
    std::vector<std::byte> bytes_;        // host arrays
    std::shared_ptr<void> device_memory_; // device arrays, shared by copies
    void *device_data_ = nullptr;
};

/** A tensor of numpy's .npy file (format 1.0-3.0; <f2 <f4 <f8 |b1 |i1 <i2 <i4 <i8 |u1 <u2 <u4 <u8, big-endian forms
 * byte-swapped): `storage` holds its elements as the file stores them, `view()` sees them in the
 * file's order (a Fortran-order file: column-major strides, no copy). */
struct NpyTensor {
    Array storage; // one dimension: the elements in file order
    std::vector<std::int64_t> shape, strides;
    View view() const;
};

/** Reads `path`; a malformed file is an Input error naming the file and the problem. */
NpyTensor load_npy(const std::string &path);
/** Writes a host view to `path` in C order (version 1.0 header; 2.0 when the header needs it).
 * Input error for bf16 (numpy has no such type) or an I/O failure. */
void save_npy(const std::string &path, const View &v);
/** Replaces `path`'s content with `text`, atomically as save_npy does (a temporary beside it,
 * fsync, rename): a failed write (a full disk, a file size limit) leaves the old file whole and
 * is an Input error naming the file. What `einfuse compile -o FILE` writes with. */
void save_text(const std::string &path, std::string_view text);

// ---------------------------------------------------------------------------------------------
// Compiling

/** What an expression reads, known from its text alone (before compiling): for an einsum, its
 * operands "0", "1", ... (rank: the label count, or -1 with '...'); for a program, its input
 * tensors by name in order of first use (where: the whole program, as a tensor may be read in
 * several places). Input error for a malformed expression. */
struct ExpressionInput {
    std::string name;
    int rank = -1;
    TextRange where;
};
namespace detail {
struct ParsedExpression;
}
struct ExpressionInfo {
    bool is_program = false;
    std::vector<ExpressionInput> inputs;
    /** The expression as parsed: compile_uncached(info, ...) compiles it without parsing again. */
    std::shared_ptr<const detail::ParsedExpression> parsed;
};
ExpressionInfo inspect(std::string_view expr);

/** What a kernel is compiled for, besides the expression.
 * Einsum: `dtypes` one per operand; `ranks` per operand, needed only where an operand uses '...'
 * (empty: each operand's label count).
 * Program: input element types positionally in `dtypes` (inputs in order of first use) or by name
 * in `input_dtypes` (missing: f32); `outputs` the tensors to return (empty: those defined and not
 * read by a later statement). */
struct Signature {
    std::vector<ScalarType> dtypes;
    std::vector<int> ranks;
    std::map<std::string, ScalarType> input_dtypes;
    std::vector<std::string> outputs;

    static Signature einsum(std::vector<ScalarType> dtypes, std::vector<int> ranks = {});
    static Signature program(std::map<std::string, ScalarType> input_dtypes = {},
                             std::vector<std::string> outputs = {});
    /** The dtypes and ranks of these views, positionally (either form). */
    static Signature of(const std::vector<View> &inputs);
};

/** What runs a kernel of the gemm strategy (the CLI's --gemm): Auto chooses; the others force
 * cuBLASLt, the emitted tiled kernel or the plain loop nest where it can run, for tests and
 * benchmarks (the host knows Auto and Loops only). */
enum class GemmPath { Auto, Library, Emitted, Loops };

struct KernelOptions {
    std::string arch; // CUDA architecture such as "sm_90"; empty: the device's own
    int threads = 0;  // host worker threads; 0: all cores
    bool allow_tf32 = false; // f32 matrix products may round their inputs to tf32 (tensor cores)
    GemmPath gemm = GemmPath::Auto;
};

/** A tensor a kernel reads or writes: its name ("in0", "out" for einsums; the program's names),
 * element type and rank. */
struct TensorSpec {
    std::string name;
    ScalarType dtype;
    int rank;
};

/** Index sizes by variable: einsum labels ("b") or program index variables. */
using Sizes = std::map<std::string, std::int64_t>;

namespace detail {
struct KernelState;
}
struct EmbeddedSource;

/** A compiled einsum or program, reusable and cheap to copy (copies share the compiled code).
 * Thread-safe: concurrent run() calls on one kernel (or its copies) take turns. */
class Kernel {
public:
    Kernel() = default; // empty: every call but operator bool throws Error

    /** Computes into caller-allocated outputs: inputs in the order of inputs(), outputs in the
     * order of outputs(), each of its dtype and rank, any strides, negative ones included (an
     * output's elements must not overlap one another: has_overlapping_elements). An output may share
     * memory with an input or another output (may_share_memory): it is then computed into a
     * temporary and copied, numpy's result; with device views such a call returns when the
     * outputs are written. Index sizes are bound from the inputs' (and a program's
     * outputs') shapes on every call; the kernel plans and compiles once per shape class (sizes
     * the plan's decisions hold for: a new batch size usually reuses it; docs/api.md). On the
     * CUDA target, device views are used in place and host views are copied. With host views
     * the call returns when the outputs are written; with device views only, it returns once the
     * kernels are queued on CUDA's default stream, as a kernel launch does (later work on that
     * stream, a copy to the host or a synchronize sees the outputs). The host target takes host
     * views only. */
    void run(const std::vector<View> &inputs, const std::vector<View> &outputs) const;
    /** The same, queued on `cuda_stream` (a cudaStream_t or CUstream of device 0's primary
     * context; nullptr: the default stream). With device views only, synchronize that stream
     * before reading the outputs. The host target ignores it. */
    void run(const std::vector<View> &inputs, const std::vector<View> &outputs, void *cuda_stream) const;
    /** The same, returning the outputs as new arrays: on the CUDA device when any input is
     * there, else on the host. */
    std::vector<Array> run(const std::vector<View> &inputs) const;
    /** The shapes of the outputs (in the order of outputs()) for these inputs: sizes bound from
     * their shapes as run() binds them. */
    std::vector<std::vector<std::int64_t>> output_shapes(const std::vector<View> &inputs) const;

    /** Index sizes from whichever input shapes are known (one entry per input, nullopt where
     * unknown) and sizes by name (the CLI's --dims); they must agree. Input error, with carets,
     * when they do not or a size stays unknown. */
    Sizes bind(const std::vector<std::optional<std::vector<std::int64_t>>> &shapes, const Sizes &sizes = {}) const;
    /** The same, but a size neither gives is left out rather than an error: the sizes to pin
     * (`einfuse compile --dims d=3`; plan_for() then plans for them, the rest free). */
    Sizes bind_known(const std::vector<std::optional<std::vector<std::int64_t>>> &shapes, const Sizes &sizes = {}) const;
    /** The shape input `i` (or output `i`) has under `sizes`. */
    std::vector<std::int64_t> input_shape(std::size_t i, const Sizes &sizes) const;
    std::vector<std::int64_t> output_shape(std::size_t i, const Sizes &sizes) const;
    /** Plans for these sizes now (run() does it when the sizes change): the plan, emit() and
     * cuda_source() then speak of them. Some sizes only (bind_known()): those are pinned (the
     * emitted launcher refuses other values) and the rest stay free. */
    void plan_for(const Sizes &sizes) const;
    /** Text of the kernel's code as planned: "cu" (standalone CUDA C), "ptx", "llvm" (host LLVM
     * IR after O3) or "plan" (`einfuse compile --emit KIND`). Input error for another kind. */
    std::string emit(std::string_view kind) const;
    /** The same with `name` the prefix of every exported symbol of "cu", "h" (the .cu's header)
     * and "ptx" (`einfuse compile --name`): kernels `<name>_<tensor>`, the entry point
     * `<name>_launch_with_workspace`. A C identifier; empty: einfuse's own names. */
    std::string emit(std::string_view kind, std::string_view name) const;

    /** What a timed run measured: the outputs (host arrays, in the order of outputs()), per
     * timed repetition microseconds, per CUDA kernel what ran it ("cuBLASLt, 1 call", "kernel",
     * or why not cuBLASLt), and the most device memory einfuse held. */
    struct Timing {
        std::vector<Array> outputs;
        std::vector<double> times_us;
        std::vector<std::string> ran;
        std::size_t device_peak_bytes = 0;
    };
    /** Plans for `sizes`, computes the outputs once and times `repeat` further runs (the CLI's
     * `run --repeat`): host views on either target. */
    Timing measure(const std::vector<View> &inputs, const Sizes &sizes, int repeat) const;

    /** Per output: the largest relative error of `outputs` from the float64 reference
     * interpreter on the same inputs (against max(|reference|, 1, the element's magnitude: an
     * einsum's sum of |terms|, a program's first-order bound, docs/cli.md), and the tolerance
     * for the output's dtype and the reduction length (the CLI's --check). Host views. */
    struct Deviation {
        double max_rel_err = 0;
        double tolerance = 0;
    };
    std::vector<Deviation> check(const std::vector<View> &inputs, const std::vector<View> &outputs,
                                 const Sizes &sizes) const;

    /** The standalone .cu text (`einfuse compile` for the same expression), planned for the sizes
     * of the last run, or for no sizes before the first. */
    std::string cuda_source() const;
    /** The CUDA source and its metadata (cuda_source()) planned for `sizes` (empty: unsized) with
     * this kernel's options (arch, tf32, gemm path). */
    EmbeddedSource embedded_source(const Sizes &sizes, std::string_view name = {}) const;
    /** The plan of the kernel's target (`einfuse compile --emit plan`), for the last run's sizes. */
    std::string plan() const;

    const std::string &expression() const;
    DeviceKind target() const;
    bool is_program() const;
    std::vector<TensorSpec> inputs() const;
    std::vector<TensorSpec> outputs() const;

    explicit operator bool() const { return state_ != nullptr; }
    /** Whether both are the same compiled kernel (as compile() returns on a cache hit). */
    bool operator==(const Kernel &o) const { return state_ == o.state_; }
    bool operator!=(const Kernel &o) const { return state_ != o.state_; }

private:
    friend Kernel compile(std::string_view, const Signature &, DeviceKind, const KernelOptions &);
    friend Kernel compile_uncached(std::string_view, const Signature &, DeviceKind, const KernelOptions &);
    friend Kernel compile_uncached(const ExpressionInfo &, const Signature &, DeviceKind, const KernelOptions &);
    std::shared_ptr<detail::KernelState> state_;
};

/** Parses, checks and lowers `expr` (einsum subscripts or an index-notation program) for
 * `target`. Cached in-process by (expr, signature, target, options): compiling the same again
 * returns the same Kernel while it is among the cache's most recently used (the library's one
 * cache, which the C ABI shares; EINFUSE_CACHE_ENTRIES entries, default 256). Thread-safe. Code
 * is generated at the first run. */
Kernel compile(std::string_view expr, const Signature &signature, DeviceKind target = DeviceKind::Cpu,
               const KernelOptions &options = {});

/** The same, outside the cache: a kernel of its own (its own plan and lock), so that threads
 * holding one each run in parallel. */
Kernel compile_uncached(std::string_view expr, const Signature &signature, DeviceKind target = DeviceKind::Cpu,
                        const KernelOptions &options = {});
/** The same for an expression inspect() has parsed already (the CLI inspects, then compiles). */
Kernel compile_uncached(const ExpressionInfo &expression, const Signature &signature,
                        DeviceKind target = DeviceKind::Cpu, const KernelOptions &options = {});

struct CacheStats {
    std::size_t hits = 0, misses = 0, entries = 0;
    std::size_t capacity = 0; // the most entries held (EINFUSE_CACHE_ENTRIES, read once)
};
CacheStats compile_cache_stats();
/** Empties the cache; kernels already returned stay valid. */
void clear_compile_cache();

// ---------------------------------------------------------------------------------------------
// One-shot calls (compiled through the same cache)

/** Computes an einsum, or a one-output program (inputs in order of first use), into `output`:
 * on the CUDA device when any view is on it (host views are copied there and back), else on the
 * host. Returns when the output is written. `output` may be (or overlap) an input: numpy's
 * result, as Kernel::run. */
void einsum_into(std::string_view spec, const std::vector<View> &inputs, const View &output,
                 const KernelOptions &options = {});

/** The same, into a new host Array (the result is on the host even when computed on the GPU):
 * einfuse::einsum("bij,bjk->bik", {a, b}) or einfuse::einsum("bij,bjk->bik", a, b). The result
 * lives where the computation ran: on the CUDA device when an input is there, else on the host. */
Array einsum(std::string_view spec, const std::vector<View> &inputs, const KernelOptions &options = {});
template <class... Views, std::enable_if_t<(sizeof...(Views) > 0) && (std::is_convertible_v<const Views &, View> && ...), int> = 0>
Array einsum(std::string_view spec, const Views &...inputs) {
    return einsum(spec, std::vector<View>{View(inputs)...});
}

/** '...' in a label list of the interleaved form. */
constexpr int ellipsis = -1;

/** One argument of numpy's interleaved form, einsum(a, [0, 1], b, [1, 2], [0, 2]): a view, or a
 * list of labels (0-25 are 'a'-'z', 26-51 'A'-'Z', `ellipsis` is '...'). nullptr: no argument. */
class EinsumArg {
public:
    EinsumArg(const View &view) : view_(view), kind_(Kind::View) {}
    EinsumArg(std::initializer_list<int> labels) : labels_(labels), kind_(Kind::Labels) {}
    EinsumArg(std::vector<int> labels) : labels_(std::move(labels)), kind_(Kind::Labels) {}
    EinsumArg(std::nullptr_t) {}
    bool is_view() const { return kind_ == Kind::View; }
    bool is_labels() const { return kind_ == Kind::Labels; }
    const View &view() const { return view_; }
    const std::vector<int> &labels() const { return labels_; }

private:
    enum class Kind { None, View, Labels };
    View view_;
    std::vector<int> labels_;
    Kind kind_ = Kind::None;
};

/** The subscripts of the interleaved form: views and label lists alternating, then optionally
 * the output's labels (absent: numpy's implicit output). {a, {0, 1}, b, {1, 2}, {0, 2}} gives
 * "ab,bc->ac" and the views {a, b}. Input error for another order or a label outside 0-51. */
std::string interleaved_subscripts(const std::vector<EinsumArg> &args, std::vector<View> *views = nullptr);

/** numpy's interleaved form, up to 16 operands: einfuse::einsum(a, {0, 1}, b, {1, 2}, {0, 2}) is
 * einfuse::einsum("ab,bc->ac", a, b); einsum(m, {0, 0}) is the trace "aa". */
Array einsum(const EinsumArg &x0, const EinsumArg &x1, const EinsumArg &x2 = nullptr, const EinsumArg &x3 = nullptr,
             const EinsumArg &x4 = nullptr, const EinsumArg &x5 = nullptr, const EinsumArg &x6 = nullptr,
             const EinsumArg &x7 = nullptr, const EinsumArg &x8 = nullptr, const EinsumArg &x9 = nullptr,
             const EinsumArg &x10 = nullptr, const EinsumArg &x11 = nullptr, const EinsumArg &x12 = nullptr,
             const EinsumArg &x13 = nullptr, const EinsumArg &x14 = nullptr, const EinsumArg &x15 = nullptr,
             const EinsumArg &x16 = nullptr, const EinsumArg &x17 = nullptr, const EinsumArg &x18 = nullptr,
             const EinsumArg &x19 = nullptr, const EinsumArg &x20 = nullptr, const EinsumArg &x21 = nullptr,
             const EinsumArg &x22 = nullptr, const EinsumArg &x23 = nullptr, const EinsumArg &x24 = nullptr,
             const EinsumArg &x25 = nullptr, const EinsumArg &x26 = nullptr, const EinsumArg &x27 = nullptr,
             const EinsumArg &x28 = nullptr, const EinsumArg &x29 = nullptr, const EinsumArg &x30 = nullptr,
             const EinsumArg &x31 = nullptr, const EinsumArg &x32 = nullptr);

// ---------------------------------------------------------------------------------------------
// Embedding: the CUDA source for a host framework's own NVRTC or nvcc

/** How to launch a kernel without its launcher: `block` threads per block and
 * grid = min(ceil(total / block), max_grid) blocks, total = the product of the sizes of the
 * `parallel` variables (the kernel's grid-stride loop covers the rest; total 0: do not launch).
 * `grid` is that number for the sizes given to cuda_source(), or -1 when they were not given. */
struct LaunchConfig {
    std::int64_t block = 0;
    std::int64_t max_grid = 0;
    std::int64_t grid = -1;
    std::vector<std::string> parallel;
    std::string rule; // the rule in words, e.g. "grid = min(ceil(b*i*k / 256), 524280), block = 256"
};

enum class ParamRole { Input, Output, Temporary };

/** A kernel parameter: a tensor of the program (Input, Output) or an intermediate that the caller
 * allocates between kernels (Temporary), with the index variable of each dimension. */
struct KernelParam {
    std::string name;
    ScalarType dtype;
    std::vector<std::string> indices;
    ParamRole role;
};

/** A launch rule of a variant (ir/LaunchRule.h: one object prints into the standalone launcher and
 * runs in-process): `text` in the rule language ("min(ceil_div(size(i), 1024), 524280)"), `tree`
 * the same as JSON for a host to evaluate itself (docs/api.md lists the operators: a number,
 * ["size", "i"], ["stride", "x", 0], ["aligned", "x", 16], ["dense", "x", ["i", "d"]],
 * [op, a, b], ["?:", c, a, b]), and `value` for EmbeddedSource::sizes where the sizes decide it
 * (nullopt without sizes, or where it reads strides or addresses). */
struct EmbeddedRule {
    std::string text;
    std::string tree;
    std::optional<std::int64_t> value;
};

/** The kernel that folds a split reduction's parts, launched after the tiled kernel when splits
 * > 1: grid x `grid`, block `block`, no dynamic shared memory. */
struct EmbeddedCombine {
    std::string kernel;
    EmbeddedRule grid, block;
    /** Its arguments, as EmbeddedVariant::arguments; part_args[i] is the value of "part_args[i]". */
    std::vector<std::string> arguments;
    std::vector<EmbeddedRule> part_args;
    ScalarType partial = ScalarType::F32; // the parts' element type
};

/** One way to launch a kernel: the launcher runs the first variant (in order) whose guard holds.
 * Launch `kernel` with grid (x `grid`, y `splits`), block (x `block`) and `shared_bytes` of
 * dynamic shared memory. */
struct EmbeddedVariant {
    std::string kind;   // "gemm-small", "gemm-tiled", "staged", "tiled" or "plain" (cuBLASLt runs in-process only: not listed)
    std::string kernel; // its __global__ function
    std::string note;   // what it is, when it runs
    EmbeddedRule guard, grid, block, splits;
    std::int64_t shared_bytes = 0;
    /** Its arguments in order, each 8 bytes: "data(x)" (the device pointer), "stride(x,0)" (elements,
     * 0 for a broadcast dimension of an input), "size(i)", and for a split reduction "parts"
     * (device memory of workspace_bytes; NULL when splits is 1). */
    std::vector<std::string> arguments;
    std::optional<EmbeddedCombine> combine;
    EmbeddedRule workspace_bytes; // the parts: splits * total * sizeof(partial) when splits > 1, else 0
};

/** One `extern "C" __global__` kernel of the source and its `extern "C"` host launcher
 * (documented at the top of the source). The kernel's own arguments, in order: per param a data
 * pointer and one `long long` stride per dimension (elements; 0 for a broadcast size-1 dimension
 * of an input), then one `long long` size per entry of `sizes`. */
struct EmbeddedKernel {
    std::string name;      // the __global__ function
    std::string launcher;  // name + "_launch"; host code, guarded by #ifndef __CUDACC_RTC__
    std::string statement; // what it computes, in the user's words
    std::string strategy;  // "unrolled", "broadcast-reduce", "gemm" or "elementwise"
    int num_inputs = 0;
    std::vector<KernelParam> params; // inputs, then outputs
    std::vector<std::string> sizes;  // index variables: the launcher's sizes[] and the last arguments
    LaunchConfig launch;             // the plain kernel's launch (variants.back())
    std::vector<EmbeddedVariant> variants; // in the launcher's order; the plain kernel last (always runs)
    /** The variant the rules choose for EmbeddedSource::sizes with dense row-major, 256-byte
     * aligned tensors (what cudaMalloc gives); -1 without sizes. */
    int dense_choice = -1;
};

/** Where the entry point keeps a temporary in its workspace: dense, row-major over `indices`,
 * `offset` bytes in (offset and bytes -1 without sizes). */
struct EmbeddedTemporary {
    std::string name;
    ScalarType dtype = ScalarType::F32;
    std::vector<std::string> indices;
    EmbeddedRule bytes;
    std::int64_t offset = -1;
};

/** Everything a host needs to compile and launch an expression's kernels itself. */
struct EmbeddedSource {
    std::string source;                 // exactly the text `einfuse compile EXPR` writes (with --name)
    std::string header;                 // its declarations (`--emit h`)
    std::vector<EmbeddedKernel> kernels; // in the order they must run
    std::vector<TensorSpec> inputs, outputs, temporaries;
    Sizes sizes;                        // every index size, when sizes were given
    std::vector<std::string> index_vars; // the entry point's sizes[] order
    std::vector<std::vector<std::int64_t>> output_shapes; // per output, for `sizes` (empty without)
    /** The entry point: entry + "_launch_with_workspace", "_workspace_bytes", "_error_string". */
    std::string entry;
    /** Its workspace: the temporaries, then at parts_offset one region for the split reductions'
     * parts (the largest variant's workspace_bytes); workspace_bytes in all (-1 without sizes). */
    std::vector<EmbeddedTemporary> workspace;
    std::int64_t parts_offset = -1;
    std::int64_t workspace_bytes = -1;
};

/** The CUDA source of `expr` for `signature`; with `sizes` (as `einfuse compile --dims`), planned
 * for them (unrolled kernels then accept only those sizes) and with each rule's value. Some
 * sizes only: those are pinned, the others free, and the rules have no values. */
EmbeddedSource cuda_source(std::string_view expr, const Signature &signature, const Sizes &sizes = {});
/** The same with every exported symbol prefixed by `name` (`einfuse compile --name`). */
EmbeddedSource cuda_source(std::string_view expr, const Signature &signature, const Sizes &sizes, std::string_view name);

/** The metadata as one JSON object (what the C ABI's einfuse_kernel_embedding returns; docs/c-abi.md
 * lists its fields). */
std::string embedded_json(const EmbeddedSource &e);

} // namespace einfuse

#if defined(__GNUC__)
#pragma GCC visibility pop
#endif
