#include "passes/LongSums.h"

#include "ir/Walk.h"

namespace einfuse::passes {

namespace {

/** Whether r adds more than kLongSum terms, or a number not known when planning. */
bool is_long(const ir::Reduce &r, const Sizes &sizes) {
    std::vector<std::string> so_far;
    for (const auto &v : r.reduce_vars) {
        if (!sizes.known(v) || !sizes.at_most({v}, kLongSum)) return true;
        so_far.push_back(v);
        if (!sizes.at_most(so_far, kLongSum)) return true;
    }
    return false;
}

} // namespace

std::vector<LongSum> long_sums(const ir::Definition &d, const Sizes &sizes, const ir::Target &target) {
    std::vector<LongSum> out;
    ir::for_each_reduce(d.value, [&](const ir::Reduce &r) {
        if (r.reduce_vars.empty() || r.op != ir::ReduceOp::Sum || !is_long(r, sizes)) return;
        // Integer sums are exact (modulo 2^n); f16 and bf16 terms are summed in f32 already.
        if (r.type == DType::F32)
            out.push_back({&r, target.is_gpu() ? SumMethod::Compensated : SumMethod::Wider});
        else if (r.type == DType::F64)
            out.push_back({&r, SumMethod::Compensated});
    });
    return out;
}

std::optional<CompensatedStep> compensated_step(const ir::Stmt &body, const std::string &accumulator) {
    const auto *b = body.as<ir::Block>();
    if (!b || b->stmts.size() < 4) return std::nullopt;
    const std::size_t at = b->stmts.size() - 4;
    const auto *y = b->stmts[at].as<ir::DeclareScalar>();
    const auto *y_init = y ? y->init.as<ir::Binary>() : nullptr;
    const auto *c = y_init ? y_init->b.as<ir::ScalarRef>() : nullptr;
    const auto *acc = b->stmts[at + 3].as<ir::AssignScalar>();
    if (!y_init || y_init->op != ir::BinaryOp::Sub || !c || c->name != compensation_name(accumulator) || !acc ||
        acc->name != accumulator || !b->stmts[at + 1].as<ir::DeclareScalar>() || !b->stmts[at + 2].as<ir::AssignScalar>())
        return std::nullopt;
    return CompensatedStep{{b->stmts.begin(), b->stmts.begin() + static_cast<std::ptrdiff_t>(at)},
                           y_init->a,
                           {b->stmts.begin() + static_cast<std::ptrdiff_t>(at), b->stmts.end()}};
}

std::string describe(const LongSum &s) {
    std::string vars;
    for (const auto &v : s.reduce->reduce_vars) vars += (vars.empty() ? "" : ",") + v;
    return s.method == SumMethod::Wider ? "sum over " + vars + " accumulated in f64" : "Kahan-compensated sum over " + vars;
}

} // namespace einfuse::passes
