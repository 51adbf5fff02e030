#pragma once
// Runs a plan's kernels, JIT-compiled by the LLVM backend, on this machine's cores.
#include "exec/Compiled.h"

namespace einfuse {

class HostExecutor {
public:
    /** JIT-compiles every kernel of the plan; throws TargetError when LLVM fails or when the
     * host backend was not built. */
    explicit HostExecutor(const passes::Plan &plan);
    /** `cold_first` false: no kernel starts on cold code (exec/HostTiers.h); the constructor
     * above takes it from EINFUSE_HOST_COLD_CODE. */
    HostExecutor(const passes::Plan &plan, bool cold_first);
    ~HostExecutor();

    /** Runs the plan once over `tensors` (the kernel's params, output last), split across threads
     * as k.host_split says. */
    void run(const ir::Kernel &k, const std::vector<const Tensor *> &tensors, const ir::Extents &extents) const;

    /** Compiles the code later calls settle on now, and waits for it (exec/HostTiers.h): timed
     * runs measure the code that stays. */
    void settle() const;

    /** The code a call of k with these tensors would run now: "cold", "quick" or "full"
     * (exec/HostTiers.h); for tests. */
    const char *code_tier(const ir::Kernel &k, const std::vector<const Tensor *> &tensors, const ir::Extents &extents) const;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

} // namespace einfuse
