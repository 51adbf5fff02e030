#pragma once
// How a host kernel is split across worker threads: the user's --threads as given, or else the
// target's cores, taking fewer for a call too small to pay for waking them (recorded in
// ir::Kernel::host_split, obeyed by exec/HostExecutor, stated in the plan).
//   --threads 3: {3, as given}; default on 2 cores: {2, fewer when under 32768 iterations a part}
#include "ir/Kernel.h"
#include "passes/Pipeline.h"

namespace einfuse::passes {

ir::HostSplit plan_host_split(const LowerOptions &options);

/** "2 threads (all cores; fewer for calls under 32768 iterations per thread)": for the plan. */
std::string describe(const ir::HostSplit &split);

} // namespace einfuse::passes
