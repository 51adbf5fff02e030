#include "passes/ReductionLanes.h"

#include "ir/Walk.h"
#include "passes/LongSums.h"

#include <algorithm>
#include <map>
#include <set>

namespace einfuse::passes {

namespace {

/** The innermost serial loops of a loop nest, each with the parallel loop variables around it. */
struct SumLoop {
    const ir::For *loop;
    std::vector<std::string> parallel;
    bool in_parallel_body = false; // the innermost parallel loop's body is {declarations; loop; the rest}
    const ir::For *unrolled_around = nullptr; // or an unrolled loop's, directly around it
};

/** Whether `body` is a block of declarations, `loop`, then statements without loops. */
bool around_only(const ir::Stmt &body, const ir::For *loop) {
    const auto *b = body.as<ir::Block>();
    if (!b) return false;
    std::size_t at = 0;
    while (at < b->stmts.size() && b->stmts[at].as<ir::DeclareScalar>()) ++at;
    if (at == b->stmts.size() || b->stmts[at].as<ir::For>() != loop) return false;
    for (std::size_t s = at + 1; s < b->stmts.size(); ++s)
        if (b->stmts[s].as<ir::For>() || b->stmts[s].as<ir::Block>()) return false;
    return true;
}

void find_sum_loops(const ir::Stmt &s, std::vector<std::string> &parallel, const ir::For *around,
                    std::vector<SumLoop> &out) {
    if (const auto *b = s.as<ir::Block>()) {
        for (const auto &inner : b->stmts) find_sum_loops(inner, parallel, around, out);
        return;
    }
    const auto *f = s.as<ir::For>();
    if (!f) return;
    bool innermost = true;
    ir::for_each_loop(f->body, [&](const ir::For &) { innermost = false; });
    if (innermost && f->loop_kind == ir::LoopKind::Serial) {
        const bool in_body = around && around_only(around->body, f);
        const bool parallel_around = in_body && around->loop_kind == ir::LoopKind::Parallel;
        return void(out.push_back({f, parallel, parallel_around, in_body && !parallel_around ? around : nullptr}));
    }
    bool par = f->loop_kind == ir::LoopKind::Parallel;
    if (par) parallel.push_back(f->var);
    find_sum_loops(f->body, parallel, par || f->loop_kind == ir::LoopKind::Unrolled ? f : nullptr, out);
    if (par) parallel.pop_back();
}

const ir::ScalarRef *ref(const ir::Expr &e) { return e.as<ir::ScalarRef>(); }

/** `acc = acc + term`: acc's name, else "". */
std::string accumulates(const ir::Stmt &s) {
    const auto *a = s.as<ir::AssignScalar>();
    const auto *add = a ? a->value.as<ir::Binary>() : nullptr;
    if (!add || add->op != ir::BinaryOp::Add || !ref(add->a) || ref(add->a)->name != a->name) return "";
    return a->name;
}

/** What the loop's body sums into, as passes/LowerToLoops writes a sum: `acc = acc + term`, or
 * Kahan's four statements (its compensated_sum) `y = term - c; t = acc + y;
 * c = select(..); acc = acc + y`. Anything else (a max, a loop, a store): nothing. */
std::optional<ir::HostVectors::ReductionLanes> sum_in(const ir::For &f) {
    ir::HostVectors::ReductionLanes lanes;
    lanes.var = f.var;
    if (std::string acc = accumulates(f.body); !acc.empty()) {
        lanes.accumulator = acc;
        return lanes;
    }
    const auto *b = f.body.as<ir::Block>();
    const std::string acc = b && !b->stmts.empty() ? accumulates(b->stmts.back()) : "";
    std::optional<CompensatedStep> step = acc.empty() ? std::nullopt : compensated_step(f.body, acc);
    if (!step || !step->before.empty()) return std::nullopt; // the step alone: the term is its first line's
    lanes.accumulator = acc;
    lanes.compensation = compensation_name(acc);
    return lanes;
}

/** The inputs read in `body` whose last dimension is indexed by `var` alone (coefficient 1). */
std::vector<std::string> contiguous_along(const ir::Stmt &body, const std::string &var, const ir::Kernel &k) {
    std::vector<std::string> out;
    ir::for_each_tensor_use(body, [&](const std::string &t, const std::vector<ir::Index> &indices) {
        int p = k.param_index(t);
        if (p < 0 || p >= k.num_inputs || indices.empty()) return;
        if (ir::indexes_last_alone(indices, var) && std::find(out.begin(), out.end(), t) == out.end()) out.push_back(t);
    });
    return out;
}

/** The unrolled loops' fixed extents in `body`, by variable. */
std::map<std::string, int64_t> unrolled_extents(const ir::Stmt &body) {
    std::map<std::string, int64_t> out;
    ir::for_each_loop(body, [&](const ir::For &f) {
        if (f.loop_kind == ir::LoopKind::Unrolled) out[f.var] = f.fixed_extent;
    });
    return out;
}

/** S when every read of tensor t in `body` is t[..., var, u] with u an unrolled variable of
 * extent S in 2..kMaxDeinterleave (each alone in its dimension, neither elsewhere); 0 otherwise. */
int deinterleave_stride(const ir::Stmt &body, const std::string &t, const std::string &var,
                        const std::map<std::string, int64_t> &unrolled) {
    int stride = 0;
    bool all = true;
    ir::for_each_tensor_use(body, [&](const std::string &name, const std::vector<ir::Index> &indices) {
        if (name != t) return;
        const int last = static_cast<int>(indices.size()) - 1;
        std::string inner;
        bool along = false, other = false;
        for (const auto &term : ir::element_offset(indices)) {
            if (term.dim == last && term.coeff == 1 && !term.var.empty() && inner.empty()) inner = term.var;
            else if (term.dim == last - 1 && term.coeff == 1 && term.var == var && !along) along = true;
            else if (term.dim >= last - 1 || term.var == var) other = true;
        }
        auto u = unrolled.find(inner);
        int s = u == unrolled.end() ? 0 : static_cast<int>(u->second);
        all &= along && !other && s >= 2 && s <= kMaxDeinterleave && (stride == 0 || stride == s);
        stride = s;
    });
    return all ? stride : 0;
}

std::string listed(const std::vector<std::string> &names) {
    std::string out;
    for (const auto &n : names) out += (out.empty() ? "" : ", ") + n;
    return out;
}

/** Why the lanes stay across the output, or the lanes along the sum. */
std::optional<ir::HostVectors::ReductionLanes> plan(const ir::Kernel &k, const Sizes &sizes, std::string *why) {
    if (k.strategy != ir::Strategy::BroadcastReduce && k.strategy != ir::Strategy::Gemm) return std::nullopt;
    for (const auto &t : k.params)
        if (t.dtype != DType::F32 && t.dtype != DType::F64) return *why = "not along a sum: not all tensors f32/f64", std::nullopt;
    std::vector<std::string> parallel;
    std::vector<SumLoop> loops;
    find_sum_loops(k.body, parallel, nullptr, loops);
    if (loops.size() != 1) return *why = "not along a sum: not one innermost sum loop", std::nullopt;
    const SumLoop &l = loops.front();
    std::optional<ir::HostVectors::ReductionLanes> lanes = sum_in(*l.loop);
    if (!lanes) return *why = "not along the loop over " + l.loop->var + ": it does more than add terms", std::nullopt;
    std::vector<std::string> along = contiguous_along(l.loop->body, l.loop->var, k);
    if (along.empty())
        return *why = "not along the sum over " + l.loop->var + ": no operand's last dimension is " + l.loop->var,
               std::nullopt;
    if (!l.parallel.empty()) {
        std::vector<std::string> across = contiguous_along(l.loop->body, l.parallel.back(), k);
        if (!across.empty())
            return *why = "not along the sum over " + l.loop->var + ": " + listed(across) +
                          " is read whole across the lanes over " + l.parallel.back(),
                   std::nullopt;
    }
    std::size_t widest = 4;
    for (const auto &t : k.params) widest = std::max(widest, dtype_size(t.dtype));
    int64_t lanes_per_register = k.host_vectors->bits / (8 * static_cast<int64_t>(widest));
    int64_t wanted = kReductionLaneRegisters * lanes_per_register;
    if (!sizes.known(l.loop->var) || !sizes.at_least({l.loop->var}, wanted))
        return *why = "not along the sum over " + l.loop->var + ": shorter than " + std::to_string(wanted) +
                      " terms or not known",
               std::nullopt;
    lanes->registers = kReductionLaneRegisters;
    lanes->contiguous = along;
    std::string rows;
    const bool long_rows = sizes.at_least({l.loop->var}, kInterleavedRowBytes / static_cast<int64_t>(widest));
    if (l.in_parallel_body && long_rows) {
        lanes->rows_var = l.parallel.back();
        lanes->rows = kReductionLaneRows;
        lanes->registers = kReductionLaneRowRegisters;
        rows = std::to_string(lanes->rows) + " values of " + lanes->rows_var + " at a time, ";
    } else if (l.unrolled_around && l.unrolled_around->fixed_extent >= 2 &&
               l.unrolled_around->fixed_extent <= kReductionLaneRows) {
        // "...lmn,lmno->...o"'s o in 3: its sums in one loop, each row's reads of in1 beside the
        // others' (deinterleaved from the same cache lines), in0 loaded once for all.
        lanes->rows_var = l.unrolled_around->var;
        lanes->rows = static_cast<int>(l.unrolled_around->fixed_extent);
        lanes->registers = kReductionLaneUnrolledRowRegisters;
        rows = "all " + std::to_string(lanes->rows) + " values of " + lanes->rows_var + " at once, ";
    }
    std::vector<std::string> gathered;
    std::set<std::string> seen(along.begin(), along.end()); // each tensor read the lanes move, once
    const std::map<std::string, int64_t> unrolled = unrolled_extents(k.body);
    ir::for_each_tensor_use(l.loop->body, [&](const std::string &t, const std::vector<ir::Index> &indices) {
        bool moves = false;
        for (const auto &term : ir::element_offset(indices)) moves |= term.var == l.loop->var;
        if (!moves || !seen.insert(t).second) return;
        int p = k.param_index(t);
        int stride = p >= 0 && p < k.num_inputs ? deinterleave_stride(l.loop->body, t, l.loop->var, unrolled) : 0;
        if (stride == 0) return gathered.push_back(t);
        lanes->deinterleaved.emplace_back(t, stride);
    });
    std::string moved;
    for (const auto &[t, stride] : lanes->deinterleaved)
        moved += "; " + t + " at stride " + std::to_string(stride) + ": whole-vector loads deinterleaved by shuffles";
    *why = "lanes along the sum over " + l.loop->var + " (" + listed(along) + " contiguous along it: whole-vector loads" +
           moved + (gathered.empty() ? ", no gathers" : "; " + listed(gathered) + " gathered") + "), " + rows +
           std::to_string(lanes->registers) + (lanes->registers == 1 ? " vector" : " vectors") + " of terms per step of " +
           (lanes->compensation.empty() ? "a running sum" : "a Kahan-compensated sum") +
           " in each lane, the lanes folded pairwise after the loop";
    return lanes;
}

} // namespace

ir::Kernel choose_reduction_lanes(ir::Kernel k, const Sizes &sizes, const ir::Target &target) {
    if (target.is_gpu() || !k.host_vectors || k.host_vectors->bits < 128 || (k.gemm && k.gemm->host_packed)) return k;
    std::string why;
    k.host_vectors->reduction_lanes = plan(k, sizes, &why);
    if (k.host_vectors->reduction_lanes)
        k.host_vectors->why = why;
    else if (!why.empty())
        k.host_vectors->why += " (" + why + ")";
    return k;
}

} // namespace einfuse::passes
