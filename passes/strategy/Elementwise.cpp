// elementwise: a definition without any reduction, one thread (or lane) per output point, the
// whole expression fused. "ij,ij->ij" and every epilogue of the programs' form.
#include "passes/strategy/Strategy.h"

#include "ir/Walk.h"
#include "support/Error.h"

namespace einfuse::passes {

namespace {

class Elementwise : public Strategy {
  public:
    ir::Strategy kind() const override { return ir::Strategy::Elementwise; }

    std::optional<Candidate> consider(const StrategyContext &ctx, std::string *why_not) const override {
        const auto *r = ctx.definition().value.as<ir::Reduce>();
        EINFUSE_ASSERT(r != nullptr, "a definition's value is a Reduce");
        // Any reduction, at the top or nested inside the value, needs a loop per output element.
        std::vector<std::string> vars = r->reduce_vars;
        for (auto &v : ir::reduced_vars(r->body)) vars.push_back(std::move(v));
        if (vars.empty()) return Candidate{};
        std::string list;
        for (const auto &v : vars) list += (list.empty() ? "" : ",") + v;
        *why_not = "it reduces over " + list;
        return std::nullopt;
    }
};

} // namespace

const Strategy &elementwise_strategy() {
    static const Elementwise s;
    return s;
}

} // namespace einfuse::passes
