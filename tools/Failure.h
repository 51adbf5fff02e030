#pragma once
// How the command reports a failure: a clang-style message on stderr and, with --json, one JSON
// object on stdout as well (docs/cli.md: "error", "exit_code", "kind", "diagnostic", "position",
// "ranges", "notes"), so that a caller parsing stdout is never left with nothing.
#include "CliOptions.h"

namespace einfuse::cli {

struct Failure {
    int exit_code = kInternal;
    std::string kind;       // usage | input | target | internal
    std::string message;    // the first line's message alone
    std::string diagnostic; // the whole text written to stderr
    std::vector<TextRange> ranges; // where in the expression (input errors), byte offsets
    std::vector<std::string> notes;

    static Failure usage(const std::string &message);
    static Failure target(const std::string &message);
    static Failure internal(const std::string &message);
    /** From the library's exception: its kind says the exit code. */
    static Failure of(const Error &e);
};

/** Writes `f` to stderr, and as JSON to stdout when `json`; returns its exit code. */
int report(const Failure &f, bool json);

/** `text` with control bytes (C0 but tab and newline, and DEL) as \xHH: option values echoed in
 * a message must not drive the terminal, as the expression's do not (the library renders its
 * diagnostics escaped the same way). */
std::string printable(std::string_view text);

} // namespace einfuse::cli
