#include "passes/GpuTiling.h"

#include "ir/Walk.h"
#include "ir/IRVisitor.h"
#include "passes/LongSums.h"
#include "passes/strategy/Strategy.h"

#include <algorithm>
#include <set>

namespace einfuse::passes {

namespace {

bool contains(const std::vector<std::string> &v, const std::string &x) {
    return std::find(v.begin(), v.end(), x) != v.end();
}

/** The combine kernel: for each output point, acc = init; acc = acc op partial[s, point...] for
 * every split s in order; then the statements that followed the reduction loop. It reads the
 * partials as one more input, `einfuse_partial`, indexed by `einfuse_split` and the parallel
 * variables. The parts of a compensated sum arrive in f64, each its part's accumulator minus its
 * error term (exact in f64 for f32 parts), and are added in f64: the parts' sum is then rounded
 * once, at the store, instead of once per part (2^24 + 10,000 ones split in 40 parts of an f32
 * sum came out at least 34 too high on an H100). */
std::shared_ptr<const ir::Kernel> combine_kernel(const ir::Kernel &k, const std::vector<ir::Stmt> &after,
                                                 const ir::DeclareScalar &acc, ir::BinaryOp op, bool compensated) {
    const DType type = compensated ? DType::F64 : acc.type;
    std::vector<ir::Stmt> before{
        ir::DeclareScalar::make(acc.name, type, compensated ? ir::Const::make(type, 0) : acc.init)};
    ir::Kernel c;
    c.name = k.name + "_combine";
    c.comment = "the partial results of " + k.name + ", combined in order";
    c.params.assign(k.params.begin(), k.params.begin() + k.num_inputs);
    std::vector<std::string> par = ir::parallel_vars(k);
    const std::string split = "einfuse_split", partial = "einfuse_partial";
    c.params.push_back({partial, type, static_cast<int>(par.size()) + 1});
    c.params.insert(c.params.end(), k.params.begin() + k.num_inputs, k.params.end());
    c.num_inputs = k.num_inputs + 1;
    c.index_vars = k.index_vars;
    c.index_vars.push_back(split);
    std::vector<std::string> at{split};
    at.insert(at.end(), par.begin(), par.end());
    ir::Expr value = ir::Binary::make(op, ir::ScalarRef::make(type, acc.name), ir::Access::make(type, partial, at));
    std::vector<ir::Stmt> body(before);
    body.push_back(ir::For::make(split, ir::LoopKind::Serial, ir::AssignScalar::make(acc.name, value)));
    body.insert(body.end(), after.begin(), after.end());
    ir::Stmt nest = ir::Block::make(body);
    for (std::size_t i = par.size(); i-- > 0;) nest = ir::For::make(par[i], ir::LoopKind::Parallel, nest);
    c.body = nest;
    c.strategy = ir::Strategy::Elementwise;
    return std::make_shared<const ir::Kernel>(std::move(c));
}

/** The accumulator and combining operator when `loop`'s body ends with `acc = acc op x` and
 * nothing else writes acc; nothing otherwise. Before it: scalars of the body's own, inner loops,
 * and a compensated sum's assignment of its error term (LowerToLoops). */
std::optional<ir::BinaryOp> accumulation(const ir::For &loop, const ir::DeclareScalar &acc) {
    const auto *a = loop.body.as<ir::AssignScalar>();
    if (!a) {
        const auto *b = loop.body.as<ir::Block>();
        if (!b || b->stmts.empty()) return std::nullopt;
        for (std::size_t i = 0; i + 1 < b->stmts.size(); ++i) {
            const ir::Stmt &s = b->stmts[i];
            const auto *other = s.as<ir::AssignScalar>();
            if (!s.as<ir::DeclareScalar>() && !s.as<ir::For>() && !(other && other->name != acc.name)) return std::nullopt;
        }
        a = b->stmts.back().as<ir::AssignScalar>();
    }
    if (!a || a->name != acc.name) return std::nullopt;
    const auto *bin = a->value.as<ir::Binary>();
    const auto *ref = bin ? bin->a.as<ir::ScalarRef>() : nullptr;
    if (!ref || ref->name != acc.name) return std::nullopt;
    if (bin->op != ir::BinaryOp::Add && bin->op != ir::BinaryOp::Mul && bin->op != ir::BinaryOp::Max &&
        bin->op != ir::BinaryOp::Min)
        return std::nullopt;
    return bin->op;
}

/** The loop's compensated sum into `acc` in blocks of kCompensatedBlock terms (ir::Tiling::blocks):
 *   accumulate: {the term's statements; acc_b = acc_b + term}
 *   flush:      {acc_y = acc_b - acc_c; acc_t = acc + acc_y; acc_c = ...; acc = acc + acc_y; acc_b = 0} */
std::optional<ir::Tiling::CompensatedBlocks> compensated_blocks(const ir::For &loop, const ir::DeclareScalar &acc) {
    std::optional<CompensatedStep> step = compensated_step(loop.body, acc.name);
    if (!step) return std::nullopt;
    struct Declared : ir::IRVisitor {
        std::set<std::string> names;
        using ir::IRVisitor::visit;
        void visit(const ir::DeclareScalar &d) override {
            names.insert(d.name);
            ir::IRVisitor::visit(d);
        }
    } declared_in;
    declared_in.walk(loop.body);
    const std::set<std::string> &declared = declared_in.names;
    ir::Tiling::CompensatedBlocks b;
    b.terms = kCompensatedBlock;
    b.type = acc.type;
    for (b.sum = acc.name + "_b"; declared.count(b.sum) || b.sum == compensation_name(acc.name);) b.sum += "_";
    const ir::Expr sum = ir::ScalarRef::make(acc.type, b.sum);
    std::vector<ir::Stmt> accumulate = step->before;
    accumulate.push_back(ir::AssignScalar::make(b.sum, ir::Binary::make(ir::BinaryOp::Add, sum, step->term)));
    b.accumulate = ir::Block::make(accumulate);
    const auto &y = *step->step.front().as<ir::DeclareScalar>();
    std::vector<ir::Stmt> flush{ir::DeclareScalar::make(
        y.name, y.type, ir::Binary::make(ir::BinaryOp::Sub, sum, ir::ScalarRef::make(acc.type, compensation_name(acc.name))))};
    flush.insert(flush.end(), step->step.begin() + 1, step->step.end());
    flush.push_back(ir::AssignScalar::make(b.sum, ir::Const::make(acc.type, 0)));
    b.flush = ir::Block::make(flush);
    return b;
}

} // namespace

std::optional<ir::Tiling> plan_gpu_tiling(const ir::Kernel &k, const Sizes &sizes, std::string *why_not) {
    auto refuse = [&](std::string why) -> std::optional<ir::Tiling> {
        *why_not = std::move(why);
        return std::nullopt;
    };
    std::vector<std::string> par = ir::parallel_vars(k);
    // Every thread of a block computes an output point of its own; with fewer points than
    // threads the rest would repeat the work.
    if (par.empty()) return refuse("a single output point: a block's threads would all compute it");
    // A tile row holds an operand's slice as a dense block of its variables' sizes.
    if (std::string why = ir::non_var_index(k.body); !why.empty()) return refuse(why);
    // An unknown size counts as kTileRows: then any known ones need only be non-zero.
    std::vector<std::string> known;
    for (const auto &v : par)
        if (sizes.known(v)) known.push_back(v);
    if (!sizes.at_least(known, known.size() == par.size() ? kTileRows : 1))
        return refuse(std::to_string(sizes.shown(known)) + " output points, fewer than a block's " +
                      std::to_string(kTileRows) + " threads");
    // Scalar declarations, one serial reduction loop, then the statements using its result.
    ir::AroundLoop around = ir::around_first_loop(k);
    const ir::For *loop = around.loop;
    const std::vector<ir::Stmt> &before = around.before, &after = around.after;
    if (!loop || loop->loop_kind != ir::LoopKind::Serial) return refuse("no serial reduction loop inside the parallel ones");
    for (const auto &s : before)
        if (!s.as<ir::DeclareScalar>()) return refuse("the reduction loop follows other statements");
    for (const auto &s : after)
        if (s.as<ir::For>()) return refuse("more than one reduction loop");

    ir::Tiling t;
    t.rows = kTileRows;
    t.reduce_var = loop->var;
    t.points_per_thread = kTiledPointsPerThread;
    bool fits = true;
    std::string why;
    ir::for_each_tensor_var_use(loop->body, [&](const std::string &name, const std::vector<std::string> &idx) {
        if (!contains(idx, t.reduce_var)) return;
        for (const auto &v : par)
            if (contains(idx, v)) {
                fits = false;
                why = name + " depends on both '" + t.reduce_var + "' and the output's '" + v + "'";
            }
        if (std::count(idx.begin(), idx.end(), t.reduce_var) != 1) {
            fits = false;
            why = name + " is read on a diagonal of '" + t.reduce_var + "'";
        }
        for (const auto &v : idx) {
            if (v == t.reduce_var) continue;
            if (std::optional<int64_t> n = sizes.value(v)) { // a tile row's layout is compiled for it
                t.extents[v] = *n;
            } else {
                fits = false;
                why = "the size of '" + v + "' is not known when planning";
            }
        }
        if (!contains(t.tensors, name)) t.tensors.push_back(name);
    });
    // The loop reads a tiled operand only through its tile: one also read without the reduction
    // variable ("max(v[k], v[q])") is not tiled.
    ir::for_each_tensor_var_use(loop->body, [&](const std::string &name, const std::vector<std::string> &idx) {
        if (contains(t.tensors, name) && !contains(idx, t.reduce_var)) {
            fits = false;
            why = name + " is read both along '" + t.reduce_var + "' and not";
        }
    });
    if (!fits) return refuse(why);
    if (t.tensors.empty()) return refuse("no operand depends on '" + t.reduce_var + "' alone");
    int64_t row_bytes = 0;
    for (const auto &name : t.tensors) {
        const ir::TensorInfo &info = k.params.at(k.param_index(name));
        int64_t slot = 1;
        ir::for_each_tensor_var_use(loop->body, [&](const std::string &n, const std::vector<std::string> &idx) {
            if (n != name) return;
            slot = 1;
            for (const auto &v : idx) slot *= v == t.reduce_var ? 1 : t.extents.at(v);
        });
        row_bytes += slot * static_cast<int64_t>(dtype_size(info.dtype)) + 16; // + padding, at most
    }
    if (row_bytes * kTileRows > kMaxTileBytes)
        return refuse("a row of the reduced operands takes " + std::to_string(row_bytes) + " bytes, above " +
                      std::to_string(kMaxTileBytes / kTileRows));

    // The accumulator among the declarations (a compensated sum declares its error term too).
    for (const auto &s : before) {
        const auto &acc = *s.as<ir::DeclareScalar>();
        if (auto op = accumulation(*loop, acc)) {
            t.accumulator = acc.name;
            for (const auto &d : before)
                if (d.as<ir::DeclareScalar>()->name == compensation_name(acc.name)) t.compensation = compensation_name(acc.name);
            t.combine = combine_kernel(k, after, acc, *op, !t.compensation.empty());
            if (!t.compensation.empty()) t.blocks = compensated_blocks(*loop, acc);
            break;
        }
    }
    return t;
}

namespace {

/** The reductions directly inside e (not inside another reduction). `inside`: e is already
 * inside a reduction loop, so every loop of theirs is an inner one; otherwise a reduction's first
 * variable is a loop of the parallel body itself (lower_to_loops nests a Reduce's variables in
 * order, and lowers reductions inside an elementwise value before it) and the rest are inner. */
void inner_reduction_vars(const ir::Expr &e, bool inside, const Sizes &sizes, UnrollSchedule &schedule) {
    struct Direct : ir::IRVisitor {
        std::vector<const ir::Reduce *> found;
        using ir::IRVisitor::visit;
        void visit(const ir::Reduce &r) override { found.push_back(&r); } // not into its body
    } direct;
    direct.walk(e);
    for (const ir::Reduce *r : direct.found) {
        for (std::size_t i = 0; i < r->reduce_vars.size(); ++i) {
            const std::string &v = r->reduce_vars[i];
            if (!(inside || i > 0) || contains(schedule.vars, v)) continue;
            if (std::optional<int64_t> n = sizes.exact_up_to(v, kMaxUnrolledExtent)) {
                schedule.vars.push_back(v);
                schedule.extents[v] = *n;
            }
        }
        inner_reduction_vars(r->body, inside || !r->reduce_vars.empty(), sizes, schedule);
    }
}

} // namespace

UnrollSchedule inner_unroll_schedule(const ir::Definition &d, const Sizes &sizes) {
    UnrollSchedule schedule;
    const auto *top = d.value.as<ir::Reduce>();
    if (!top) return schedule;
    // The top Reduce is the definition's own: its first variable is the loop the tiling stages.
    for (std::size_t i = 1; i < top->reduce_vars.size(); ++i) {
        const std::string &v = top->reduce_vars[i];
        if (contains(schedule.vars, v)) continue;
        if (std::optional<int64_t> n = sizes.exact_up_to(v, kMaxUnrolledExtent)) {
            schedule.vars.push_back(v);
            schedule.extents[v] = *n;
        }
    }
    inner_reduction_vars(top->body, !top->reduce_vars.empty(), sizes, schedule);
    return schedule;
}

} // namespace einfuse::passes
