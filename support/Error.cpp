#include "support/Error.h"

#include <algorithm>
#include <set>

namespace einfuse {

namespace {

/** One source line with a caret line under it: '^' at each range's first character, '~' under
 * the rest, so two places that disagree are both pointed at. */
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
    marks.erase(marks.find_last_not_of(' ') + 1);
    std::string line(source.substr(first, last - first));
    std::replace(line.begin(), line.end(), '\n', ' ');
    return prefix + line + "\n" + std::string(prefix.size(), ' ') + marks + "\n";
}

} // namespace

std::string render(const Diagnostic &d, std::string_view source) {
    std::string out = "einfuse: error: " + d.message + "\n";
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
    for (const auto &n : d.notes) out += "  note: " + n + "\n";
    return out;
}

} // namespace einfuse
