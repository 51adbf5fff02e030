#include "Suggest.h"

#include <algorithm>

namespace einfuse::cli {

namespace {

/** Optimal string alignment distance: "--dimz" to "--dims" is 1, "rnu" to "run" is 1. */
std::size_t distance(const std::string &a, const std::string &b) {
    std::vector<std::vector<std::size_t>> d(a.size() + 1, std::vector<std::size_t>(b.size() + 1));
    for (std::size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
    for (std::size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
    for (std::size_t i = 1; i <= a.size(); ++i)
        for (std::size_t j = 1; j <= b.size(); ++j) {
            std::size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
            d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
        }
    return d[a.size()][b.size()];
}

std::size_t letters(const std::string &word) { return word.size() - std::min(word.find_first_not_of('-'), word.size()); }

} // namespace

std::string suggest(const std::string &word, const std::vector<std::string> &candidates) {
    if (word.size() > 64) return ""; // a pasted expression is no typo of an option
    std::string best;
    std::size_t best_distance = 0;
    for (const auto &c : candidates) {
        std::size_t dist = distance(word, c);
        if (dist <= 2 && 2 * dist < std::max<std::size_t>(letters(word), 2) && (best.empty() || dist < best_distance))
            best = c, best_distance = dist;
    }
    if (!best.empty()) return best;
    if (letters(word) >= 2) // --rep for --repeat
        for (const auto &c : candidates)
            if (c.size() > word.size() && c.compare(0, word.size(), word) == 0) return c;
    return "";
}

std::string did_you_mean(const std::string &word, const std::vector<std::string> &candidates) {
    std::string s = suggest(word, candidates);
    return s.empty() ? "" : "; did you mean '" + s + "'?";
}

} // namespace einfuse::cli
