#pragma once
// DLTensor descriptions of host f32 buffers, for the tests of the C ABI (include/einfuse/einfuse.h).
#include <dlpack/dlpack.h>

#include <cstdint>

namespace einfuse::test {

/** data viewed as f32 on the host with `shape` and `strides` (nullptr: C-contiguous). */
inline DLTensor host_f32(float *data, int ndim, int64_t *shape, int64_t *strides = nullptr) {
    DLTensor t{};
    t.data = data;
    t.device = {kDLCPU, 0};
    t.ndim = ndim;
    t.dtype = {kDLFloat, 32, 1};
    t.shape = shape;
    t.strides = strides;
    return t;
}

} // namespace einfuse::test
