// XLA FFI handlers that let einfuse run inside jax.jit: an XLA custom call whose buffers are
// handed to an einfuse_kernel compiled beforehand by the Python package (einfuse/_xla.py), on the
// stream XLA gives the call. Built by _xla.py at the first jit use with the C++ compiler and
// jaxlib's own FFI headers (jax.ffi.include_dir()), so it always matches the running jaxlib.
//
// The kernel arrives as an i64 attribute holding its address: _xla.py keeps every kernel it
// passes alive for the life of the process, so the address stays valid in any compiled XLA
// executable that names it.
#include <einfuse/einfuse.h>

#include "xla/ffi/api/ffi.h"

#include <cstdint>
#include <string>
#include <vector>

namespace ffi = xla::ffi;

// The CUDA runtime's stream type, declared as cuda_runtime_api.h does (no CUDA headers needed).
typedef struct CUstream_st *cudaStream_t;

namespace {

bool dlpack_type(ffi::DataType type, DLDataType &out) {
    auto set = [&](uint8_t code, uint8_t bits) {
        out.code = code, out.bits = bits, out.lanes = 1;
        return true;
    };
    switch (type) {
    case ffi::DataType::PRED: return set(6, 8); // kDLBool: DLPack 0.8+, the installed header is 0.6
    case ffi::DataType::S8: return set(kDLInt, 8);
    case ffi::DataType::S16: return set(kDLInt, 16);
    case ffi::DataType::S32: return set(kDLInt, 32);
    case ffi::DataType::S64: return set(kDLInt, 64);
    case ffi::DataType::U8: return set(kDLUInt, 8);
    case ffi::DataType::U16: return set(kDLUInt, 16);
    case ffi::DataType::U32: return set(kDLUInt, 32);
    case ffi::DataType::U64: return set(kDLUInt, 64);
    case ffi::DataType::F16: return set(kDLFloat, 16);
    case ffi::DataType::F32: return set(kDLFloat, 32);
    case ffi::DataType::F64: return set(kDLFloat, 64);
    case ffi::DataType::BF16: return set(kDLBfloat, 16);
    case ffi::DataType::C64: return set(kDLComplex, 64);
    case ffi::DataType::C128: return set(kDLComplex, 128);
    default: return false;
    }
}

// XLA's buffers are dense and row-major: a DLTensor with no strides says exactly that. `buffer`
// is used through -> (an AnyBuffer's address, or the Result<AnyBuffer> of an output).
template <typename Buffer> bool describe(Buffer buffer, DLDevice device, DLTensor &out) {
    out = DLTensor{};
    out.data = buffer->untyped_data();
    out.device = device;
    auto dims = buffer->dimensions();
    out.ndim = static_cast<int32_t>(dims.size());
    out.shape = const_cast<int64_t *>(dims.begin());
    return dlpack_type(buffer->element_type(), out.dtype);
}

ffi::Error run(einfuse_kernel *kernel, DLDevice device, void *stream, ffi::RemainingArgs args,
               ffi::RemainingRets rets) {
    if (kernel == nullptr) return ffi::Error::InvalidArgument("einfuse: no kernel");
    std::vector<DLTensor> inputs(args.size()), outputs(rets.size());
    for (size_t i = 0; i < args.size(); ++i) {
        auto buffer = args.get<ffi::AnyBuffer>(i);
        if (buffer.has_error()) return buffer.error();
        if (!describe(&*buffer, device, inputs[i]))
            return ffi::Error::InvalidArgument("einfuse: input " + std::to_string(i) + " has a type einfuse cannot read");
    }
    for (size_t o = 0; o < rets.size(); ++o) {
        auto buffer = rets.get<ffi::AnyBuffer>(o);
        if (buffer.has_error()) return buffer.error();
        if (!describe(*buffer, device, outputs[o])) // a Result<AnyBuffer>, used through ->
            return ffi::Error::InvalidArgument("einfuse: output " + std::to_string(o) + " has a type einfuse cannot write");
    }
    int status = einfuse_run_on_stream(kernel, static_cast<int>(inputs.size()), inputs.data(),
                                       static_cast<int>(outputs.size()), outputs.data(), stream);
    if (status == EINFUSE_OK) return ffi::Error::Success();
    auto code = status == EINFUSE_ERROR_TARGET || status == EINFUSE_ERROR_INTERNAL ? ffi::ErrorCode::kInternal
                                                                                   : ffi::ErrorCode::kInvalidArgument;
    return ffi::Error(code, einfuse_last_error());
}

// XLA runs a GPU custom call on device `ordinal`'s stream; einfuse's kernels were compiled for
// that device when _xla.py compiled them (device 0: einfuse's C ABI uses device 0's context).
ffi::Error run_cuda(cudaStream_t stream, ffi::RemainingArgs args, ffi::RemainingRets rets, einfuse_kernel *kernel) {
    return run(kernel, DLDevice{kDLCUDA, 0}, stream, args, rets);
}

ffi::Error run_host(ffi::RemainingArgs args, ffi::RemainingRets rets, einfuse_kernel *kernel) {
    return run(kernel, DLDevice{kDLCPU, 0}, nullptr, args, rets);
}

} // namespace

// The handlers are looked up by name (ctypes), so they must stay visible under -fvisibility=hidden:
// XLA_FFI_DEFINE_HANDLER_SYMBOL marks them extern "C" but not exported.
#pragma GCC visibility push(default)

XLA_FFI_DEFINE_HANDLER_SYMBOL(einfuse_xla_cuda, run_cuda,
                              ffi::Ffi::Bind()
                                  .Ctx<ffi::PlatformStream<cudaStream_t>>()
                                  .RemainingArgs()
                                  .RemainingRets()
                                  .Attr<ffi::Pointer<einfuse_kernel>>("kernel"));

XLA_FFI_DEFINE_HANDLER_SYMBOL(einfuse_xla_host, run_host,
                              ffi::Ffi::Bind().RemainingArgs().RemainingRets().Attr<ffi::Pointer<einfuse_kernel>>(
                                  "kernel"));

#pragma GCC visibility pop
