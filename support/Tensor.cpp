#include "support/Tensor.h"

#include "support/Checked.h"
#include "support/Error.h"
#include "support/Half.h"

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <type_traits>

namespace einfuse {

int64_t element_count(const Shape &shape) {
    for (int64_t s : shape)
        if (s < 0) throw UserError("negative dimension size " + std::to_string(s));
    int64_t n = 1;
    for (int64_t s : shape) n = checked_mul(n, s, "a tensor's element count");
    return n;
}

Shape contiguous_strides(const Shape &shape) {
    Shape strides(shape.size(), 1);
    for (int d = static_cast<int>(shape.size()) - 2; d >= 0; --d)
        strides[d] = checked_mul(strides[d + 1], std::max<int64_t>(shape[d + 1], 1), "a tensor's strides");
    return strides;
}

Tensor::Tensor(DType dtype, Shape shape) : Tensor(dtype, shape, contiguous_strides(shape)) {}

namespace {
/** Elements of storage the strides reach: 1 + sum((shape[d]-1) * |strides[d]|), 0 if empty; its
 * byte span fits int64, so no offset inside it wraps. */
int64_t reach(const Shape &shape, const Shape &strides, DType dtype) {
    EINFUSE_ASSERT(strides.size() == shape.size(), "one stride per dimension");
    element_count(shape); // the elements themselves must be countable too
    return checked_reach(shape, strides, static_cast<int64_t>(dtype_size(dtype)));
}

/** The lowest offset the strides reach (<= 0); inside the reach, so it does not wrap. */
int64_t lowest_offset(const Shape &shape, const Shape &strides) {
    int64_t low = 0;
    for (std::size_t d = 0; d < shape.size(); ++d) {
        if (shape[d] == 0) return 0;
        if (strides[d] < 0) low += (shape[d] - 1) * strides[d];
    }
    return low;
}
} // namespace

const void *Tensor::storage_begin() const {
    return storage_.get() + storage_offset_ * static_cast<int64_t>(dtype_size(dtype_));
}

std::size_t Tensor::nbytes() const {
    return static_cast<std::size_t>(checked_bytes(size(), static_cast<int64_t>(dtype_size(dtype_)), "a tensor"));
}

Tensor Tensor::borrow(void *data, DType dtype, Shape shape, Shape strides, bool on_device) {
    Tensor t;
    t.dtype_ = dtype;
    t.storage_elements_ = reach(shape, strides, dtype);
    t.storage_offset_ = lowest_offset(shape, strides);
    t.shape_ = std::move(shape);
    t.strides_ = std::move(strides);
    t.on_device_ = on_device;
    if (!data && t.storage_elements_ > 0) throw UserError("a tensor with elements has a null data pointer");
    t.storage_ = std::shared_ptr<std::byte[]>(static_cast<std::byte *>(data), [](std::byte *) {}); // not ours
    return t;
}

Tensor::Tensor(DType dtype, Shape shape, Shape strides)
    : dtype_(dtype), shape_(std::move(shape)), strides_(std::move(strides)) {
    storage_elements_ = reach(shape_, strides_, dtype_);
    storage_offset_ = lowest_offset(shape_, strides_);
    // reach() bounds the bytes by 2^63, so rounding up to 64 and adding 64 cannot wrap.
    std::size_t bytes = static_cast<std::size_t>(storage_elements_) * dtype_size(dtype_);
    std::size_t rounded = (bytes + 63) / 64 * 64 + 64;
    void *p = std::aligned_alloc(64, rounded);
    if (!p) throw UserError("cannot allocate " + std::to_string(bytes) + " bytes for a tensor");
    std::memset(p, 0, rounded);
    std::shared_ptr<std::byte[]> block(static_cast<std::byte *>(p), [](std::byte *q) { std::free(q); });
    // data() is element 0, -storage_offset() elements into the block when strides are negative.
    storage_ = std::shared_ptr<std::byte[]>(block, block.get() - storage_offset_ * static_cast<int64_t>(dtype_size(dtype_)));
}

double Tensor::load(int64_t offset) const {
    EINFUSE_ASSERT(!on_device_, "the host cannot read a device tensor");
    const std::byte *p = storage_.get() + offset * static_cast<int64_t>(dtype_size(dtype_));
    switch (dtype_) {
    case DType::F32: { float v; std::memcpy(&v, p, 4); return v; }
    case DType::F64: { double v; std::memcpy(&v, p, 8); return v; }
    case DType::I32: { int32_t v; std::memcpy(&v, p, 4); return v; }
    case DType::I64: { int64_t v; std::memcpy(&v, p, 8); return static_cast<double>(v); }
    case DType::F16: { uint16_t v; std::memcpy(&v, p, 2); return half_to_float(v); }
    case DType::BF16: { uint16_t v; std::memcpy(&v, p, 2); return bf16_to_float(v); }
    case DType::Bool: { uint8_t v; std::memcpy(&v, p, 1); return v != 0; }
    case DType::I8: { int8_t v; std::memcpy(&v, p, 1); return v; }
    case DType::I16: { int16_t v; std::memcpy(&v, p, 2); return v; }
    case DType::U8: { uint8_t v; std::memcpy(&v, p, 1); return v; }
    case DType::U16: { uint16_t v; std::memcpy(&v, p, 2); return v; }
    case DType::U32: { uint32_t v; std::memcpy(&v, p, 4); return v; }
    case DType::U64: { uint64_t v; std::memcpy(&v, p, 8); return static_cast<double>(v); }
    case DType::C64: { float v; std::memcpy(&v, p, 4); return v; }
    case DType::C128: { double v; std::memcpy(&v, p, 8); return v; }
    }
    throw InternalError("unknown element type");
}

std::complex<double> Tensor::load_complex(int64_t offset) const {
    if (!is_complex(dtype_)) return load(offset);
    EINFUSE_ASSERT(!on_device_, "the host cannot read a device tensor");
    const std::byte *p = storage_.get() + offset * static_cast<int64_t>(dtype_size(dtype_));
    if (dtype_ == DType::C64) {
        float v[2];
        std::memcpy(v, p, 8);
        return {v[0], v[1]};
    }
    double v[2];
    std::memcpy(v, p, 16);
    return {v[0], v[1]};
}

void Tensor::store_complex(int64_t offset, std::complex<double> value) {
    if (!is_complex(dtype_)) return store(offset, value.real());
    EINFUSE_ASSERT(!on_device_, "the host cannot write a device tensor");
    std::byte *p = storage_.get() + offset * static_cast<int64_t>(dtype_size(dtype_));
    if (dtype_ == DType::C64) {
        float v[2] = {static_cast<float>(value.real()), static_cast<float>(value.imag())};
        std::memcpy(p, v, 8);
        return;
    }
    double v[2] = {value.real(), value.imag()};
    std::memcpy(p, v, 16);
}

/** An integer element: truncated toward zero, then wrapped into T's range (NaN gives 0). */
template <class T> void store_integer(std::byte *p, double value) {
    T x = static_cast<T>(std::isnan(value) ? 0 : integer_bits(std::trunc(value))); // the low bits
    std::memcpy(p, &x, sizeof x);
}

void Tensor::store(int64_t offset, double value) {
    EINFUSE_ASSERT(!on_device_, "the host cannot write a device tensor");
    std::byte *p = storage_.get() + offset * static_cast<int64_t>(dtype_size(dtype_));
    switch (dtype_) {
    case DType::F32: { float v = static_cast<float>(value); std::memcpy(p, &v, 4); return; }
    case DType::F64: std::memcpy(p, &value, 8); return;
    case DType::I32: return store_integer<int32_t>(p, value);
    case DType::I64: return store_integer<int64_t>(p, value);
    case DType::Bool: { uint8_t v = value != 0; std::memcpy(p, &v, 1); return; } // NaN is true, as numpy's
    case DType::I8: return store_integer<int8_t>(p, value);
    case DType::I16: return store_integer<int16_t>(p, value);
    case DType::U8: return store_integer<uint8_t>(p, value);
    case DType::U16: return store_integer<uint16_t>(p, value);
    case DType::U32: return store_integer<uint32_t>(p, value);
    case DType::U64: return store_integer<uint64_t>(p, value);
    case DType::F16: { uint16_t v = float_to_half(static_cast<float>(value)); std::memcpy(p, &v, 2); return; }
    case DType::BF16: { uint16_t v = float_to_bf16(static_cast<float>(value)); std::memcpy(p, &v, 2); return; }
    case DType::C64:
    case DType::C128: return store_complex(offset, value);
    }
}

Tensor complex_part_view(const Tensor &t, int part) {
    EINFUSE_ASSERT(is_complex(t.dtype()) && (part == 0 || part == 1), "a complex tensor's part 0 or 1");
    const DType real = real_part_type(t.dtype());
    Shape strides = t.strides();
    for (auto &s : strides) s *= 2;
    auto *data = static_cast<std::byte *>(const_cast<void *>(t.data())) + part * static_cast<int64_t>(dtype_size(real));
    return Tensor::borrow(data, real, t.shape(), strides, t.on_device());
}

void Tensor::fill_random(std::mt19937_64 &rng) {
    std::uniform_real_distribution<double> uniform(-1.0, 1.0);
    // Every storage element, so that strided and padded layouts hold no zeros anywhere. Integers
    // get small non-zero values (-4..4 without 0; unsigned 1..4), so that sums stay exact and do
    // not overflow in i32; bool gets true and false alike (false is bool's only other value).
    std::uniform_int_distribution<int> small(1, 4), sign(0, 1);
    for (int64_t i = storage_offset_; i < storage_offset_ + storage_elements_; ++i) {
        if (dtype_ == DType::Bool) store(i, sign(rng));
        else if (is_integer(dtype_)) store(i, small(rng) * (sign(rng) && !is_unsigned(dtype_) ? -1 : 1));
        else if (is_complex(dtype_)) {
            double re = uniform(rng);
            store_complex(i, {re, uniform(rng)});
        } else store(i, uniform(rng));
    }
}

} // namespace einfuse
