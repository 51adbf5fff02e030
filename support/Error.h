#pragma once
// The two kinds of failure einfuse reports. A UserError is the user's mistake (bad expression,
// shape, option) and carries a Diagnostic that points into the expression; the CLI exits 2.
// A TargetError is a backend or device that cannot do the job (no GPU, NVRTC failed); exit 4.
// An InternalError is einfuse's own bug: never the answer to bad input.
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace einfuse {

/** Half-open byte range [begin, end) into the expression text. */
struct SourceRange {
    int begin = 0;
    int end = 0;
};

struct Diagnostic {
    std::string message;
    std::vector<SourceRange> ranges; // carets go under these; may be empty
    std::vector<std::string> notes;
};

/** clang-style text: "einfuse: error: MSG\n  SOURCE\n  ^~~ ^\n  note: ...". */
std::string render(const Diagnostic &d, std::string_view source);

class UserError : public std::runtime_error {
public:
    explicit UserError(Diagnostic d) : std::runtime_error(d.message), diagnostic_(std::move(d)) {}
    explicit UserError(std::string message) : UserError(Diagnostic{std::move(message), {}, {}}) {}
    const Diagnostic &diagnostic() const { return diagnostic_; }

private:
    Diagnostic diagnostic_;
};

class TargetError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

class InternalError : public std::logic_error {
public:
    using std::logic_error::logic_error;
};

/** Throws InternalError with the failing condition and place; for invariants, not user input. */
#define EINFUSE_ASSERT(cond, msg)                                                                 \
    do {                                                                                          \
        if (!(cond))                                                                              \
            throw ::einfuse::InternalError(std::string(__FILE__) + ":" +                         \
                                           std::to_string(__LINE__) + ": " #cond ": " + (msg));  \
    } while (0)

} // namespace einfuse
