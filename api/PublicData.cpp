// The public API's data (include/einfuse/einfuse.hpp): element types, errors, views, DLPack,
// arrays, .npy files, and what an expression reads. Kernels are PublicApi.cpp's.
#include "api/PublicApiDetail.h"

#include "exec/Compiled.h"
#include "frontend/Einsum.h"
#include "frontend/Program.h"
#include "support/AtomicFile.h"
#include "support/Checked.h"
#include "support/Npy.h"

#include <cstring>
#include <random>

namespace einfuse {

using namespace public_api;

// ---------------------------------------------------------------------------------------------
// Types and errors

std::string_view scalar_type_name(ScalarType t) { return dtype_name(internal(t)); }
std::size_t scalar_type_size(ScalarType t) { return dtype_size(internal(t)); }

Error::Error(ErrorKind kind, std::string message, const std::string &rendered)
    : std::runtime_error(rendered), kind_(kind), message_(std::move(message)) {}

namespace {
Diagnostic diagnostic(const std::string &message, const std::vector<TextRange> &ranges,
                      const std::vector<std::string> &notes) {
    Diagnostic d{message, {}, notes};
    for (const auto &r : ranges) d.ranges.push_back({r.begin, r.end});
    return d;
}
} // namespace

Error Error::input(std::string message, std::string_view source, std::vector<TextRange> ranges,
                   std::vector<std::string> notes) {
    Error e(ErrorKind::Input, message, render(diagnostic(message, ranges, notes), source));
    e.source_ = std::string(source);
    e.ranges_ = std::move(ranges);
    e.notes_ = std::move(notes);
    return e;
}

Error Error::with_notes(const std::vector<std::string> &notes) const {
    std::vector<std::string> all = notes_;
    all.insert(all.end(), notes.begin(), notes.end());
    if (kind_ == ErrorKind::Input) return input(message_, source_, ranges_, std::move(all));
    std::string text = what();
    for (const auto &n : notes) text += "  note: " + n + "\n";
    Error e(kind_, message_, text);
    e.notes_ = std::move(all);
    return e;
}

namespace public_api {
Error from_diagnostic(const Diagnostic &d, std::string_view source) {
    std::vector<TextRange> ranges;
    for (const auto &r : d.ranges) ranges.push_back({r.begin, r.end});
    return Error::input(d.message, source, std::move(ranges), d.notes);
}
} // namespace public_api

// ---------------------------------------------------------------------------------------------
// Views, DLPack, arrays

View::View(void *data, ScalarType dtype, std::vector<std::int64_t> shape, std::vector<std::int64_t> strides,
           Device device)
    : data_(data), dtype_(dtype), shape_(std::move(shape)), strides_(std::move(strides)), device_(device) {
    for (int64_t s : shape_)
        if (s < 0) input_error("negative dimension size " + std::to_string(s));
    // C-contiguous strides multiply every later size (a zero one counts as 1): an Input error
    // past int64, even for an empty view like (0, 2^62, 2^62), never an exception of another kind.
    if (strides_.empty()) strides_ = guarded("", [&] { return c_strides(shape_); });
    if (strides_.size() != shape_.size())
        input_error("a view has " + std::to_string(shape_.size()) + " dimensions but " +
                    std::to_string(strides_.size()) + " strides");
    guarded("", [&] { return checked_reach(shape_, strides_, static_cast<int64_t>(scalar_type_size(dtype_))); });
}

std::int64_t View::numel() const { return guarded("", [&] { return element_count(shape_); }); }
bool View::is_contiguous() const { return strides_ == c_strides(shape_); }

namespace {
constexpr uint8_t kDLBoolCode = 6; // kDLBool, DLPack 0.8 and later (the installed header is 0.6)

/** Each einfuse type's DLPack dtype (one lane), both ways. */
constexpr struct {
    ScalarType type;
    uint8_t code, bits;
} kDLPackTypes[] = {
    {ScalarType::F16, kDLFloat, 16},  {ScalarType::BF16, kDLBfloat, 16}, {ScalarType::F32, kDLFloat, 32},
    {ScalarType::F64, kDLFloat, 64},  {ScalarType::I32, kDLInt, 32},     {ScalarType::I64, kDLInt, 64},
    {ScalarType::Bool, kDLBoolCode, 8}, {ScalarType::I8, kDLInt, 8},     {ScalarType::I16, kDLInt, 16},
    {ScalarType::U8, kDLUInt, 8},     {ScalarType::U16, kDLUInt, 16},    {ScalarType::U32, kDLUInt, 32},
    {ScalarType::U64, kDLUInt, 64},
};
} // namespace

DLDataType dlpack_dtype(ScalarType t) {
    for (const auto &d : kDLPackTypes)
        if (d.type == t) return {d.code, d.bits, 1};
    throw InternalError("unknown ScalarType");
}

std::optional<ScalarType> scalar_type_of(DLDataType t) {
    if (t.lanes != 1) return std::nullopt;
    for (const auto &d : kDLPackTypes)
        if (d.code == t.code && d.bits == t.bits) return d.type;
    return std::nullopt;
}

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
    std::optional<ScalarType> dtype = scalar_type_of(t.dtype);
    if (!dtype)
        input_error("DLPack dtype (code " + std::to_string(t.dtype.code) + ", " + std::to_string(t.dtype.bits) +
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
    t.dtype = dlpack_dtype(v.dtype());
    // DLTensor's fields are not const; einfuse's views are never written through them.
    t.shape = const_cast<int64_t *>(v.shape().data());
    t.strides = const_cast<int64_t *>(v.strides().data());
    t.byte_offset = 0;
    return t;
}

namespace {
/** Bytes of n elements of t: an Input error past int64, never a wrapped count. */
std::size_t array_bytes(int64_t n, ScalarType t) {
    return static_cast<std::size_t>(guarded("", [&] { return checked_bytes(n, scalar_type_size(t), "an array"); }));
}
} // namespace

Array::Array(ScalarType dtype, std::vector<std::int64_t> shape, Device device)
    : dtype_(dtype), shape_(std::move(shape)), device_(device) {
    std::int64_t n = guarded("", [&] { return element_count(shape_); });
    std::size_t bytes = array_bytes(n, dtype_);
    if (device_.kind == DeviceKind::Cpu) {
        try {
            bytes_.resize(bytes);
        } catch (const std::bad_alloc &) {
            // As an internal Tensor's (support/Tensor.cpp): the size is the caller's, so is the error.
            input_error("cannot allocate " + std::to_string(bytes) + " bytes for an array of " + std::to_string(n) +
                        " " + std::string(scalar_type_name(dtype_)) + " elements: out of memory");
        }
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

Array Array::random(ScalarType dtype, std::vector<std::int64_t> shape, std::uint64_t seed) {
    Array a(dtype, std::move(shape));
    std::mt19937_64 rng(seed);
    Tensor t = borrow(a.view());
    t.fill_random(rng);
    return a;
}

// ---------------------------------------------------------------------------------------------
// .npy files

View NpyTensor::view() const { return View(storage.data(), storage.dtype(), shape, strides); }

NpyTensor load_npy(const std::string &path) {
    return guarded("", [&] {
        Tensor t = einfuse::read_npy(path);
        NpyTensor out{Array(external(t.dtype()), {t.storage_elements()}), t.shape(), t.strides()};
        std::memcpy(out.storage.data(), t.data(), out.storage.nbytes());
        return out;
    });
}

void save_npy(const std::string &path, const View &v) {
    if (v.device().kind != DeviceKind::Cpu) input_error("save_npy takes a host view");
    guarded("", [&] { einfuse::write_npy(path, borrow(v)); });
}

void save_text(const std::string &path, std::string_view text) {
    guarded("", [&] { einfuse::write_file_atomically(path, text); });
}

// ---------------------------------------------------------------------------------------------
// What an expression reads

ExpressionInfo inspect(std::string_view expr) {
    return guarded(expr, [&] {
        ExpressionInfo info;
        auto parsed = std::make_shared<detail::ParsedExpression>();
        parsed->text = std::string(expr);
        info.is_program = frontend::is_program(expr);
        if (info.is_program) {
            parsed->program = std::make_shared<const frontend::ProgramAst>(frontend::parse_program(expr));
            TextRange whole{0, static_cast<int>(expr.size())};
            for (const auto &[name, rank] : frontend::program_inputs(*parsed->program))
                info.inputs.push_back({name, rank, whole});
        } else {
            const frontend::EinsumAst &ast = parsed->einsum.emplace(frontend::parse_einsum(expr));
            for (std::size_t i = 0; i < ast.operands.size(); ++i) {
                const auto &op = ast.operands[i];
                int rank = op.ellipsis ? -1 : static_cast<int>(op.labels.size());
                info.inputs.push_back({std::to_string(i), rank, {op.where.begin, op.where.end}});
            }
        }
        info.parsed = std::move(parsed);
        return info;
    });
}

} // namespace einfuse
