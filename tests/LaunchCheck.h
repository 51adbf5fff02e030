#pragma once
// Which launch variant of a kernel (k.launch) a launch takes, as the in-process executor and
// the standalone launcher both decide it: the first whose guard holds. Shared by the tests that
// check the rule's choice without a GPU.
#include "ir/Kernel.h"

#include <doctest/doctest.h>

namespace einfuse::test {

/** The facts of a launch: extents in k.index_vars' order, every param's strides concatenated,
 * one data address per param. */
inline ir::LaunchFacts launch_facts(const ir::Kernel &k, const std::vector<int64_t> &extents,
                                    const std::vector<int64_t> &strides, const std::vector<std::uint64_t> &addresses) {
    ir::LaunchFacts f;
    for (std::size_t v = 0; v < k.index_vars.size(); ++v) f.sizes[k.index_vars[v]] = extents.at(v);
    std::size_t at = 0;
    for (std::size_t p = 0; p < k.params.size(); ++p) {
        for (int d = 0; d < k.params[p].rank; ++d) f.strides[k.params[p].name].push_back(strides.at(at++));
        f.addresses[k.params[p].name] = addresses.at(p);
    }
    return f;
}

/** The emitted variant the rules pick (cuBLASLt aside: the standalone launcher's choice). */
inline const ir::LaunchVariant &emitted_variant(const ir::Kernel &k, const ir::LaunchFacts &facts) {
    const ir::LaunchVariant *v =
        ir::choose_variant(k.launch, facts, [](const ir::LaunchVariant &x) { return x.kind == ir::VariantKind::Library; });
    REQUIRE(v != nullptr);
    return *v;
}

} // namespace einfuse::test
