#pragma once
// Host tensors: an owning buffer with a dtype, a shape and strides counted in elements.
// Strides may be anything (zero for broadcast views, negative for reversed ones: x[::-1]); the
// element of multi-index x lives at data + sum(x[d] * strides[d]) elements, so data is element
// 0 (DLPack's and numpy's rule) and a negative stride reaches below it.
#include "support/DType.h"

#include <complex>
#include <cstdint>
#include <memory>
#include <random>
#include <vector>

namespace einfuse {

using Shape = std::vector<int64_t>;

/** Number of elements of shape; throws UserError when it overflows int64. */
int64_t element_count(const Shape &shape);
/** Row-major (C order) strides in elements. */
Shape contiguous_strides(const Shape &shape);

class Tensor {
public:
    Tensor() = default;
    /** A contiguous, 64-byte aligned, zero-initialised tensor. */
    Tensor(DType dtype, Shape shape);
    /** A tensor laid out with the given strides (Fortran order, padded rows, zero strides for
     * broadcast views, negative ones); storage covers every element the strides reach. */
    Tensor(DType dtype, Shape shape, Shape strides);
    /** A view of memory the caller owns and keeps alive: host memory, or (on_device) memory of
     * the current CUDA device, which the host never reads: load/store refuse it. */
    static Tensor borrow(void *data, DType dtype, Shape shape, Shape strides, bool on_device = false);

    DType dtype() const { return dtype_; }
    const Shape &shape() const { return shape_; }
    const Shape &strides() const { return strides_; }
    int rank() const { return static_cast<int>(shape_.size()); }
    int64_t size() const { return element_count(shape_); }
    /** Bytes of the elements (size() of them); the storage may be larger when strides pad it. */
    std::size_t nbytes() const; // throws UserError past int64

    /** Elements of storage the strides reach: 1 + sum((shape[d]-1) * |strides[d]|), 0 if empty;
     * they start storage_offset() elements from data(). */
    int64_t storage_elements() const { return storage_elements_; }
    /** The lowest offset the strides reach, in elements: sum((shape[d]-1) * strides[d]) over the
     * negative strides (0 when there are none, or no elements). */
    int64_t storage_offset() const { return storage_offset_; }
    /** The first byte of the storage: data() + storage_offset() elements. */
    const void *storage_begin() const;
    bool is_contiguous() const { return strides_ == contiguous_strides(shape_); }
    bool on_device() const { return on_device_; }
    void *data() { return storage_.get(); }
    const void *data() const { return storage_.get(); }

    /** Element at a linear offset (in elements), converted to double (complex: the real part). */
    double load(int64_t offset) const;
    /** Stores value (complex: value + 0i). */
    void store(int64_t offset, double value);
    /** Element as a complex number (a real type: imaginary part 0). */
    std::complex<double> load_complex(int64_t offset) const;
    /** Stores value (a real type: its real part). */
    void store_complex(int64_t offset, std::complex<double> value);

    /** Fills with independent uniform values in [-1, 1): fresh inputs, never zeros. */
    void fill_random(std::mt19937_64 &rng);

private:
    DType dtype_ = DType::F32;
    Shape shape_;
    Shape strides_;
    int64_t storage_elements_ = 0;
    int64_t storage_offset_ = 0;
    bool on_device_ = false;
    std::shared_ptr<std::byte[]> storage_;
};

/** The real (part 0) or imaginary (part 1) parts of a complex tensor as a real tensor (f32 of
 * c64, f64 of c128) viewing the same memory: the same shape, strides doubled, part 1 one number
 * further on. Host or device memory; t must outlive it. */
Tensor complex_part_view(const Tensor &t, int part);

} // namespace einfuse
