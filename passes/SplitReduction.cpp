#include "passes/SplitReduction.h"

#include "ir/Printer.h"
#include "ir/Walk.h"

#include <algorithm>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <optional>

namespace einfuse::passes {

namespace {

bool all_known(const std::vector<std::string> &vars, const Sizes &sizes) {
    return std::all_of(vars.begin(), vars.end(), [&](const std::string &v) { return sizes.known(v); });
}

std::vector<std::string> joined(std::vector<std::string> a, const std::vector<std::string> &b) {
    a.insert(a.end(), b.begin(), b.end());
    return a;
}

/** Whether `var` moves the element a reads. */
bool moves(const ir::Access &a, const std::string &var) {
    for (const auto &term : ir::element_offset(a.indices))
        if (term.var == var) return true;
    return false;
}

/** Whether every read in `body` that `var` moves has `var` alone as its last index: with
 * row-major operands, a sum over `var` innermost streams them, and passes/ReductionLanes puts the
 * vector lanes along it with whole-vector loads (a read strided along it would be gathered). */
bool streams_along(const ir::Expr &body, const std::string &var) {
    bool moved = false, all_along = true;
    ir::for_each_access(body, [&](const ir::Access &a) {
        const bool moving = moves(a, var);
        moved |= moving;
        all_along &= !moving || ir::indexes_last_alone(a.indices, var);
    });
    return moved && all_along;
}

/** The output variables that some read has after `var` when every read that `var` moves has it
 * as a plain index followed only by output variables (`outputs`), at least one read none: "n" in
 * in0[l,m,n] * in1[l,m,n,o] gives {o}. Nothing otherwise (also when no read has any after it:
 * streams_along's case). */
std::optional<std::vector<std::string>> outputs_after(const ir::Expr &body, const std::string &var,
                                                      const std::vector<std::string> &outputs) {
    bool ok = true, some_alone = false;
    std::vector<std::string> after;
    ir::for_each_access(body, [&](const ir::Access &a) {
        if (!moves(a, var)) return;
        std::size_t at = a.indices.size();
        for (std::size_t i = 0; i < a.indices.size(); ++i)
            if (const std::string *v = a.indices[i].as_var(); v && *v == var) at = i;
        if (at == a.indices.size()) return void(ok = false);
        some_alone |= at + 1 == a.indices.size();
        for (std::size_t i = at + 1; i < a.indices.size(); ++i) {
            const std::string *v = a.indices[i].as_var();
            if (!v || std::find(outputs.begin(), outputs.end(), *v) == outputs.end()) return void(ok = false);
            if (std::find(after.begin(), after.end(), *v) == after.end()) after.push_back(*v);
        }
    });
    if (!ok || !some_alone || after.empty()) return std::nullopt;
    return after;
}

std::string fresh_name(const ir::Program &p) {
    for (int i = 0;; ++i)
        if (!p.find_tensor("s" + std::to_string(i))) return "s" + std::to_string(i);
}

} // namespace

ir::Program split_reductions(const ir::Program &p, const Sizes &sizes, const ir::Target &target,
                             std::vector<std::string> &notes) {
    if (target.is_gpu()) return p;
    ir::Program q = p;
    q.definitions.clear();
    for (const auto &d : p.definitions) {
        const auto *r = d.value.as<ir::Reduce>();
        // Each size read is recorded (passes/Sizes.h): the split holds for the plan's shape class.
        bool split = r && r->op == ir::ReduceOp::Sum && r->reduce_vars.size() >= 2 && r->body.type() == r->type &&
                     all_known(d.indices, sizes) && all_known(r->reduce_vars, sizes) &&
                     sizes.at_most(d.indices, kSplitFewOutputs - 1) && sizes.at_least(r->reduce_vars, kSplitMinTerms);
        if (!split) {
            q.definitions.push_back(d);
            continue;
        }
        std::vector<std::string> lead, inner, outer = r->reduce_vars;
        const std::optional<std::vector<std::string>> copies = outputs_after(r->body, outer.back(), d.indices);
        if (copies && sizes.at_least({outer.back()}, kSplitMinRow) && sizes.at_most(*copies, kSplitRowCopies)) {
            // The first step sums the innermost variable alone, row by row (lanes along it,
            // passes/ReductionLanes); the partials keep every other reduced variable.
            lead.assign(outer.begin(), outer.end() - 1);
            outer.erase(outer.begin(), outer.end() - 1);
        } else if (streams_along(r->body, outer.back())) {
            // The first step sums the innermost variables, in the operands' order, with the
            // lanes along the sum: each thread streams whole rows ("lmn,lmn->": s0[l] =
            // sum[m,n](..), 3.3x faster than partials over n, whose reads stride over m).
            // The partials keep the outermost reduced variables, the threads' work, until
            // there are kSplitPartialsForThreads.
            while (outer.size() > 1 && sizes.at_most(joined(lead, d.indices), kSplitPartialsForThreads - 1))
                lead.push_back(outer.front()), outer.erase(outer.begin());
        } else {
            // No operand runs along the innermost reduced variables: they become the partials'
            // own (the lanes run across them), until there are kSplitFewOutputs partials; at
            // least one variable stays summed in the first step.
            while (outer.size() > 1 && sizes.at_most(joined(d.indices, inner), kSplitFewOutputs - 1)) {
                inner.insert(inner.begin(), outer.back());
                outer.pop_back();
            }
            // The threads split the outermost loop, which an einsum's broadcast dimensions may
            // leave at size 1 ("...lmn": ell0 = 1): the outermost reduced variable, when one
            // more stays summed, goes first and gives them the work.
            if (outer.size() > 1) lead.push_back(outer.front()), outer.erase(outer.begin());
        }
        std::string name = fresh_name(q);
        std::vector<std::string> indices = lead;
        indices.insert(indices.end(), d.indices.begin(), d.indices.end());
        indices.insert(indices.end(), inner.begin(), inner.end()); // the partials' variables innermost: the vector lanes
        q.temporaries.push_back({name, r->type, static_cast<int>(indices.size())});
        q.definitions.push_back({name, indices, ir::Reduce::make(indices, outer, ir::ReduceOp::Sum, r->body)});
        ir::Expr partial = ir::Access::make(r->type, name, indices);
        std::vector<std::string> rest = lead;
        rest.insert(rest.end(), inner.begin(), inner.end());
        q.definitions.push_back({d.tensor, d.indices, ir::Reduce::make(d.indices, rest, ir::ReduceOp::Sum, partial)});
        notes.push_back(fmt::format("split sum: {}[{}] adds {} terms into {} output(s): partial sums {}[{}] over {}, "
                                    "then a sum over {} (parallel work and full vector lanes)",
                                    d.tensor, fmt::join(d.indices, ","), sizes.shown(r->reduce_vars),
                                    sizes.shown(d.indices), name, fmt::join(indices, ","),
                                    fmt::join(outer, ","), fmt::join(rest, ",")));
    }
    if (q.definitions.size() == p.definitions.size()) return p;
    ir::verify(q);
    return q;
}

} // namespace einfuse::passes
