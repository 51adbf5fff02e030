#include "support/Error.h"

#include <algorithm>

namespace einfuse {

std::string render(const Diagnostic &d, std::string_view source) {
    std::string out = "einfuse: error: " + d.message + "\n";
    if (!d.ranges.empty() && !source.empty()) {
        // One caret line under the whole expression; '^' marks each range's first character and
        // '~' the rest, so two operands that disagree are both pointed at.
        std::string marks(source.size() + 1, ' ');
        for (const auto &r : d.ranges) {
            int begin = std::clamp(r.begin, 0, static_cast<int>(source.size()));
            int end = std::clamp(r.end, begin + 1, static_cast<int>(source.size()) + 1);
            for (int i = begin; i < end; ++i) marks[i] = (i == begin) ? '^' : (marks[i] == '^' ? '^' : '~');
        }
        marks.erase(marks.find_last_not_of(' ') + 1);
        std::string line(source);
        std::replace(line.begin(), line.end(), '\n', ' ');
        out += "  " + line + "\n  " + marks + "\n";
    }
    for (const auto &n : d.notes) out += "  note: " + n + "\n";
    return out;
}

} // namespace einfuse
