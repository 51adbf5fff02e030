// Which views share memory (include/einfuse/einfuse.hpp: may_share_memory, has_overlapping_elements),
// and what Kernel::run does about it on every entry point (the C++ API, einsum_into, the C ABI;
// host and CUDA alike): an output whose bytes meet an input's is computed into a temporary and
// copied, as numpy does; an output whose own elements overlap is refused.
#include "api/PublicApiDetail.h"

#include "exec/Compiled.h"

#include <algorithm>
#include <cstdint>
#include <utility>
#include <vector>

namespace einfuse {

namespace {

/** The lowest and highest byte a view can reach, as addresses; nullopt without elements. The
 * view's constructor checked that its reach in bytes fits int64, so nothing here wraps. */
std::optional<std::pair<std::uintptr_t, std::uintptr_t>> byte_range(const View &v) {
    const auto &shape = v.shape();
    const auto &strides = v.strides();
    if (std::any_of(shape.begin(), shape.end(), [](std::int64_t n) { return n == 0; })) return std::nullopt;
    const std::int64_t size = static_cast<std::int64_t>(scalar_type_size(v.dtype()));
    std::int64_t low = 0, high = 0; // in elements, relative to data()
    for (std::size_t d = 0; d < shape.size(); ++d) {
        std::int64_t span = (shape[d] - 1) * strides[d];
        (span < 0 ? low : high) += span;
    }
    const auto base = reinterpret_cast<std::uintptr_t>(v.data());
    return std::make_pair(base + static_cast<std::uintptr_t>(low * size),
                          base + static_cast<std::uintptr_t>(high * size + size - 1));
}

/** Dimensions that can make two elements meet: size > 1, strides made positive (the sign of a
 * stride does not change which offsets coincide). */
struct Dim {
    std::int64_t size, stride;
};

/** Floor and ceiling of a / b for b > 0. */
std::int64_t floor_div(std::int64_t a, std::int64_t b) { return a / b - ((a % b != 0) && (a < 0)); }
std::int64_t ceil_div(std::int64_t a, std::int64_t b) { return -floor_div(-a, b); }

/** Searches x != 0 with |x[d]| < size[d] and sum x[d] * stride[d] == 0: two indices whose
 * difference is x reach one element. Dimensions come largest stride first; at each level x[d] is
 * limited to what the smaller strides can still cancel (`rest[d]`), and the first nonzero x[d] is
 * positive (x and -x are the same pair). Returns 1 (found), 0 (none) or -1 (gave up after
 * `budget` steps). */
class OverlapSearch {
  public:
    explicit OverlapSearch(std::vector<Dim> dims) : dims_(std::move(dims)), rest_(dims_.size() + 1, 0) {
        for (std::size_t d = dims_.size(); d-- > 0;)
            rest_[d] = rest_[d + 1] + (dims_[d].size - 1) * dims_[d].stride;
    }
    int run() { return visit(0, 0, false); }

