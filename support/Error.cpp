#include "support/Error.h"

#include <algorithm>
#include <set>

namespace einfuse {

namespace {

/** A control byte (C0 other than tab and newline, or DEL) as the 4 characters "\xHH": echoed
 * raw, ESC and BEL bytes of an expression would drive the user's terminal. */
bool is_control(char c) { return (static_cast<unsigned char>(c) < 0x20 && c != '\t' && c != '\n') || c == 0x7f; }

std::string hex_escape(char c) {
    static const char digits[] = "0123456789abcdef";
    unsigned char u = static_cast<unsigned char>(c);
    return std::string("\\x") + digits[u >> 4] + digits[u & 15];
}

std::string escape_controls(std::string_view text) {
    std::string out;
    for (char c : text) out += is_control(c) ? hex_escape(c) : std::string(1, c);
    return out;
}

/** One source line with a caret line under it: '^' at each range's first character, '~' under
 * the rest, so two places that disagree are both pointed at. A control byte prints as "\x1b",
 * and its mark is widened to match (a '^' then '~~~', or four spaces), so carets after it stay
 * under their characters; a tab stays a tab in both lines. */
std::string caret_block(std::string_view source, int first, int last, const std::vector<SourceRange> &ranges,
                        const std::string &prefix) {
    int size = static_cast<int>(source.size());
    std::string marks(last - first + 1, ' ');
    for (const auto &r : ranges) {
        int begin = std::clamp(r.begin, 0, size);
        int end = std::clamp(r.end, begin + 1, size + 1);
        for (int i = std::max(begin, first); i < std::min(end, last + 1); ++i)
            marks[i - first] = (i == begin || marks[i - first] == '^') ? '^' : '~';
    }
    std::string line, under;
    for (int i = first; i <= last; ++i) {
        char mark = marks[i - first];
        if (i == last) { // the position just past the line (a range at its end)
            under += mark;
            break;
        }
        char c = source[i];
        if (c == '\n') c = ' ';
        if (is_control(c)) {
            line += hex_escape(c);
            under += mark;
            under.append(3, mark == ' ' ? ' ' : '~');
        } else {
            line += c;
            under += c == '\t' && mark == ' ' ? '\t' : mark;
        }
    }
    under.erase(under.find_last_not_of(" \t") + 1);
    return prefix + line + "\n" + std::string(prefix.size(), ' ') + under + "\n";
}

} // namespace

std::string render(const Diagnostic &d, std::string_view source) {
    std::string out = "einfuse: error: " + escape_controls(d.message) + "\n";
    if (!d.ranges.empty() && !source.empty()) {
        std::string_view text = source;
        while (!text.empty() && text.back() == '\n') text.remove_suffix(1);
        if (text.find('\n') == std::string_view::npos) {
            out += caret_block(source, 0, static_cast<int>(source.size()), d.ranges, "  ");
        } else {
            // A program of several lines: each line a range touches, numbered, in order.
            std::set<int> starts;
            for (const auto &r : d.ranges) {
                int at = std::clamp(r.begin, 0, static_cast<int>(source.size()) - 1);
                std::size_t nl = at > 0 ? source.rfind('\n', at - 1) : std::string_view::npos;
                starts.insert(nl == std::string_view::npos ? 0 : static_cast<int>(nl) + 1);
            }
            for (int first : starts) {
                std::size_t end = source.find('\n', first);
                int last = end == std::string_view::npos ? static_cast<int>(source.size()) : static_cast<int>(end);
                int number = static_cast<int>(std::count(source.begin(), source.begin() + first, '\n')) + 1;
                out += caret_block(source, first, last, d.ranges, "  line " + std::to_string(number) + ": ");
            }
        }
    }
    for (const auto &n : d.notes) out += "  note: " + escape_controls(n) + "\n";
    return out;
}

} // namespace einfuse
