#include "passes/LowerToLoops.h"

#include "ir/Printer.h"
#include "ir/IRMutator.h"
#include "ir/Walk.h"
#include "support/Error.h"

#include <algorithm>
#include <limits>

namespace einfuse::passes {

namespace {

/** The program's name, with the tensor defined when there are several kernels (contraction
 * steps); a program without a name names each kernel after its tensor. */
std::string kernel_name(const ir::Program &p, const ir::Definition &d) {
    if (p.name.empty()) return "einfuse_" + d.tensor;
    return "einfuse_" + p.name + (p.definitions.size() > 1 ? "_" + d.tensor : "");
}

void collect_tensors(const ir::Expr &e, std::vector<std::string> &names) {
    ir::for_each_access(e, [&](const ir::Access &a) {
        if (std::find(names.begin(), names.end(), a.tensor) == names.end()) names.push_back(a.tensor);
    });
}

/** Loops over vars around body, outermost first; a variable the schedule unrolls gets an
 * Unrolled loop with its fixed trip count instead of `kind`. */
ir::Stmt nest(const std::vector<std::string> &vars, ir::LoopKind kind, ir::Stmt body, const UnrollSchedule &schedule) {
    for (auto it = vars.rbegin(); it != vars.rend(); ++it) {
        bool unroll = std::find(schedule.vars.begin(), schedule.vars.end(), *it) != schedule.vars.end();
        body = unroll ? ir::For::make(*it, ir::LoopKind::Unrolled, body, schedule.extents.at(*it))
                      : ir::For::make(*it, kind, body);
    }
    return body;
}

/** Replaces every Reduce in an expression by a register accumulator, emitting the loops that
 * compute it before the expression; nested reductions nest their loops.
 * Before: out[i] = sum[j](exp(-sum[d]((x[i,d] - y[j,d]) ^ 2)) * w[j])
 * After:  f32 acc = 0
 *         for j: { f32 acc1 = 0; for d: acc1 = acc1 + (x[i,d] - y[j,d]) ^ 2
 *                  acc = acc + exp(-acc1) * w[j] }
 *         -> acc */
class ReductionLowering : public ir::IRMutator {
public:
    ReductionLowering(const UnrollSchedule &schedule, const std::vector<LongSum> &long_sums)
        : schedule_(schedule), long_sums_(long_sums) {}

    /** e without its reductions; the statements computing them are appended to stmts. */
    ir::Expr lower(const ir::Expr &e, std::vector<ir::Stmt> &stmts) {
        std::vector<ir::Stmt> *outer = stmts_;
        stmts_ = &stmts;
        ir::Expr out = mutate(e);
        stmts_ = outer;
        return out;
    }

private:
    using ir::IRMutator::visit;
    ir::Expr visit(const ir::Reduce &r, const ir::Expr &) override {
        if (r.reduce_vars.empty()) return mutate(r.body); // an elementwise definition
        std::string name = count_ == 0 ? "acc" : "acc" + std::to_string(count_);
        ++count_;
        ir::Expr acc = ir::ScalarRef::make(r.type, name);
        std::vector<ir::Stmt> inner;
        ir::Expr body = lower(r.body, inner);
        auto long_sum = std::find_if(long_sums_.begin(), long_sums_.end(),
                                     [&](const LongSum &s) { return s.reduce == &r; });
        if (long_sum != long_sums_.end() && long_sum->method == SumMethod::Wider) {
            // acc (f64) = acc + f64(term); the reduction's value is f32(acc), rounded once.
            acc = ir::ScalarRef::make(DType::F64, name);
            body = ir::Cast::make(DType::F64, body);
        }
        const DType acc_type = acc.type();
        stmts_->push_back(ir::DeclareScalar::make(name, acc_type, ir::Const::make(acc_type, ir::reduce_identity(r.op))));
        if (long_sum != long_sums_.end() && long_sum->method == SumMethod::Compensated)
            compensated_sum(name, acc_type, body, inner);
        else
            inner.push_back(ir::AssignScalar::make(name, ir::Binary::make(ir::reduce_combiner(r.op), acc, body)));
        stmts_->push_back(nest(r.reduce_vars, ir::LoopKind::Serial,
                               inner.size() == 1 ? inner.front() : ir::Block::make(inner), schedule_));
        return acc_type == r.type ? acc : ir::Cast::make(r.type, acc);
    }

