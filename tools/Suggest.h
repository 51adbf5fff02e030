#pragma once
// "Did you mean ...": the nearest of a few known words to a mistyped one.
#include <string>
#include <vector>

namespace einfuse::cli {

/** The candidate closest to `word` by edit distance (insert, delete, replace, swap of two
 * neighbours), when it is close enough to be a typo (at most 2 edits, and fewer than half of
 * the word), or one that `word` begins; "" when none is. */
std::string suggest(const std::string &word, const std::vector<std::string> &candidates);

/** "; did you mean 'X'?" for suggest()'s answer, or "". */
std::string did_you_mean(const std::string &word, const std::vector<std::string> &candidates);

} // namespace einfuse::cli
