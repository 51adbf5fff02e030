#pragma once
// The CLI's options, parsed from their text forms ("b=2,i=3", "0=2x3", "1=f64") into values.
#include "api/Einfuse.h"

#include <map>

namespace einfuse::cli {

/** Exit codes of the einfuse command (documented in docs/cli.md). */
enum ExitCode { kOk = 0, kUsage = 1, kBadInput = 2, kCheckFailed = 3, kTargetFailure = 4, kInternal = 5 };

/** Thrown for a malformed option value; the CLI exits kUsage. */
struct UsageError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

struct Options {
    std::string expr;
    std::string dims;                 // "b=2,i=3"
    std::vector<std::string> shapes;  // "0=2x3"
    std::vector<std::string> dtypes;  // "f32" or "0=f64"
    std::vector<std::string> inputs;  // "0=a.npy"
    std::vector<std::string> outputs; // "out=r.npy"
    std::string target;
    std::string arch;
    std::string emit;
    std::string output_file;
    bool check = false;
    int repeat = 0;
    int threads = 0;
    bool json = false;
};

ir::Extents parse_dims(const std::string &text);
/** Operand shapes by operand number; unknown operands stay nullopt. */
std::vector<std::optional<Shape>> parse_shapes(const std::vector<std::string> &specs, std::size_t operands);
/** Element types by operand: `--dtype T` sets every operand, `--dtype NAME=T` one (later options
 * win); nullopt where none was given, so that a .npy input can supply it. */
std::vector<std::optional<DType>> parse_dtypes(const std::vector<std::string> &specs, std::size_t operands);
/** .npy files by operand number ("0=a.npy"); nullopt for operands that get random inputs. */
std::vector<std::optional<std::string>> parse_inputs(const std::vector<std::string> &specs, std::size_t operands);
/** The file for `--output out=FILE`, or nullopt; an einsum's only result is named `out`. */
std::optional<std::string> parse_einsum_output(const std::vector<std::string> &specs);
Target parse_target(const std::string &text);

} // namespace einfuse::cli
