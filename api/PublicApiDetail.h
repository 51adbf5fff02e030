#pragma once
// What the public API's sources (PublicApi.cpp, PublicData.cpp) share: the mapping between public
// and internal element types, einfuse::Error from internal exceptions, and public views as
// borrowed Tensors. Internal to api/: it sees both sides.
#include "einfuse/einfuse.hpp"

#include "frontend/Einsum.h"
#include "frontend/Program.h"
#include "support/Error.h"
#include "support/Tensor.h"

#include <map>
#include <new>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace einfuse {
class Compiled;

namespace detail {
/** An expression as inspect() parsed it, which compile_uncached(info, ...) compiles as it is. */
struct ParsedExpression {
    std::string text;
    std::shared_ptr<const frontend::ProgramAst> program; // a program's, else
    std::optional<frontend::EinsumAst> einsum;            // an einsum's
};
} // namespace detail
}

namespace einfuse::public_api {

// ScalarType and DType list the same types in the same order (each enum's comment says so).
static_assert(static_cast<int>(ScalarType::C128) == static_cast<int>(DType::C128) && static_cast<int>(DType::C128) == 14,
              "ScalarType and DType disagree");

inline DType internal(ScalarType t) {
    if (static_cast<unsigned>(t) > static_cast<unsigned>(ScalarType::C128)) throw InternalError("unknown ScalarType");
    return static_cast<DType>(t);
}

inline ScalarType external(DType t) {
    if (static_cast<unsigned>(t) > static_cast<unsigned>(DType::C128)) throw InternalError("unknown DType");
    return static_cast<ScalarType>(t);
}

[[noreturn]] inline void input_error(const std::string &message) {
    throw Error(ErrorKind::Input, message, "einfuse: error: " + message + "\n");
}

/** Memory the machine would not give where no size of the caller's asked for it (compiled code,
 * the planner's tables): a Target error, as the CLI's exit 4, never std::bad_alloc escaping the
 * API or an "internal error". An array or tensor of the caller's sizes that cannot be allocated
 * is an Input error instead ("cannot allocate N bytes ..."), as the CLI's exit 2. */
[[noreturn]] inline void out_of_memory(const std::string &what) {
    std::string message = "out of memory" + (what.empty() ? std::string() : ": " + what);
    throw Error(ErrorKind::Target, message, "einfuse: error: " + message + "\n");
}

/** The public Error of a user error whose ranges point into `source`. */
Error from_diagnostic(const Diagnostic &d, std::string_view source);

/** Runs f; internal exceptions leave as einfuse::Error, user errors rendered against `source`
 * (the expression their ranges point into). */
template <class F> auto guarded(std::string_view source, F &&f) -> decltype(f()) {
    try {
        return f();
    } catch (const Error &) {
        throw;
    } catch (const UserError &e) {
        throw from_diagnostic(e.diagnostic(), source);
    } catch (const TargetError &e) {
        throw Error(ErrorKind::Target, e.what(), "einfuse: error: " + std::string(e.what()) + "\n");
    } catch (const InternalError &e) {
        throw Error(ErrorKind::Internal, e.what(), "einfuse: internal error: " + std::string(e.what()) + "\n");
    } catch (const std::bad_alloc &) {
        out_of_memory("");
    }
}

inline std::vector<int64_t> c_strides(const std::vector<int64_t> &shape) { return contiguous_strides(shape); }

/** A borrowed Tensor over a public view. Only CUDA device 0 exists for the runtime. */
inline Tensor borrow(const View &v) {
    if (v.device().kind == DeviceKind::Cuda && v.device().id != 0)
        input_error("a view is on CUDA device " + std::to_string(v.device().id) + "; einfuse runs on device 0");
    return Tensor::borrow(v.data(), internal(v.dtype()), v.shape(), v.strides(), v.device().kind == DeviceKind::Cuda);
}


// Overlapping memory (Overlap.cpp), for Kernel::run.

/** Throws an Input error for an output two of whose elements are one address (which write
 * would win is a race). `wanted`, the program's outputs, names them. */
void check_output_layouts(const std::vector<View> &outputs, const std::vector<ir::TensorInfo> &wanted);

/** Per output, whether its memory may meet an input's or another output's. */
std::vector<bool> outputs_to_buffer(const std::vector<View> &inputs, const std::vector<View> &outputs);

/** k.run with each output marked in `buffer` computed into a fresh temporary on its device and
 * then copied into it (with the identity einsum on k's target); waits for the device before the
 * temporaries are freed. */
void run_buffered(const Kernel &k, const std::vector<View> &inputs, const std::vector<View> &outputs,
                  const std::vector<bool> &buffer, const KernelOptions &options, void *cuda_stream);

/** The embedding metadata of a CUDA-target plan (Embedding.cpp): `sized` the sizes it was planned
 * for (nullopt: none), `name` the symbols' prefix, `output_shapes` for those sizes. */
EmbeddedSource describe_embedding(const Compiled &compiled, const std::optional<std::map<std::string, int64_t>> &sized,
                                  std::string_view name, const std::vector<std::vector<int64_t>> &output_shapes);

} // namespace einfuse::public_api