    /** Kahan's summation of `term` into `name` (passes/LongSums.h says when): `name_c`,
     * declared before the loops, holds the rounding error of the additions so far, which the
     * next term makes up for. Once the sum is infinite or NaN the error is 0, not inf - inf:
     * a sum that overflows or meets an infinite term stays infinite, as a running sum does.
     * The last statement still reads `acc = acc + y`, the form every accumulation is
     * recognised by (passes/GpuTiling); the compilers share it with acc_t.
     *   acc_c = 0 (before the loops)
     *   for j: { acc_y = term - acc_c; acc_t = acc + acc_y
     *            acc_c = select(|acc_t| < inf, (acc_t - acc) - acc_y, 0); acc = acc + acc_y } */
    void compensated_sum(const std::string &name, DType type, const ir::Expr &term, std::vector<ir::Stmt> &inner) {
        auto ref = [&](const std::string &n) { return ir::ScalarRef::make(type, n); };
        auto sub = [](ir::Expr a, ir::Expr b) { return ir::Binary::make(ir::BinaryOp::Sub, std::move(a), std::move(b)); };
        auto add = [](ir::Expr a, ir::Expr b) { return ir::Binary::make(ir::BinaryOp::Add, std::move(a), std::move(b)); };
        const std::string c = compensation_name(name), y = name + "_y", t = name + "_t";
        stmts_->push_back(ir::DeclareScalar::make(c, type, ir::Const::make(type, 0)));
        inner.push_back(ir::DeclareScalar::make(y, type, sub(term, ref(c))));
        inner.push_back(ir::DeclareScalar::make(t, type, add(ref(name), ref(y))));
        ir::Expr finite = ir::Binary::make(ir::BinaryOp::Lt, ir::Unary::make(ir::UnaryOp::Abs, ref(t)),
                                           ir::Const::make(type, std::numeric_limits<double>::infinity()));
        inner.push_back(ir::AssignScalar::make(
            c, ir::Select::make(finite, sub(sub(ref(t), ref(name)), ref(y)), ir::Const::make(type, 0))));
        inner.push_back(ir::AssignScalar::make(name, add(ref(name), ref(y))));
    }

    const UnrollSchedule &schedule_;
    const std::vector<LongSum> &long_sums_;
    std::vector<ir::Stmt> *stmts_ = nullptr; // where the current expression's loops go
    int count_ = 0;
};

} // namespace

ir::Kernel lower_to_loops(const ir::Program &p, std::size_t index, const UnrollSchedule &schedule,
                          const std::vector<LongSum> &long_sums) {
    const ir::Definition &d = p.definitions.at(index);
    const auto *reduce = d.value.as<ir::Reduce>();
    EINFUSE_ASSERT(reduce != nullptr, "a definition's value is a Reduce");

    ir::Kernel k;
    k.name = kernel_name(p, d);
    std::string indices;
    for (const auto &v : d.indices) indices += (indices.empty() ? "" : ",") + v;
    k.comment = d.tensor + "[" + indices + "] = " + ir::to_string(d.value);
    if (!p.source.empty()) k.comment += "    (from \"" + p.source + "\")";

    std::vector<std::string> inputs;
    collect_tensors(reduce->body, inputs);
    // The program's order: the ABI follows the operands. An output an earlier statement wrote
    // may be read here too.
    for (const auto *list : {&p.inputs, &p.temporaries, &p.outputs})
        for (const auto &t : *list)
            if (t.name != d.tensor && std::find(inputs.begin(), inputs.end(), t.name) != inputs.end())
                k.params.push_back(t);
    k.num_inputs = static_cast<int>(k.params.size());
    k.params.push_back(*p.find_tensor(d.tensor));
    k.index_vars = p.index_vars;

    // Before: out[b,i,k] = sum[j](in0[b,i,j] * in1[b,j,k])
    // After:  parallel for b,i,k { f32 acc = 0; for j { acc = acc + in0[b,i,j] * in1[b,j,k] }
    //                              out[b,i,k] = acc }
    // The store converts to the tensor's type: an f16 einsum accumulates in f32, rounds once.
    DType stored = p.find_tensor(d.tensor)->dtype;
    std::vector<ir::Stmt> stmts;
    ir::Expr value = ReductionLowering(schedule, long_sums).lower(d.value, stmts);
    stmts.push_back(ir::Store::make(d.tensor, d.indices, ir::Cast::make(stored, value)));
    ir::Stmt inner = stmts.size() == 1 ? stmts.front() : ir::Block::make(stmts);
    // Parallel loops stay outermost; the unrolled output loops go inside them, in their order.
    std::vector<std::string> parallel, unrolled;
    for (const auto &v : d.indices)
        (std::find(schedule.vars.begin(), schedule.vars.end(), v) != schedule.vars.end() ? unrolled : parallel).push_back(v);
    k.body = nest(parallel, ir::LoopKind::Parallel, nest(unrolled, ir::LoopKind::Serial, inner, schedule), schedule);
    return k;
}

} // namespace einfuse::passes
