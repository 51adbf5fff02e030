#include "Failure.h"

#include <nlohmann/json.hpp>

#include <iostream>

namespace einfuse::cli {

std::string printable(std::string_view text) {
    static const char digits[] = "0123456789abcdef";
    std::string out;
    for (char c : text) {
        unsigned char u = static_cast<unsigned char>(c);
        bool control = (u < 0x20 && c != '\t' && c != '\n') || u == 0x7f;
        out += control ? std::string("\\x") + digits[u >> 4] + digits[u & 15] : std::string(1, c);
    }
    return out;
}

namespace {
Failure make(int code, const char *kind, const std::string &message, const std::string &diagnostic) {
    Failure f;
    f.exit_code = code;
    f.kind = kind;
    f.message = message;
    f.diagnostic = diagnostic;
    return f;
}
} // namespace

Failure Failure::usage(const std::string &message) {
    return make(kUsage, "usage", message, "einfuse: error: " + printable(message) + "\n");
}

Failure Failure::target(const std::string &message) {
    return make(kTargetFailure, "target", message, "einfuse: error: " + printable(message) + "\n");
}

Failure Failure::internal(const std::string &message) {
    return make(kInternal, "internal", message, "einfuse: internal error (please report): " + printable(message) + "\n");
}

Failure Failure::of(const Error &e) {
    Failure f;
    switch (e.kind()) {
    case ErrorKind::Input:
        f = make(kBadInput, "input", e.message(), e.what()); // rendered (escaped), with carets
        f.ranges = e.ranges();
        break;
    case ErrorKind::Target: f = target(e.message()); break;
    case ErrorKind::Internal: f = internal(e.message()); break;
    }
    f.notes = e.notes();
    return f;
}

int report(const Failure &f, bool json) {
    std::cerr << f.diagnostic;
    if (json) {
        nlohmann::json j;
        j["error"] = f.message;
        j["exit_code"] = f.exit_code;
        j["kind"] = f.kind;
        j["diagnostic"] = f.diagnostic;
        j["position"] = nullptr;
        j["ranges"] = nlohmann::json::array();
        for (const TextRange &r : f.ranges) j["ranges"].push_back({{"begin", r.begin}, {"end", r.end}});
        if (!f.ranges.empty()) j["position"] = j["ranges"][0];
        j["notes"] = f.notes;
        // Option values and file names need not be UTF-8: replace what is not, never throw here.
        std::cout << j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
    }
    return f.exit_code;
}

} // namespace einfuse::cli
