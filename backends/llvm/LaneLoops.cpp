// Lane loops: a parallel loop vectorised by hand, one iteration per vector lane, or a sum's loop
// vectorised along itself (passes/ReductionLanes). The rest of KernelPrinter is in CodeGen.cpp.
#include "backends/llvm/KernelPrinter.h"

#include "ir/Walk.h"
#include "support/Error.h"

#include <llvm/IR/Constants.h>
#include <llvm/IR/DerivedTypes.h>
#include <llvm/IR/Function.h>
#include <llvm/IR/IRBuilder.h>

#include <algorithm>
#include <map>

namespace einfuse::llvm_backend {

using llvm::Value;

/** A parallel loop whose body reduces (a serial loop inside, no parallel one), in a kernel of
 * f32/f64 tensors with no unrolled loops: the broadcast-reduce strategy. LLVM's loop
 * vectoriser only vectorises innermost loops, and the innermost loop here is the reduction,
 * which it could vectorise only by reordering the sum. Lanes over the parallel loop keep
 * every lane's sum in the serial order, so each result has the same bits as the scalar
 * code's, whatever the vector width or the split across threads. Not where the plan runs
 * the lanes along the sum instead (reduction_lanes). */
bool KernelPrinter::is_lane_loop(const ir::For &f) const {
    if (f.loop_kind != ir::LoopKind::Parallel || target_.vector_bits < 128 || reduction_lanes()) return false;
    for (const auto &t : k_.params)
        if (t.dtype != DType::F32 && t.dtype != DType::F64) return false;
    bool reduces = false, nested_parallel = false;
    ir::for_each_loop(f.body, [&](const ir::For &inner) {
        reduces |= inner.loop_kind == ir::LoopKind::Serial;
        nested_parallel |= inner.loop_kind == ir::LoopKind::Parallel;
    });
    return reduces && !nested_parallel && !unrolled_outside_reductions(k_.body, false);
}

/** An unrolled loop in a kernel other than broadcast-reduce (the unrolled strategy's loops):
 * that kernel is LLVM's to vectorise. A broadcast-reduce kernel's short loops (a nested
 * "sum[d]", a small output index: passes/strategy/BroadcastReduce) stay in the lane loop. */
bool KernelPrinter::unrolled_outside_reductions(const ir::Stmt &s, bool in_serial) const {
    if (k_.strategy == ir::Strategy::BroadcastReduce) return false;
    if (const auto *f = s.as<ir::For>()) {
        if (f->loop_kind == ir::LoopKind::Unrolled && !in_serial) return true;
        return unrolled_outside_reductions(f->body, in_serial || f->loop_kind == ir::LoopKind::Serial);
    }
    if (const auto *b = s.as<ir::Block>())
        for (const auto &inner : b->stmts)
            if (unrolled_outside_reductions(inner, in_serial)) return true;
    return false;
}

/** for (v = lo; v + L <= hi; v += L) body with var = <v, v+1, ..., v+L-1>; returns where the
 * scalar tail starts. "out[i] = sum[j](exp(-sum[d](..)) * w[j])" at L=16: 16 values of i
 * per iteration, y[j,d] and w[j] loaded once and broadcast, 16 accumulators in one
 * register; x[i,d] is gathered at every (j, d) step (d's trip count is known only at run
 * time, so nothing hoists the gather out of the j loop). L: the kernel's planned width
 * (ir::HostVectors) times `registers`. Two registers' worth of lanes first: each lane's sum
 * is a chain of dependent adds (four per term in a Kahan-compensated sum, 16 cycles), and
 * two independent chains keep the adder busy twice as often. The Gaussian sum at N=M=4000
 * (f32, one thread) took 21.4-23.8 ms against 24.7-26.8 ms with one register (three
 * alternating runs on a loaded machine); a lane loop shorter than 2L runs one register's. */
Value *KernelPrinter::print_lane_loop(const ir::For &f, Value *lo, Value *hi, unsigned registers) {
    lanes_ = registers * lanes_per_register();
    llvm::BasicBlock *pre = b_.GetInsertBlock();
    Value *vector_end = whole_lanes_end(lo, hi, nullptr);
    auto *loop = llvm::BasicBlock::Create(ctx_, f.var + ".lanes", fn_);
    auto *exit = llvm::BasicBlock::Create(ctx_, f.var + ".lanes.exit", fn_);
    b_.CreateCondBr(b_.CreateICmpSLT(lo, vector_end), loop, exit);

    b_.SetInsertPoint(loop);
    llvm::PHINode *iv = begin_lanes(f, lo, pre);
    scopes_.emplace_back();
    print_stmt(f.body);
    scopes_.pop_back();
    end_lanes(f, iv, vector_end, loop, exit);
    b_.SetInsertPoint(exit);
    lanes_ = 0;
    lane_var_.clear();
    return vector_end;
}

/** Where whole vectors of lanes_ iterations of [lo, hi) end (lo when `use` is false). */
Value *KernelPrinter::whole_lanes_end(Value *lo, Value *hi, Value *use) {
    Value *count = b_.CreateBinaryIntrinsic(llvm::Intrinsic::smax, b_.CreateSub(hi, lo), b_.getInt64(0));
    if (use) count = b_.CreateSelect(use, count, b_.getInt64(0));
    return b_.CreateAdd(lo, b_.CreateAnd(count, b_.getInt64(-static_cast<int64_t>(lanes_))));
}

/** The head of a loop of lanes over f.var from lo (entered from `pre`): its first lane's
 * value, a phi, and f.var as the vector <first, first + 1, ..., first + lanes_ - 1>. */
llvm::PHINode *KernelPrinter::begin_lanes(const ir::For &f, Value *lo, llvm::BasicBlock *pre) {
    llvm::PHINode *iv = b_.CreatePHI(i64(), 2, f.var + ".first");
    iv->addIncoming(lo, pre);
    std::vector<llvm::Constant *> steps;
    for (unsigned l = 0; l < lanes_; ++l) steps.push_back(b_.getInt64(l));
    vars_[f.var] = b_.CreateAdd(widen(iv), llvm::ConstantVector::get(steps), f.var);
    lane_var_ = f.var;
    lane_first_ = iv;
    return iv;
}

/** Its latch: the next lanes_ iterations while below vector_end, then `after`. */
void KernelPrinter::end_lanes(const ir::For &f, llvm::PHINode *iv, Value *vector_end, llvm::BasicBlock *loop,
                              llvm::BasicBlock *after) {
    vars_.erase(f.var);
    Value *next = b_.CreateAdd(iv, b_.getInt64(lanes_), "", true, true);
    iv->addIncoming(next, b_.GetInsertBlock());
    b_.CreateCondBr(b_.CreateICmpSLT(next, vector_end), loop, after);
}

const ir::HostVectors::ReductionLanes *KernelPrinter::reduction_lanes() const {
    return k_.host_vectors && k_.host_vectors->reduction_lanes ? &*k_.host_vectors->reduction_lanes : nullptr;
}

/** Lanes of one vector: the kernel's planned width for its widest tensor. */
unsigned KernelPrinter::lanes_per_register() const {
    int widest = 4;
    for (const auto &t : k_.params) widest = std::max(widest, static_cast<int>(dtype_size(t.dtype)));
    return static_cast<unsigned>(target_.vector_bits / (8 * widest));
}

/** f() with row r's scalars and variable in scope. */
template <class F> void KernelPrinter::in_row(const ir::HostVectors::ReductionLanes &sum, Row &r, F f) {
    scopes_.push_back(r.scope);
    if (r.value) vars_[sum.rows_var] = r.value;
    f();
    if (r.value) vars_.erase(sum.rows_var);
    scopes_.pop_back();
}

/** The loop over a sum's variable vectorised along itself (passes/ReductionLanes decided it):
 *   acc.lanes = 0, c.lanes = 0                         (one register of W lanes per row)
 *   if every read the loop moves has stride 1 along it:
 *     for (v = lo; v + L <= hi; v += L), L = registers x W, for each row:
 *       terms = the summand at v..v+L-1 (whole-vector loads), its L/W vectors added pairwise
 *       Kahan's step of terms into acc.lanes, c.lanes (or acc.lanes += terms)
 *     fold acc.lanes (and c.lanes) pairwise into the row's running sum
 * and returns where the rest starts (lo when a read is strided: the rest is every term).
 * Reads the sum's variable does not move stay scalars, splat where used. The order of
 * additions depends on L and the sum's length alone, so a result never depends on the split
 * across threads. */
Value *KernelPrinter::print_sum_lanes(const ir::For &f, const ir::HostVectors::ReductionLanes &sum, Value *lo,
                                      Value *hi, unsigned registers, std::vector<Row> &rows) {
    lanes_ = registers * lanes_per_register();
    llvm::BasicBlock *pre = b_.GetInsertBlock();
    // Only where every read the lanes move is contiguous along them (the common case: one
    // test, outside the loop); otherwise the terms run one at a time below.
    Value *vector_end = whole_lanes_end(lo, hi, lanes_contiguous(f));
    // Each row's partial sums: one register of lanes (and of their compensations).
    const unsigned width = lanes_per_register();
    std::vector<std::string> carried{sum.accumulator};
    if (!sum.compensation.empty()) carried.push_back(sum.compensation);
    std::vector<std::map<std::string, Scalar>> partial(rows.size());
    llvm::BasicBlock &entry = fn_->getEntryBlock();
    llvm::IRBuilder<> top(&entry, entry.begin());
    for (std::size_t r = 0; r < rows.size(); ++r)
        in_row(sum, rows[r], [&] {
            for (const auto &name : carried) {
                Scalar s = scalar(name);
                s.llvm_type = llvm::FixedVectorType::get(element_type(s.type), width);
                s.slot = top.CreateAlloca(s.llvm_type, nullptr, name + ".lanes");
                b_.CreateStore(llvm::Constant::getNullValue(s.llvm_type), s.slot);
                partial[r][name] = s;
            }
        });
    auto *loop = llvm::BasicBlock::Create(ctx_, f.var + ".sum.lanes", fn_);
    auto *fold = llvm::BasicBlock::Create(ctx_, f.var + ".sum.fold", fn_);
    auto *exit = llvm::BasicBlock::Create(ctx_, f.var + ".sum.lanes.exit", fn_);
    b_.CreateCondBr(b_.CreateICmpSLT(lo, vector_end), loop, exit);

    b_.SetInsertPoint(loop);
    llvm::PHINode *iv = begin_lanes(f, lo, pre);
    serial_open_.push_back(f.var); // reads it moves are whole-vector loads
    dense_lanes_ = true;
    const ir::Expr term = sum_term(f, sum);
    for (std::size_t r = 0; r < rows.size(); ++r)
        in_row(sum, rows[r], [&] {
            // The iteration's terms, `registers` vectors of them added pairwise into one (a
            // rounding relative to a few terms, not to the running sum), then one step of
            // the running sum (Kahan's, or a plain addition) per lane.
            Value *t = print_expr(term);
            while (llvm::cast<llvm::FixedVectorType>(t->getType())->getNumElements() > width) {
                unsigned h = llvm::cast<llvm::FixedVectorType>(t->getType())->getNumElements() / 2;
                t = b_.CreateFAdd(lanes_of(t, 0, h), lanes_of(t, h, h));
            }
            const Scalar &acc = partial[r].at(sum.accumulator);
            if (sum.compensation.empty()) {
                b_.CreateStore(b_.CreateFAdd(b_.CreateLoad(acc.llvm_type, acc.slot), t), acc.slot);
            } else {
                const Scalar &c = partial[r].at(sum.compensation);
                kahan_step(acc.slot, c.slot, acc.llvm_type, t, b_.CreateLoad(c.llvm_type, c.slot));
            }
        });
    dense_lanes_ = false;
    serial_open_.pop_back();
    end_lanes(f, iv, vector_end, loop, fold);

    b_.SetInsertPoint(fold);
    std::vector<Value *> sums, owed;
    for (auto &p : partial) {
        const Scalar &a = p.at(sum.accumulator);
        sums.push_back(b_.CreateLoad(a.llvm_type, a.slot));
        const Scalar *c = sum.compensation.empty() ? nullptr : &p.at(sum.compensation);
        owed.push_back(c ? b_.CreateLoad(c->llvm_type, c->slot) : nullptr);
    }
    fold_rows(sums, owed);
    for (std::size_t r = 0; r < rows.size(); ++r)
        in_row(sum, rows[r], [&] { add_to_running_sum(sum, sums[r], owed[r]); });
    b_.CreateBr(exit);
    b_.SetInsertPoint(exit);
    lanes_ = 0;
    lane_var_.clear();
    return vector_end;
}

/** A row's folded lanes s (and their compensation c) added to the running sum in scope:
 * plainly, or as one Kahan step whose term is s, c joining the running compensation:
 * y = s - (c_run + c); t = acc + y; c_run = (t - acc) - y; acc = t. */
void KernelPrinter::add_to_running_sum(const ir::HostVectors::ReductionLanes &sum, Value *s, Value *c) {
    const Scalar &acc = scalar(sum.accumulator);
    if (!c) return void(b_.CreateStore(b_.CreateFAdd(b_.CreateLoad(acc.llvm_type, acc.slot), s), acc.slot));
    const Scalar &comp = scalar(sum.compensation);
    kahan_step(acc.slot, comp.slot, acc.llvm_type, s, b_.CreateFAdd(b_.CreateLoad(comp.llvm_type, comp.slot), c));
}

/** Kahan's step, as passes/LowerToLoops writes it, of `term` into the sum at acc_slot whose
 * compensation (what it over-counts) is `owed`, stored back to c_slot:
 * y = term - owed; t = acc + y; c = (t - acc) - y (0 once t is inf or NaN); acc = t. */
void KernelPrinter::kahan_step(Value *acc_slot, Value *c_slot, llvm::Type *type, Value *term, Value *owed) {
    Value *running = b_.CreateLoad(type, acc_slot);
    Value *y = b_.CreateFSub(term, owed);
    Value *t = b_.CreateFAdd(running, y);
    b_.CreateStore(finite_or_zero(t, b_.CreateFSub(b_.CreateFSub(t, running), y)), c_slot);
    b_.CreateStore(t, acc_slot);
}

/** The term a sum's loop adds, as passes/ReductionLanes matched it: `acc = acc + term`, or
 * Kahan's `y = term - c; ...`. */
ir::Expr KernelPrinter::sum_term(const ir::For &f, const ir::HostVectors::ReductionLanes &sum) const {
    const ir::Binary *op = nullptr;
    if (sum.compensation.empty()) {
        const auto *a = f.body.as<ir::AssignScalar>();
        op = a ? a->value.as<ir::Binary>() : nullptr;
        EINFUSE_ASSERT(op && op->op == ir::BinaryOp::Add, "the sum along " + f.var + " is not acc + term in " + k_.name);
        return op->b;
    }
    const auto *b = f.body.as<ir::Block>();
    const auto *y = b && !b->stmts.empty() ? b->stmts.front().as<ir::DeclareScalar>() : nullptr;
    op = y ? y->init.as<ir::Binary>() : nullptr;
    EINFUSE_ASSERT(op && op->op == ir::BinaryOp::Sub, "the sum along " + f.var + " is not Kahan's in " + k_.name);
    return op->a;
}

/** Lanes [from, from + n) of v: a vector, or a scalar when n is 1. */
Value *KernelPrinter::lanes_of(Value *v, unsigned from, unsigned n) {
    if (n == 1) return b_.CreateExtractElement(v, uint64_t{from});
    std::vector<int> mask;
    for (unsigned i = 0; i < n; ++i) mask.push_back(static_cast<int>(from + i));
    return b_.CreateShuffleVector(v, mask);
}

/** The parallel loop around the sum, `rows` outputs at a time (passes/ReductionLanes): its
 * body is the sum's declarations, its loop and the statements after it, printed
 *   for (p = lo; p + R <= hi; p += R) {
 *     before(p), ..., before(p+R-1)            (each row's own scalars)
 *     the loop along the sum, R registers of lanes, then one, each iteration every row's body
 *     each row's scalar tail of the sum; after(p), ..., after(p+R-1) }
 * and returns where the remaining outputs, one at a time, start. */
Value *KernelPrinter::print_sum_rows(const ir::For &pf, const ir::HostVectors::ReductionLanes &sum, Value *lo,
                                     Value *hi) {
    const auto *body = pf.body.as<ir::Block>();
    EINFUSE_ASSERT(body, "rows along a sum need the parallel loop's body as a block in " + k_.name);
    std::size_t at = 0;
    while (at < body->stmts.size() && !body->stmts[at].as<ir::For>()) ++at;
    EINFUSE_ASSERT(at < body->stmts.size() && body->stmts[at].as<ir::For>()->var == sum.var,
                   "rows along a sum need the sum's loop in the parallel loop's body in " + k_.name);
    const ir::For &f = *body->stmts[at].as<ir::For>();
    const auto rows_n = static_cast<int64_t>(sum.rows);
    llvm::BasicBlock *pre = b_.GetInsertBlock();
    Value *count = b_.CreateBinaryIntrinsic(llvm::Intrinsic::smax, b_.CreateSub(hi, lo), b_.getInt64(0));
    Value *group_end = b_.CreateAdd(lo, b_.CreateSub(count, b_.CreateSRem(count, b_.getInt64(rows_n))));
    auto *loop = llvm::BasicBlock::Create(ctx_, pf.var + ".rows", fn_);
    auto *exit = llvm::BasicBlock::Create(ctx_, pf.var + ".rows.exit", fn_);
    b_.CreateCondBr(b_.CreateICmpSLT(lo, group_end), loop, exit);

    b_.SetInsertPoint(loop);
    llvm::PHINode *iv = b_.CreatePHI(i64(), 2, pf.var + ".first");
    iv->addIncoming(lo, pre);
    std::vector<Row> rows(sum.rows);
    for (int64_t r = 0; r < rows_n; ++r) {
        rows[r].value = b_.CreateAdd(iv, b_.getInt64(r), "", true, true);
        in_row(sum, rows[r], [&] {
            scopes_.emplace_back();
            for (std::size_t s = 0; s < at; ++s) print_stmt(body->stmts[s]);
            rows[r].scope = scopes_.back();
            scopes_.pop_back();
        });
    }
    Value *k_lo = b_.getInt64(0), *k_hi = extent(f.var);
    k_lo = print_sum_lanes(f, sum, k_lo, k_hi, static_cast<unsigned>(sum.registers), rows);
    k_lo = print_sum_lanes(f, sum, k_lo, k_hi, 1, rows);
    for (auto &row : rows)
        in_row(sum, row, [&] {
            print_loop(f, k_lo, k_hi, false);
            for (std::size_t s = at + 1; s < body->stmts.size(); ++s) print_stmt(body->stmts[s]);
        });
    Value *next = b_.CreateAdd(iv, b_.getInt64(rows_n), "", true, true);
    iv->addIncoming(next, b_.GetInsertBlock());
    b_.CreateCondBr(b_.CreateICmpSLT(next, group_end), loop, exit);
    b_.SetInsertPoint(exit);
    return group_end;
}

/** The dimension of tensor p that the lane variable indexes alone with coefficient 1, or -1
 * (not at all, several times, scaled, or together with another dimension). */
int KernelPrinter::lane_dim(const std::vector<ir::Index> &indices) const {
    int dim = -1, uses = 0;
    for (const auto &term : ir::element_offset(indices))
        if (term.var == lane_var_) ++uses, dim = term.coeff == 1 ? term.dim : -1;
    return uses == 1 ? dim : -1;
}

/** Whether a read of tensor t is one of those the plan reads whole along the sum. */
bool KernelPrinter::read_whole(const std::string &t) const {
    const auto *sum = reduction_lanes();
    return sum && std::find(sum->contiguous.begin(), sum->contiguous.end(), t) != sum->contiguous.end();
}

/** S when the plan deinterleaves tensor t's reads along the sum at stride S, else 0. */
int KernelPrinter::deinterleave_stride(const std::string &t) const {
    const auto *sum = reduction_lanes();
    if (!sum) return 0;
    for (const auto &[name, stride] : sum->deinterleaved)
        if (name == t) return stride;
    return 0;
}

/** t[..., v, u] for the lanes' values of v, u fixed (the plan's deinterleaved read: u an
 * unrolled variable of extent S = stride, its dimension of stride 1 and v's of stride S, both
 * checked before the loop): the lanes' elements are every S-th of the S x W that start at the
 * first lane's, so one whole-vector load and a constant shuffle. The load stops at the last
 * lane's element (a masked load: the S - 1 - u elements after it may lie past the tensor's end);
 * only its last register is masked once LLVM splits it. */
Value *KernelPrinter::deinterleaved_read(int p, const std::vector<ir::Index> &indices, int stride) {
    const ir::TensorInfo &t = k_.params[p];
    const unsigned span = lanes_ * static_cast<unsigned>(stride);
    auto *wide = llvm::FixedVectorType::get(element_type(t.dtype), span);
    std::vector<llvm::Constant *> needed;
    for (unsigned e = 0; e < span; ++e) needed.push_back(b_.getInt1(e <= (lanes_ - 1) * static_cast<unsigned>(stride)));
    Value *rows = b_.CreateMaskedLoad(wide, first_lane_address(p, indices), align(t.dtype),
                                      llvm::ConstantVector::get(needed), nullptr, t.name);
    std::vector<int> every;
    for (unsigned l = 0; l < lanes_; ++l) every.push_back(stride * static_cast<int>(l));
    return b_.CreateShuffleVector(rows, every);
}

/** Whether every read in the loop's body of a tensor the plan reads whole along it has
 * stride 1 along it (reads the lanes move otherwise, "x[2*k]", are gathered), and every
 * deinterleaved read (S) has strides S and 1 in its last two dimensions. */
Value *KernelPrinter::lanes_contiguous(const ir::For &f) {
    std::string outer = lane_var_;
    lane_var_ = f.var;
    Value *all = b_.getTrue();
    auto is = [&](Value *stride, int64_t want) { return b_.CreateICmpEQ(stride, b_.getInt64(want)); };
    ir::for_each_tensor_use(f.body, [&](const std::string &t, const std::vector<ir::Index> &indices) {
        int dim = lane_dim(indices);
        if (read_whole(t) && dim >= 0) all = b_.CreateAnd(all, is(strides_[param(t)][dim], 1));
        if (int stride = deinterleave_stride(t)) {
            const auto &s = strides_[param(t)];
            all = b_.CreateAnd(all, b_.CreateAnd(is(s.back(), 1), is(s[s.size() - 2], stride)));
        }
    });
    lane_var_ = outer;
    return all;
}

/** err where |t| < inf, else 0 (an infinite or NaN sum carries no rounding error). */
Value *KernelPrinter::finite_or_zero(Value *t, Value *err) {
    Value *abs = b_.CreateUnaryIntrinsic(llvm::Intrinsic::fabs, t);
    Value *finite = b_.CreateFCmpOLT(abs, llvm::ConstantFP::getInfinity(t->getType()));
    return b_.CreateSelect(finite, err, llvm::Constant::getNullValue(t->getType()));
}

/** Folds each row's vector of W partial sums (and Kahan compensations, or none) to one
 * scalar by halves, the same pairwise tree for every row: lanes [0, W/2) + [W/2, W), then
 * [0, W/4) + [W/4, W/2), ..., each addition's rounding error (TwoSum: exact, as no FMA or
 * reassociation applies) joining the compensations. While they halve, rows are merged two by
 * two into one register (row a's halves, then row b's): eight rows of 8 lanes take 7 TwoSums
 * on whole registers instead of 24 on ever smaller ones, and each row's result has the bits
 * it has when folded alone (so whichever rows a thread's range groups, the same results). */
void KernelPrinter::fold_rows(std::vector<Value *> &s, std::vector<Value *> &c) {
    const unsigned width = llvm::cast<llvm::FixedVectorType>(s.front()->getType())->getNumElements();
    const auto rows = static_cast<unsigned>(s.size());
    EINFUSE_ASSERT((width & (width - 1)) == 0, "sum lanes not a power of two in " + k_.name);
    const bool compensated = c.front() != nullptr;
    // a + b (lanes of two halves), what they owe: ca + cb - err, err the sum's rounding error.
    auto two_sum = [&](Value *a, Value *b, Value *ca, Value *cb, Value *&owed) {
        Value *sum = b_.CreateFAdd(a, b);
        if (!compensated) return sum;
        Value *bb = b_.CreateFSub(sum, a);
        Value *err = b_.CreateFAdd(b_.CreateFSub(a, b_.CreateFSub(sum, bb)), b_.CreateFSub(b, bb));
        owed = b_.CreateFSub(b_.CreateFAdd(ca, cb), finite_or_zero(sum, err));
        return sum;
    };
    // Lanes `from` to `from + m/2` of every segment of m lanes (segments lanes long, first
    // `segments` of x, then of y), as one vector (a scalar when one lane).
    auto halves = [&](Value *x, Value *y, unsigned segments, unsigned m, unsigned from) -> Value * {
        std::vector<int> mask;
        for (unsigned v = 0; v < (y ? 2u : 1u); ++v)
            for (unsigned g = 0; g < segments; ++g)
                for (unsigned i = 0; i < m / 2; ++i) mask.push_back(static_cast<int>(v * width + g * m + from + i));
        if (mask.size() == 1) return b_.CreateExtractElement(x, uint64_t(mask[0]));
        return y ? b_.CreateShuffleVector(x, y, mask) : b_.CreateShuffleVector(x, mask);
    };
    unsigned segments = 1, m = width;
    if (rows > 1 && (rows & (rows - 1)) == 0 && rows <= width) {
        for (; s.size() > 1; segments *= 2, m /= 2) {
            std::vector<Value *> s2, c2;
            for (std::size_t r = 0; r + 1 < s.size(); r += 2) {
                Value *owed = nullptr;
                auto lo = [&](Value *x, Value *y) { return halves(x, y, segments, m, 0); };
                auto hi = [&](Value *x, Value *y) { return halves(x, y, segments, m, m / 2); };
                s2.push_back(two_sum(lo(s[r], s[r + 1]), hi(s[r], s[r + 1]), compensated ? lo(c[r], c[r + 1]) : nullptr,
                                     compensated ? hi(c[r], c[r + 1]) : nullptr, owed));
                c2.push_back(owed);
            }
            s = s2, c = c2;
        }
    }
    for (std::size_t v = 0; v < s.size(); ++v)
        for (unsigned n = m; n > 1; n /= 2) {
            Value *owed = nullptr;
            Value *ca = compensated ? halves(c[v], nullptr, segments, n, 0) : nullptr;
            Value *cb = compensated ? halves(c[v], nullptr, segments, n, n / 2) : nullptr;
            s[v] = two_sum(halves(s[v], nullptr, segments, n, 0), halves(s[v], nullptr, segments, n, n / 2), ca, cb, owed);
            c[v] = owed;
        }
    if (s.size() == rows) return; // folded one by one: scalars already
    Value *all = s.front(), *all_c = c.front();
    s.clear(), c.clear();
    for (unsigned r = 0; r < rows; ++r) {
        s.push_back(b_.CreateExtractElement(all, uint64_t{r}));
        c.push_back(compensated ? b_.CreateExtractElement(all_c, uint64_t{r}) : nullptr);
    }
}

} // namespace einfuse::llvm_backend
