// libFuzzer target for the C ABI's tensor descriptions: DLTensors with fuzzed dtype, device,
// ndim, shape, strides and byte_offset fed to einfuse_einsum on the host, for a few fixed
// einsums (so that compiled kernels are reused and time goes to the descriptions). Every
// description that claims memory the harness really has gets a real 4 KiB buffer (data inside
// it past what negative strides reach below element 0); one that
// claims more gets NULL data (einfuse must refuse it, or find it empty); one whose reach
// overflows int64 gets the buffer, and einfuse must refuse it. Any status other than
// OK/argument/expression/target, a crash, or a sanitizer finding aborts. Built against
// libeinfuse and run by scripts/fuzz-c-abi.sh.
#include "einfuse/einfuse.h"

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

struct Bytes {
    const uint8_t *data;
    std::size_t size;
    std::size_t pos = 0;
    uint8_t next() { return pos < size ? data[pos++] : 0; }
    int64_t next64() {
        uint64_t v = 0;
        for (int i = 0; i < 8; ++i) v = v << 8 | next();
        return static_cast<int64_t>(v);
    }
};

constexpr std::size_t kBuffer = 4096;

const char *const kSpecs[] = {"i->i", "ij->ji", "ij,jk->ik", "i,i->", "bij,bjk->bik", "ii->i", "...i->...", "ij->"};
const int kOperands[] = {1, 1, 2, 2, 2, 1, 1, 1};
const int kRanks[] = {1, 2, 2, 1, 3, 2, 2, 2};

DLDataType dtype_of(uint8_t b) {
    switch (b % 16) {
    case 0: return {kDLFloat, 64, 1};
    case 1: return {kDLInt, 32, 1};
    case 2: return {kDLInt, 64, 1};
    case 3: return {kDLFloat, 16, 1};
    case 4: return {kDLBfloat, 16, 1};
    case 5: return {kDLFloat, 32, 2}; // vector lanes: refused
    case 6: return {kDLUInt, 8, 1};   // not an einfuse type
    case 7: return {static_cast<uint8_t>(b), static_cast<uint8_t>(b * 7), static_cast<uint16_t>(b >> 4)};
    default: return {kDLFloat, 32, 1}; // mostly f32: few distinct kernels to compile
    }
}

int64_t extent_of(Bytes &in) {
    uint8_t b = in.next();
    if (b < 200) return b % 5;
    if (b < 230) return in.next() % 64;
    return in.next64(); // negative or huge
}

int64_t stride_of(Bytes &in) {
    uint8_t b = in.next();
    if (b < 200) return static_cast<int64_t>(b % 8) - 1;
    if (b < 230) return in.next() * 3;
    return in.next64();
}

/** Storage the description claims, as [lowest, highest] byte offsets, exactly (128-bit). */
struct Claim {
    bool empty = false, overflows = false, fits = false;
    std::size_t base = 0; // bytes below element 0 that negative strides reach: data goes that far in
};

Claim claim_of(const DLTensor &t, std::size_t element) {
    Claim c;
    if (t.ndim <= 0 || !t.shape) return c.fits = t.byte_offset + element <= kBuffer, c;
    __int128 low = 0, high = 0, reach = 0; // offsets in elements
    for (int d = 0; d < t.ndim; ++d) {
        if (t.shape[d] <= 0) { c.empty = t.shape[d] == 0; c.fits = c.empty; return c; }
    }
    // Every quantity saturates at 2^64, past int64 either way, so that 128 bits never overflow.
    const __int128 huge = static_cast<__int128>(1) << 64;
    auto clamp = [&](__int128 v) { return v > huge ? huge : v < -huge ? -huge : v; };
    for (int d = 0; d < t.ndim; ++d) {
        __int128 stride = t.strides ? t.strides[d] : 1;
        if (!t.strides) // C-contiguous: the product of the later extents
            for (int e = d + 1; e < t.ndim; ++e) stride = clamp(stride * t.shape[e]);
        __int128 span = clamp((static_cast<__int128>(t.shape[d]) - 1) * stride);
        (span < 0 ? low : high) += span;
        reach = clamp(reach + (span < 0 ? -span : span));
    }
    const __int128 max = INT64_MAX;
    c.overflows = reach > max || (reach + 1) * static_cast<__int128>(element) > max;
    c.fits = !c.overflows && static_cast<__int128>(t.byte_offset) + (high - low + 1) * static_cast<__int128>(element) <= kBuffer;
    if (c.fits) c.base = static_cast<std::size_t>(-low * static_cast<__int128>(element));
    return c;
}

std::size_t element_size(DLDataType t) { return t.bits >= 8 ? t.bits / 8 * (t.lanes ? t.lanes : 1) : 1; }

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, std::size_t size) {
    Bytes in{data, size};
    int which = in.next() % 8;
    const char *spec = kSpecs[which];
    int operands = kOperands[which];
    if (in.next() == 255) operands += 1; // a wrong count, now and then

    int tensors = operands + 1;
    std::vector<std::vector<int64_t>> shapes(tensors), strides(tensors);
    std::vector<std::vector<unsigned char>> buffers(tensors, std::vector<unsigned char>(kBuffer, 1));
    std::vector<DLTensor> t(tensors);
    bool must_fail = false;
    for (int k = 0; k < tensors; ++k) {
        DLTensor &x = t[k];
        x.dtype = dtype_of(in.next());
        uint8_t device = in.next();
        x.device = {device < 250 ? kDLCPU : device < 253 ? kDLCUDAHost : static_cast<DLDeviceType>(device % 20), 0};
        uint8_t r = in.next();
        x.ndim = r < 220 ? kRanks[which] + (which == 6 ? r % 3 : 0) : static_cast<int8_t>(r);
        int dims = x.ndim > 0 ? (x.ndim < 8 ? x.ndim : 8) : 0;
        if (x.ndim > 8) x.ndim = 8; // the arrays below hold 8
        for (int d = 0; d < dims; ++d) {
            shapes[k].push_back(extent_of(in));
            strides[k].push_back(stride_of(in));
        }
        uint8_t flags = in.next();
        x.shape = dims && (flags & 0x30) != 0x30 ? shapes[k].data() : nullptr; // NULL now and then
        x.strides = (flags & 2) && dims ? strides[k].data() : nullptr;
        x.byte_offset = (flags & 4) ? in.next() * 8 : 0;
        if (x.ndim < 0 || (x.ndim > 0 && !x.shape)) {
            x.data = buffers[k].data();
            continue; // refused for its shape
        }
        bool negative = false;
        for (int d = 0; d < x.ndim; ++d) negative = negative || x.shape[d] < 0;
        if (negative) {
            x.data = buffers[k].data();
            continue;
        }
        Claim c = claim_of(x, element_size(x.dtype));
        if (c.overflows) must_fail = true;
        // A negative stride (numpy's x[::-1]) reaches below data: data sits that far into the buffer.
        x.data = c.fits ? buffers[k].data() + c.base : c.overflows ? buffers[k].data() : nullptr;
    }
    int status = einfuse_einsum(spec, operands, t.data(), &t[operands]);
    if (status == EINFUSE_ERROR_INTERNAL) {
        std::fprintf(stderr, "internal error for %s: %s\n", spec, einfuse_last_error());
        std::abort();
    }
    if (must_fail && status == EINFUSE_OK) {
        std::fprintf(stderr, "a description whose reach overflows int64 was accepted (%s)\n", spec);
        std::abort();
    }
    return 0;
}
