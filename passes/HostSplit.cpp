#include "passes/HostSplit.h"

#include <algorithm>

namespace einfuse::passes {

ir::HostSplit plan_host_split(const LowerOptions &options) {
    ir::HostSplit split;
    if (options.threads > 0) {
        split.threads = options.threads; // as the user asked, even for a small call
        return split;
    }
    split.threads = std::max(1, options.target.cores);
    split.fewer_when_small = true;
    return split;
}

std::string describe(const ir::HostSplit &split) {
    std::string out = std::to_string(split.threads) + (split.threads == 1 ? " thread" : " threads");
    if (split.fewer_when_small)
        out += " (all cores; fewer for calls under " + std::to_string(split.min_iterations_per_part) +
               " iterations per thread)";
    else
        out += " (as asked)";
    return out;
}

} // namespace einfuse::passes
