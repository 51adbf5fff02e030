#include "ir/LaunchVariant.h"

#include "support/Error.h"

namespace einfuse::ir {

SizeExpr total_work(const std::vector<std::string> &parallel_vars) {
    SizeExpr product = lit(1);
    for (const auto &v : parallel_vars) product = product * SizeExpr::size(v);
    return SizeExpr::named("total", product);
}

const LaunchVariant *choose_variant(const std::vector<LaunchVariant> &variants, const LaunchFacts &facts,
                                    bool (*skip)(const LaunchVariant &)) {
    for (const auto &v : variants) {
        if (skip && skip(v)) continue;
        EINFUSE_ASSERT(v.guard.defined(), "every launch variant has a guard");
        if (v.guard.evaluate(facts)) return &v;
    }
    return nullptr;
}

std::string_view variant_kind_name(VariantKind k) {
    switch (k) {
    case VariantKind::Plain: return "plain";
    case VariantKind::Staged: return "staged";
    case VariantKind::Tiled: return "tiled";
    case VariantKind::GemmTiled: return "gemm-tiled";
    case VariantKind::GemmSmall: return "gemm-small";
    case VariantKind::Library: return "library";
    }
    return "?";
}

} // namespace einfuse::ir