  private:
    int visit(std::size_t d, std::int64_t sum, bool nonzero) {
        if (--budget_ < 0) return -1;
        if (d == dims_.size()) return sum == 0 && nonzero ? 1 : 0;
        const Dim &dim = dims_[d];
        const std::int64_t rest = rest_[d + 1];
        // |sum + x * stride| <= rest, |x| < size; and x >= 0 while every earlier x is 0.
        std::int64_t lo = std::max(ceil_div(-rest - sum, dim.stride), nonzero ? -(dim.size - 1) : 0);
        std::int64_t hi = std::min(floor_div(rest - sum, dim.stride), dim.size - 1);
        for (std::int64_t x = lo; x <= hi; ++x) {
            int found = visit(d + 1, sum + x * dim.stride, nonzero || x != 0);
            if (found != 0) return found;
        }
        return 0;
    }
    std::vector<Dim> dims_;
    std::vector<std::int64_t> rest_; // rest_[d]: the most dimensions d.. can add
    long budget_ = 1L << 20;
};

} // namespace

bool may_share_memory(const View &a, const View &b) {
    auto ra = byte_range(a), rb = byte_range(b);
    return ra && rb && ra->first <= rb->second && rb->first <= ra->second;
}

bool has_overlapping_elements(const View &v) {
    const auto &shape = v.shape();
    // No elements at all: any strides (numpy gives a size-0 dimension stride 0).
    if (std::find(shape.begin(), shape.end(), 0) != shape.end()) return false;
    std::vector<Dim> dims;
    for (std::size_t d = 0; d < shape.size(); ++d) {
        if (v.shape()[d] == 1) continue; // a size-1 dimension never moves: its stride is free
        std::int64_t stride = v.strides()[d] < 0 ? -v.strides()[d] : v.strides()[d];
        if (stride == 0) return true; // size > 1 and stride 0: elements 0 and 1 coincide
        dims.push_back({v.shape()[d], stride});
    }
    // The common case, decided in one pass: each stride, smallest first, steps past everything
    // the smaller ones reach (C or Fortran order, padded rows, transposes). Then no two indices
    // meet.
    std::sort(dims.begin(), dims.end(), [](const Dim &a, const Dim &b) { return a.stride < b.stride; });
    std::int64_t reach = 0;
    bool separated = true;
    for (const Dim &d : dims) {
        separated = separated && d.stride > reach;
        reach += (d.size - 1) * d.stride;
    }
    if (separated) return false;
    // Interleaved layouts (strides 4 and 6 over sizes 3 and 2 reach 0 4 8 6 10 14: disjoint, yet
    // 6 < 8): an exact search, bounded; a layout it cannot decide counts as overlapping.
    std::reverse(dims.begin(), dims.end());
    return OverlapSearch(std::move(dims)).run() != 0;
}

// ---------------------------------------------------------------------------------------------
// Kernel::run's side

namespace public_api {

void check_output_layouts(const std::vector<View> &outputs, const std::vector<ir::TensorInfo> &wanted) {
    for (std::size_t i = 0; i < outputs.size(); ++i) {
        if (!has_overlapping_elements(outputs[i])) continue;
        std::string shape, strides;
        for (std::size_t d = 0; d < outputs[i].shape().size(); ++d) {
            shape += (d ? "," : "") + std::to_string(outputs[i].shape()[d]);
            strides += (d ? "," : "") + std::to_string(outputs[i].strides()[d]);
        }
        input_error("output " + std::to_string(i) + (i < wanted.size() ? " (" + wanted[i].name + ")" : std::string()) +
                    " of shape [" + shape + "] has strides [" + strides +
                    "] that make its elements overlap; an output's elements must not overlap (a stride of 0 is "
                    "allowed only on a dimension of size 0 or 1)");
    }
}

std::vector<bool> outputs_to_buffer(const std::vector<View> &inputs, const std::vector<View> &outputs) {
    // Before, an in-place transpose read elements it had already overwritten.
    std::vector<bool> buffer(outputs.size(), false);
    for (std::size_t o = 0; o < outputs.size(); ++o) {
        for (const View &in : inputs)
            buffer[o] = buffer[o] || may_share_memory(outputs[o], in);
        for (std::size_t p = 0; p < outputs.size(); ++p)
            buffer[o] = buffer[o] || (p != o && may_share_memory(outputs[o], outputs[p]));
    }
    return buffer;
}

namespace {

/** Waits for the device when leaving early (an exception): its queued kernels may still use
 * the temporaries about to be freed. The normal way out waits explicitly, and reports. */
struct DeviceFence {
    bool armed = false;
    ~DeviceFence() {
        if (!armed) return;
        try {
            synchronize_device();
        } catch (...) { // already leaving with the error that matters
        }
    }
};

} // namespace

void run_buffered(const Kernel &k, const std::vector<View> &inputs, const std::vector<View> &outputs,
                  const std::vector<bool> &buffer, const KernelOptions &options, void *cuda_stream) {
    std::vector<Array> temporaries(outputs.size());
    std::vector<View> into = outputs;
    DeviceFence fence;
    for (std::size_t i = 0; i < outputs.size(); ++i) {
        if (!buffer[i]) continue;
        temporaries[i] = Array(outputs[i].dtype(), outputs[i].shape(), outputs[i].device());
        into[i] = temporaries[i].view();
        fence.armed = fence.armed || outputs[i].device().kind == DeviceKind::Cuda;
    }
    k.run(inputs, into, cuda_stream);
    // The copy is the identity einsum on the kernel's own target, so host and CUDA take one path
    // (and the host tests cover it); it may be k itself ("...->..." onto a shifted input).
    for (std::size_t i = 0; i < outputs.size(); ++i) {
        if (!buffer[i]) continue;
        Kernel copy =
            compile("...->...", Signature::einsum({outputs[i].dtype()}, {outputs[i].ndim()}), k.target(), options);
        copy.run({into[i]}, {outputs[i]}, cuda_stream);
    }
    if (fence.armed) {
        fence.armed = false;
        synchronize_device();
    }
}

} // namespace public_api

} // namespace einfuse
