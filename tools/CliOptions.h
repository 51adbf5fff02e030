#pragma once
// The CLI's options, parsed from their text forms ("b=2,i=3", "0=2x3", "1=f64") into values of
// the public C++ API (einfuse.hpp), the only part of einfuse the CLI uses.
#include <einfuse/einfuse.hpp>

#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace einfuse::cli {

/** Exit codes of the einfuse command (documented in docs/cli.md). */
enum ExitCode { kOk = 0, kUsage = 1, kBadInput = 2, kCheckFailed = 3, kTargetFailure = 4, kInternal = 5 };

/** Thrown for a malformed option value; the CLI exits kUsage. */
struct UsageError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

using Shape = std::vector<std::int64_t>;

struct Options {
    std::string expr;
    std::vector<std::string> dims;    // "b=2,i=3", repeatable: merged
    std::vector<std::string> shapes;  // "0=2x3" (einsum operand 0) or "A=2x3" (program tensor A)
    std::vector<std::string> dtypes;  // "f32" or "0=f64"
    std::vector<std::string> inputs;  // "0=a.npy"
    std::vector<std::string> outputs; // "out=r.npy"
    std::string target;
    std::string arch;
    std::string emit;
    std::string name; // compile --name: the prefix of the emitted file's symbols
    std::string output_file;
    bool check = false;
    int repeat = 0;
    int threads = 0;
    bool tf32 = false;
    std::string gemm = "auto"; // auto | cublaslt | emitted | loops
    bool json = false;
};

/** --dims b=2,i=3, as often as wanted: the lists are merged; a name given twice must have one
 * value. Spaces around names, values and commas are ignored ("b=2, i=3"). */
Sizes parse_dims(const std::vector<std::string> &specs);
/** --name: a C identifier (letters, digits, _; not starting with a digit, __ or _ and a capital),
 * at most 100 characters; else UsageError. Empty: no --name. */
void check_name(const std::string &name);
/** --arch: sm_NN, sm_NNa, sm_NNf or compute_NN with NN >= 75 (what CUDA 13 builds for); else
 * UsageError. Whether einfuse knows that architecture is the library's question. */
void check_arch(const std::string &arch);

// Inputs are named as the expression names them: "0", "1", ... for an einsum's operands, the
// tensors' names for a program. Each parser returns one entry per name, nullopt where no option
// gave one, and throws UsageError for a name that is not an input.

/** --shape NAME=2x3x4 ("NAME=scalar" for rank 0). A name given twice must have one shape. */
std::vector<std::optional<Shape>> parse_shapes(const std::vector<std::string> &specs, const std::vector<std::string> &names);
/** `--dtype T` sets every input, `--dtype NAME=T` one (later options win). */
std::vector<std::optional<ScalarType>> parse_dtypes(const std::vector<std::string> &specs, const std::vector<std::string> &names);
/** --input NAME=FILE.npy. */
std::vector<std::optional<std::string>> parse_inputs(const std::vector<std::string> &specs, const std::vector<std::string> &names);
/** --output NAME=FILE.npy, by output name ("out" for an einsum). */
std::vector<std::optional<std::string>> parse_outputs(const std::vector<std::string> &specs, const std::vector<std::string> &names);
DeviceKind parse_target(const std::string &text);
/** "host" or "cuda": the --target spelling. */
const char *target_text(DeviceKind target);
/** The KernelOptions --arch, --threads, --tf32 and --gemm ask for. */
KernelOptions kernel_options(const Options &o);
/** "2x3x4", or "scalar" for rank 0: the --shape spelling. */
std::string shape_text(const Shape &s);

} // namespace einfuse::cli
