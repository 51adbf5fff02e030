#include "backends/llvm/CodeGen.h"

#include "backends/llvm/GemmCodeGen.h"
#include "backends/llvm/ScalarOps.h"
#include "backends/llvm/TypeLowering.h"
#include "backends/llvm/VectorMath.h"
#include "ir/Walk.h"
#include "support/Error.h"

#include <llvm/IR/Constants.h>
#include <llvm/IR/DerivedTypes.h>
#include <llvm/IR/Function.h>
#include <llvm/IR/IRBuilder.h>
#include <llvm/IR/Module.h>

#include <algorithm>
#include <map>

namespace einfuse::llvm_backend {

namespace {

using llvm::Value;

/** Prints one kernel. The exported function only unpacks `data` and calls `<name>.body`, whose
 * parameters are the tensors themselves, marked noalias:
 *
 *   void @k(ptr %data, ptr %strides, ptr %extents, i64 %begin, i64 %end) {
 *     %in0 = load ptr, ptr %data ...
 *     call void @k.body(ptr %in0, ptr %in1, ptr %out, ptr %strides, ptr %extents, i64 %begin, ...)
 *   }
 *
 * Why the split: pointers loaded from an array cannot carry `noalias`, but arguments can, and when
 * O3 inlines the body it turns them into alias scopes. Without them every store to `out` may
 * clobber the inputs, and the vectoriser gives up or adds run-time overlap checks. */
class KernelPrinter {
  public:
    KernelPrinter(const ir::Kernel &k, const HostTarget &target, llvm::Module &m)
        : k_(k), target_(target), m_(m), ctx_(m.getContext()), b_(ctx_) {
        // `contract` lets acc + a * b become one FMA: one rounding instead of two, never less
        // accurate. Reassociation stays off: reduction order is the passes' decision, not ours.
        llvm::FastMathFlags fmf;
        fmf.setAllowContract();
        b_.setFastMathFlags(fmf);
    }

    void emit() {
        EINFUSE_ASSERT(k_.body.defined(), "kernel '" + k_.name + "' has no body");
        EINFUSE_ASSERT(!m_.getFunction(k_.name), "two kernels are named '" + k_.name + "'");
        llvm::Function *general = print_body(false);
        llvm::Function *contiguous = has_fixed_extents() ? print_body(true) : nullptr;
        print_entry(general, contiguous);
    }

  private:
    llvm::Type *i64() { return b_.getInt64Ty(); }
    llvm::Type *ptr() { return b_.getPtrTy(); }

    llvm::Type *element_type(DType t) { return lowered_type(ctx_, t); }

    void add_attributes(llvm::Function *f) {
        f->addFnAttr(llvm::Attribute::NoUnwind);
        add_target_attributes(f, target_);
    }

    /** A pointer argument that the function only reads and never keeps. */
    static void read_only_pointer(llvm::Function *f, unsigned arg) {
        f->addParamAttr(arg, llvm::Attribute::NoAlias);
        f->addParamAttr(arg, llvm::Attribute::NoCapture);
        f->addParamAttr(arg, llvm::Attribute::ReadOnly);
    }

    /** void <name>.body(ptr noalias %<param>..., ptr %strides, ptr %extents, i64 %begin, i64 %end).
     * Inputs are read-only and may share memory with each other (noalias allows that for memory
     * nobody writes); outputs are distinct buffers, so noalias holds for them too. */
    llvm::Function *print_body(bool contiguous) {
        std::size_t n = k_.params.size();
        std::vector<llvm::Type *> args(n + 2, ptr());
        args.push_back(i64());
        args.push_back(i64());
        auto *type = llvm::FunctionType::get(b_.getVoidTy(), args, false);
        auto *f = llvm::Function::Create(type, llvm::Function::InternalLinkage, k_.name + (contiguous ? ".body.contiguous" : ".body"), m_);
        add_attributes(f);
        f->addFnAttr(llvm::Attribute::AlwaysInline);
        for (std::size_t p = 0; p < n; ++p) {
            f->getArg(p)->setName(k_.params[p].name);
            if (static_cast<int>(p) < k_.num_inputs) {
                read_only_pointer(f, p);
            } else {
                f->addParamAttr(p, llvm::Attribute::NoAlias);
                f->addParamAttr(p, llvm::Attribute::NoCapture);
            }
        }
        read_only_pointer(f, n);
        read_only_pointer(f, n + 1);
        f->getArg(n)->setName("strides");
        f->getArg(n + 1)->setName("extents");
        f->getArg(n + 2)->setName("begin");
        f->getArg(n + 3)->setName("end");
        fn_ = f;

        b_.SetInsertPoint(llvm::BasicBlock::Create(ctx_, "entry", f));
        strides_.clear();
        extents_.clear();
        load_arguments(f, contiguous);
        if (const auto *outer = k_.body.as<ir::For>(); outer && outer->loop_kind == ir::LoopKind::Parallel) {
            // The caller splits the outermost parallel loop across threads. Clamping to
            // [0, extent) costs two instructions and means a bad range cannot reach past the data.
            Value *lo = b_.CreateBinaryIntrinsic(llvm::Intrinsic::smax, f->getArg(n + 2), b_.getInt64(0));
            Value *hi = b_.CreateBinaryIntrinsic(llvm::Intrinsic::smin, f->getArg(n + 3), extent(outer->var));
            print_loop(*outer, lo, hi);
        } else {
            print_stmt(k_.body);
        }
        b_.CreateRetVoid();
        return f;
    }

    /** The exported entry point: unpack `data` and call a body. With a contiguous variant, the
     * entry compares the strides it was given with the row-major strides of the extents and
     * calls the variant when all agree, the general body otherwise (broadcast, transposed,
     * padded operands):
     *   if (strides == row_major(extents)) k.body.contiguous(...) else k.body(...) */
    void print_entry(llvm::Function *general, llvm::Function *contiguous) {
        auto *type = llvm::FunctionType::get(b_.getVoidTy(), {ptr(), ptr(), ptr(), i64(), i64()}, false);
        auto *f = llvm::Function::Create(type, llvm::Function::ExternalLinkage, k_.name, m_);
        add_attributes(f);
        const char *names[] = {"data", "strides", "extents", "begin", "end"};
        for (unsigned a = 0; a < 5; ++a)
            f->getArg(a)->setName(names[a]);
        for (unsigned a = 0; a < 3; ++a)
            read_only_pointer(f, a);

        b_.SetInsertPoint(llvm::BasicBlock::Create(ctx_, "entry", f));
        std::vector<Value *> args;
        for (std::size_t p = 0; p < k_.params.size(); ++p) {
            Value *slot = b_.CreateConstInBoundsGEP1_64(ptr(), f->getArg(0), p);
            args.push_back(b_.CreateLoad(ptr(), slot, k_.params[p].name));
        }
        for (unsigned a = 1; a < 5; ++a)
            args.push_back(f->getArg(a));
        if (!contiguous) {
            b_.CreateCall(general, args);
            b_.CreateRetVoid();
            return;
        }
        strides_.clear();
        extents_.clear();
        load_arguments_from(f->getArg(1), f->getArg(2), false);
        std::vector<std::vector<Value *>> given = strides_;
        Value *same = b_.getTrue();
        auto wanted = row_major_strides();
        for (std::size_t p = 0; p < given.size(); ++p)
            for (std::size_t d = 0; d < given[p].size(); ++d)
                same = b_.CreateAnd(same, b_.CreateICmpEQ(given[p][d], wanted[p][d]));
        auto *fast = llvm::BasicBlock::Create(ctx_, "contiguous", f);
        auto *slow = llvm::BasicBlock::Create(ctx_, "strided", f);
        b_.CreateCondBr(same, fast, slow);
        b_.SetInsertPoint(fast);
        b_.CreateCall(contiguous, args);
        b_.CreateRetVoid();
        b_.SetInsertPoint(slow);
        b_.CreateCall(general, args);
        b_.CreateRetVoid();
    }

    /** True when some loop has a trip count fixed at compile time (the unrolled strategy): then
     * the row-major strides are constants, and a variant that uses them lets LLVM see
     * `in0[b,i,j]` as in0 + 4*b + 2*i + j at D=2, an interleaved access group the loop
     * vectoriser turns into wide loads and shuffles across batch elements. With strides loaded
     * at run time it can only version on stride 1, and the batch loop stays scalar. */
    bool has_fixed_extents() const {
        if (!ir::non_var_index(k_.body).empty()) return false; // x[i + r]: its shape is not its variables' extents
        // A lane loop gathers across its lanes whatever the strides: a second body would only
        // double the compile time.
        bool lanes = false;
        ir::for_each_loop(k_.body, [&](const ir::For &f) { lanes |= is_lane_loop(f); });
        if (lanes) return false;
        bool fixed = false;
        ir::for_each_loop(k_.body, [&](const ir::For &f) { fixed |= f.loop_kind == ir::LoopKind::Unrolled; });
        return fixed;
    }

    /** Each param's strides if it were stored densely in row-major order: the product of the
     * extents of the later dimensions, constants where a loop's trip count is fixed. Needs
     * extents_ loaded. */
    std::vector<std::vector<Value *>> row_major_strides() {
        std::map<std::string, int64_t> fixed;
        ir::for_each_loop(k_.body, [&](const ir::For &f) {
            if (f.loop_kind == ir::LoopKind::Unrolled) fixed[f.var] = f.fixed_extent;
        });
        std::map<std::string, std::vector<std::string>> uses;
        ir::for_each_tensor_var_use(k_.body, [&](const std::string &t, const std::vector<std::string> &idx) { uses.emplace(t, idx); });
        std::vector<std::vector<Value *>> out;
        for (const auto &t : k_.params) {
            const auto &vars = uses.at(t.name);
            std::vector<Value *> s(t.rank);
            Value *running = b_.getInt64(1);
            for (int d = t.rank - 1; d >= 0; --d) {
                s[d] = running;
                auto it = fixed.find(vars[d]);
                Value *e = it != fixed.end() ? b_.getInt64(it->second) : extent(vars[d]);
                running = b_.CreateMul(running, e, "", false, true);
            }
            out.push_back(std::move(s));
        }
        return out;
    }

    /** Strides and extents are loaded once, in the entry block: loop-invariant by construction, so
     * the vectoriser sees `in1[b,j,k]` as base + k * stride and can version the loop on stride 1.
     * The contiguous variant computes the strides from the extents instead (its entry checked
     * that they agree). */
    void load_arguments(llvm::Function *f, bool contiguous) {
        std::size_t n = k_.params.size();
        load_arguments_from(f->getArg(n), f->getArg(n + 1), contiguous);
    }

    void load_arguments_from(Value *strides, Value *extents, bool contiguous) {
        for (std::size_t v = 0; v < k_.index_vars.size(); ++v) {
            Value *slot = b_.CreateConstInBoundsGEP1_64(i64(), extents, v);
            extents_.push_back(b_.CreateLoad(i64(), slot, k_.index_vars[v] + ".extent"));
        }
        if (contiguous) {
            strides_ = row_major_strides();
            return;
        }
        std::size_t offset = 0;
        for (const auto &t : k_.params) {
            std::vector<Value *> s;
            for (int d = 0; d < t.rank; ++d, ++offset) {
                Value *slot = b_.CreateConstInBoundsGEP1_64(i64(), strides, offset);
                s.push_back(b_.CreateLoad(i64(), slot, t.name + ".stride" + std::to_string(d)));
            }
            strides_.push_back(std::move(s));
        }
    }

    Value *extent(const std::string &var) {
        int v = k_.var_index(var);
        EINFUSE_ASSERT(v >= 0, "loop variable '" + var + "' is not an index variable of " + k_.name);
        return extents_[v];
    }

    void print_stmt(const ir::Stmt &s) {
        visit(s, [&](const auto &node) { print(node); });
    }

    /** An unrolled loop's trip count is a constant, so O3 unrolls it fully. */
    void print(const ir::For &f) {
        Value *hi = f.loop_kind == ir::LoopKind::Unrolled ? b_.getInt64(f.fixed_extent) : extent(f.var);
        print_loop(f, b_.getInt64(0), hi);
    }

    void print(const ir::Block &blk) {
        scopes_.emplace_back(); // a scalar is visible to the statements after it in this block
        for (const auto &s : blk.stmts)
            print_stmt(s);
        scopes_.pop_back();
    }

    void print(const ir::Store &s) {
        int p = param(s.tensor);
        EINFUSE_ASSERT(p >= k_.num_inputs, "kernel " + k_.name + " stores to input '" + s.tensor + "'");
        Value *v = print_expr(s.value);
        EINFUSE_ASSERT(s.value.type() == k_.params[p].dtype, "store of another type to '" + s.tensor + "'");
        Value *where = address(p, s.indices);
        if (!where->getType()->isVectorTy()) return void(b_.CreateStore(v, where));
        // Each lane writes its own element (the lane variable is an output index).
        lane_access(p, s.indices, [&](Value *first) -> Value * {
            if (first) return b_.CreateAlignedStore(widen(v), first, align(k_.params[p].dtype));
            return b_.CreateMaskedScatter(widen(v), where, align(k_.params[p].dtype), all_lanes());
        });
    }

    void print(const ir::DeclareScalar &d) {
        // Allocas go to the top of the entry block, where SROA/mem2reg turn them into registers.
        llvm::BasicBlock &entry = fn_->getEntryBlock();
        llvm::IRBuilder<> top(&entry, entry.begin());
        // In a lane loop every scalar is a vector: one accumulator per lane.
        llvm::Type *type = lanes_ ? vector_of(d.type) : element_type(d.type);
        llvm::AllocaInst *slot = top.CreateAlloca(type, nullptr, d.name);
        if (scopes_.empty()) scopes_.emplace_back();
        scopes_.back()[d.name] = {slot, d.type, type};
        Value *init = print_expr(d.init);
        b_.CreateStore(lanes_ ? widen(init) : init, slot);
    }

    void print(const ir::AssignScalar &a) {
        const Scalar &s = scalar(a.name);
        EINFUSE_ASSERT(a.value.type() == s.type, "assignment of another type to '" + a.name + "'");
        Value *v = print_expr(a.value);
        b_.CreateStore(s.llvm_type->isVectorTy() ? widen(v) : v, s.slot);
    }

    /** for (var = lo; var < hi; ++var) body, printed already guarded and rotated:
     *   pre:  br (lo < hi), loop, exit
     *   loop: var = phi [lo, pre], [var.next, latch]; body; var.next = var + 1
     *         br (var.next < hi), loop, exit */
    void print_loop(const ir::For &f, Value *lo, Value *hi, bool vector_part = true) {
        EINFUSE_ASSERT(!vars_.count(f.var), "loop variable '" + f.var + "' is bound twice");
        if (!lanes_ && vector_part && is_lane_loop(f)) { // two registers of lanes, then one, then the scalar tail below
            lo = print_lane_loop(f, lo, hi, 2);
            lo = print_lane_loop(f, lo, hi, 1);
        }
        const auto *sum = reduction_lanes();
        if (!lanes_ && vector_part && sum && sum->rows > 1 && sum->rows_var == f.var) // groups of rows, then one at a time
            lo = print_sum_rows(f, *sum, lo, hi);
        if (!lanes_ && vector_part && sum && sum->var == f.var) { // likewise, along the sum
            std::vector<Row> one(1);
            lo = print_sum_lanes(f, *sum, lo, hi, static_cast<unsigned>(sum->registers), one);
            lo = print_sum_lanes(f, *sum, lo, hi, 1, one);
        }
        llvm::BasicBlock *pre = b_.GetInsertBlock();
        auto *loop = llvm::BasicBlock::Create(ctx_, f.var + ".loop", fn_);
        auto *exit = llvm::BasicBlock::Create(ctx_, f.var + ".exit", fn_);
        b_.CreateCondBr(b_.CreateICmpSLT(lo, hi), loop, exit);

        b_.SetInsertPoint(loop);
        llvm::PHINode *iv = b_.CreatePHI(i64(), 2, f.var);
        iv->addIncoming(lo, pre);
        vars_[f.var] = iv;
        scopes_.emplace_back();
        bool serial = lanes_ && f.loop_kind == ir::LoopKind::Serial;
        if (serial) serial_open_.push_back(f.var);
        print_stmt(f.body);
        if (serial) serial_open_.pop_back();
        scopes_.pop_back();
        vars_.erase(f.var);

        Value *next = b_.CreateAdd(iv, b_.getInt64(1), f.var + ".next", /*HasNUW=*/true, /*HasNSW=*/true);
        iv->addIncoming(next, b_.GetInsertBlock());
        b_.CreateCondBr(b_.CreateICmpSLT(next, hi), loop, exit);
        b_.SetInsertPoint(exit);
    }

    /** Arithmetic through ScalarOps' print_arith; the leaves (tensor reads, scalars) here. */
    Value *print_expr(const ir::Expr &e) {
        EINFUSE_ASSERT(e.defined(), "undefined expression in kernel " + k_.name);
        return print_arith(b_, e, lanes_, [&](const ir::Expr &leaf) { return print_leaf(leaf); }, k_.name);
    }

    Value *print_leaf(const ir::Expr &e) {
        if (const auto *a = e.as<ir::Access>()) {
            int p = param(a->tensor);
            EINFUSE_ASSERT(a->type == k_.params[p].dtype, "read of '" + a->tensor + "' with another type");
            Value *where = address(p, a->indices);
            if (!where->getType()->isVectorTy()) return b_.CreateLoad(element_type(a->type), where, a->tensor);
            // A read that a loop of the reduction does not move (x[i,d] inside "for j") stays a
            // plain gather, which LICM hoists out of that loop; a branch would keep it inside.
            bool moves = false;
            for (const auto &term : ir::element_offset(a->indices))
                moves |= std::find(serial_open_.begin(), serial_open_.end(), term.var) != serial_open_.end();
            if (!moves) return b_.CreateMaskedGather(vector_of(a->type), where, align(a->type), all_lanes(), nullptr, a->tensor);
            return lane_access(p, a->indices, [&](Value *first) -> Value * {
                if (first) return b_.CreateAlignedLoad(vector_of(a->type), first, align(a->type), a->tensor);
                return b_.CreateMaskedGather(vector_of(a->type), where, align(a->type), all_lanes(), nullptr, a->tensor);
            });
        }
        if (const auto *r = e.as<ir::ScalarRef>()) {
            const Scalar &s = scalar(r->name);
            EINFUSE_ASSERT(r->type == s.type, "scalar '" + r->name + "' read with another type");
            return b_.CreateLoad(s.llvm_type, s.slot, r->name);
        }
        throw InternalError("kernel " + k_.name + " still holds a Reduce: lower it to loops first");
    }

    int param(const std::string &tensor) {
        int p = k_.param_index(tensor);
        EINFUSE_ASSERT(p >= 0, "tensor '" + tensor + "' is not a parameter of " + k_.name);
        return p;
    }

    /** &tensor[indices] = data[p] + the terms of ir::element_offset (coeff * var * stride[p][d]),
     * in 64-bit arithmetic. nsw is sound: an address that overflows int64 would be out of bounds
     * anyway. */
    Value *address(int p, const std::vector<ir::Index> &indices) {
        const ir::TensorInfo &t = k_.params[p];
        EINFUSE_ASSERT(static_cast<int>(indices.size()) == t.rank, "'" + t.name + "' indexed with the wrong rank");
        Value *offset = nullptr;
        for (const auto &term : ir::element_offset(indices)) {
            Value *stride = strides_[p][term.dim], *term_value = stride;
            if (!term.var.empty()) {
                auto it = vars_.find(term.var);
                EINFUSE_ASSERT(it != vars_.end(), "variable '" + term.var + "' used outside its loop in " + k_.name);
                Value *var = it->second;
                if (var->getType()->isVectorTy()) stride = widen(stride);
                term_value = b_.CreateMul(var, stride, "", false, true);
            }
            if (term.coeff != 1) {
                Value *coeff = b_.getInt64(static_cast<uint64_t>(term.coeff));
                if (term_value->getType()->isVectorTy()) coeff = widen(coeff);
                term_value = b_.CreateMul(coeff, term_value, "", false, true);
            }
            if (offset && offset->getType()->isVectorTy() != term_value->getType()->isVectorTy())
                offset = widen(offset), term_value = widen(term_value);
            offset = offset ? b_.CreateAdd(offset, term_value, "", false, true) : term_value;
        }
        Value *base = fn_->getArg(p);
        return offset ? b_.CreateInBoundsGEP(element_type(t.dtype), base, offset, t.name + ".addr") : base;
    }

    struct Scalar {
        llvm::AllocaInst *slot = nullptr;
        DType type = DType::F32;
        llvm::Type *llvm_type = nullptr; // the element type, or a vector of it in a lane loop
    };

    // ---- Lane loops: a parallel loop vectorised by hand, one iteration per vector lane ----

    /** A parallel loop whose body reduces (a serial loop inside, no parallel one), in a kernel of
     * f32/f64 tensors with no unrolled loops: the broadcast-reduce strategy. LLVM's loop
     * vectoriser only vectorises innermost loops, and the innermost loop here is the reduction,
     * which it could vectorise only by reordering the sum. Lanes over the parallel loop keep
     * every lane's sum in the serial order, so each result has the same bits as the scalar
     * code's, whatever the vector width or the split across threads. Not where the plan runs
     * the lanes along the sum instead (reduction_lanes). */
    bool is_lane_loop(const ir::For &f) const {
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
    bool unrolled_outside_reductions(const ir::Stmt &s, bool in_serial) const {
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
    Value *print_lane_loop(const ir::For &f, Value *lo, Value *hi, unsigned registers) {
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
    Value *whole_lanes_end(Value *lo, Value *hi, Value *use) {
        Value *count = b_.CreateBinaryIntrinsic(llvm::Intrinsic::smax, b_.CreateSub(hi, lo), b_.getInt64(0));
        if (use) count = b_.CreateSelect(use, count, b_.getInt64(0));
        return b_.CreateAdd(lo, b_.CreateAnd(count, b_.getInt64(-static_cast<int64_t>(lanes_))));
    }

    /** The head of a loop of lanes over f.var from lo (entered from `pre`): its first lane's
     * value, a phi, and f.var as the vector <first, first + 1, ..., first + lanes_ - 1>. */
    llvm::PHINode *begin_lanes(const ir::For &f, Value *lo, llvm::BasicBlock *pre) {
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
    void end_lanes(const ir::For &f, llvm::PHINode *iv, Value *vector_end, llvm::BasicBlock *loop, llvm::BasicBlock *after) {
        vars_.erase(f.var);
        Value *next = b_.CreateAdd(iv, b_.getInt64(lanes_), "", true, true);
        iv->addIncoming(next, b_.GetInsertBlock());
        b_.CreateCondBr(b_.CreateICmpSLT(next, vector_end), loop, after);
    }

    const ir::HostVectors::ReductionLanes *reduction_lanes() const {
        return k_.host_vectors && k_.host_vectors->reduction_lanes ? &*k_.host_vectors->reduction_lanes : nullptr;
    }

    /** Lanes of one vector: the kernel's planned width for its widest tensor. */
    unsigned lanes_per_register() const {
        int widest = 4;
        for (const auto &t : k_.params) widest = std::max(widest, static_cast<int>(dtype_size(t.dtype)));
        return static_cast<unsigned>(target_.vector_bits / (8 * widest));
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
    /** One output of a group that runs through one loop along the sum: the scalars its
     * statements before the loop declared, and the value of the rows' variable (null: the loop
     * variables in scope as they are). */
    struct Row {
        std::map<std::string, Scalar> scope;
        Value *value = nullptr;
    };

    /** f() with row r's scalars and variable in scope. */
    template <class F> void in_row(const ir::HostVectors::ReductionLanes &sum, Row &r, F f) {
        scopes_.push_back(r.scope);
        if (r.value) vars_[sum.rows_var] = r.value;
        f();
        if (r.value) vars_.erase(sum.rows_var);
        scopes_.pop_back();
    }

    Value *print_sum_lanes(const ir::For &f, const ir::HostVectors::ReductionLanes &sum, Value *lo, Value *hi,
                           unsigned registers, std::vector<Row> &rows) {
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
    void add_to_running_sum(const ir::HostVectors::ReductionLanes &sum, Value *s, Value *c) {
        const Scalar &acc = scalar(sum.accumulator);
        if (!c) return void(b_.CreateStore(b_.CreateFAdd(b_.CreateLoad(acc.llvm_type, acc.slot), s), acc.slot));
        const Scalar &comp = scalar(sum.compensation);
        kahan_step(acc.slot, comp.slot, acc.llvm_type, s, b_.CreateFAdd(b_.CreateLoad(comp.llvm_type, comp.slot), c));
    }

    /** Kahan's step, as passes/LowerToLoops writes it, of `term` into the sum at acc_slot whose
     * compensation (what it over-counts) is `owed`, stored back to c_slot:
     * y = term - owed; t = acc + y; c = (t - acc) - y (0 once t is inf or NaN); acc = t. */
    void kahan_step(Value *acc_slot, Value *c_slot, llvm::Type *type, Value *term, Value *owed) {
        Value *running = b_.CreateLoad(type, acc_slot);
        Value *y = b_.CreateFSub(term, owed);
        Value *t = b_.CreateFAdd(running, y);
        b_.CreateStore(finite_or_zero(t, b_.CreateFSub(b_.CreateFSub(t, running), y)), c_slot);
        b_.CreateStore(t, acc_slot);
    }

    /** The term a sum's loop adds, as passes/ReductionLanes matched it: `acc = acc + term`, or
     * Kahan's `y = term - c; ...`. */
    ir::Expr sum_term(const ir::For &f, const ir::HostVectors::ReductionLanes &sum) const {
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
    Value *lanes_of(Value *v, unsigned from, unsigned n) {
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
    Value *print_sum_rows(const ir::For &pf, const ir::HostVectors::ReductionLanes &sum, Value *lo, Value *hi) {
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
    int lane_dim(const std::vector<ir::Index> &indices) const {
        int dim = -1, uses = 0;
        for (const auto &term : ir::element_offset(indices))
            if (term.var == lane_var_) ++uses, dim = term.coeff == 1 ? term.dim : -1;
        return uses == 1 ? dim : -1;
    }

    /** Whether a read of tensor t is one of those the plan reads whole along the sum. */
    bool read_whole(const std::string &t) const {
        const auto *sum = reduction_lanes();
        return sum && std::find(sum->contiguous.begin(), sum->contiguous.end(), t) != sum->contiguous.end();
    }

    /** Whether every read in the loop's body of a tensor the plan reads whole along it has
     * stride 1 along it (reads the lanes move otherwise, "x[2*k]", are gathered). */
    Value *lanes_contiguous(const ir::For &f) {
        std::string outer = lane_var_;
        lane_var_ = f.var;
        Value *all = b_.getTrue();
        ir::for_each_tensor_use(f.body, [&](const std::string &t, const std::vector<ir::Index> &indices) {
            int dim = lane_dim(indices);
            if (read_whole(t) && dim >= 0) all = b_.CreateAnd(all, b_.CreateICmpEQ(strides_[param(t)][dim], b_.getInt64(1)));
        });
        lane_var_ = outer;
        return all;
    }

    /** err where |t| < inf, else 0 (an infinite or NaN sum carries no rounding error). */
    Value *finite_or_zero(Value *t, Value *err) {
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
    void fold_rows(std::vector<Value *> &s, std::vector<Value *> &c) {
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

    /** A lane loop's read or write of tensor p (`access(nullptr)` gathers or scatters at the lanes'
     * vector of addresses). When the lane
     * variable indexes one dimension with coefficient 1, the lanes' elements are consecutive
     * wherever that dimension's stride is 1 (a row-major operand's last index: "ij,jk->ik"'s
     * in1[j,k] and out[i,k] with lanes over k): a branch on the stride, the same every time and
     * so predicted, takes one whole-vector access there (`access(first lane's address)`) and
     * the gather or scatter otherwise (`access(nullptr)`). */
    template <class Access>
    Value *lane_access(int p, const std::vector<ir::Index> &indices, Access access) {
        int dim = lane_dim(indices);
        if (dim < 0) return access(nullptr);
        if (dense_lanes_) // tested before the loop
            return read_whole(k_.params[p].name) ? access(first_lane_address(p, indices)) : access(nullptr);
        auto *contiguous = llvm::BasicBlock::Create(ctx_, "lanes.contiguous", fn_);
        auto *strided = llvm::BasicBlock::Create(ctx_, "lanes.strided", fn_);
        auto *join = llvm::BasicBlock::Create(ctx_, "lanes.join", fn_);
        b_.CreateCondBr(b_.CreateICmpEQ(strides_[p][dim], b_.getInt64(1)), contiguous, strided);
        b_.SetInsertPoint(contiguous);
        Value *whole = access(first_lane_address(p, indices));
        b_.CreateBr(join);
        b_.SetInsertPoint(strided);
        Value *each = access(nullptr);
        b_.CreateBr(join);
        b_.SetInsertPoint(join);
        if (whole->getType()->isVoidTy()) return whole;
        llvm::PHINode *v = b_.CreatePHI(whole->getType(), 2);
        v->addIncoming(whole, contiguous);
        v->addIncoming(each, strided);
        return v;
    }

    /** The first lane's address, from the scalar induction variable: no vector arithmetic
     * (64-bit vector multiplies) on the path of whole-vector accesses. */
    Value *first_lane_address(int p, const std::vector<ir::Index> &indices) {
        Value *lanes = vars_.at(lane_var_);
        vars_[lane_var_] = lane_first_;
        Value *first = address(p, indices);
        vars_[lane_var_] = lanes;
        return first;
    }

    llvm::Type *vector_of(DType t) { return llvm::FixedVectorType::get(element_type(t), lanes_); }
    Value *widen(Value *v) { return v->getType()->isVectorTy() ? v : b_.CreateVectorSplat(lanes_, v); }
    Value *all_lanes() { return llvm::ConstantInt::getTrue(llvm::FixedVectorType::get(b_.getInt1Ty(), lanes_)); }
    static llvm::Align align(DType t) { return llvm::Align(dtype_size(t)); }

    const Scalar &scalar(const std::string &name) {
        for (auto it = scopes_.rbegin(); it != scopes_.rend(); ++it)
            if (auto s = it->find(name); s != it->end()) return s->second;
        throw InternalError("scalar '" + name + "' is used before its declaration in " + k_.name);
    }

    const ir::Kernel &k_;
    const HostTarget &target_;
    llvm::Module &m_;
    llvm::LLVMContext &ctx_;
    llvm::IRBuilder<> b_;
    llvm::Function *fn_ = nullptr;                      // <name>.body, being printed
    std::vector<std::vector<Value *>> strides_;         // per param, per dimension
    std::vector<Value *> extents_;                      // per index variable
    std::map<std::string, Value *> vars_;               // loop variables in scope -> induction phi
    std::vector<std::map<std::string, Scalar>> scopes_; // innermost last
    unsigned lanes_ = 0;                                // inside a lane loop: its vector width
    std::string lane_var_;                              // and its variable
    Value *lane_first_ = nullptr;                       // and the variable's value in its first lane
    bool dense_lanes_ = false;                          // lanes along a sum, every read it moves contiguous
    std::vector<std::string> serial_open_;              // the serial loops open inside it
};

} // namespace

HostTarget kernel_target(const ir::Kernel &k, const HostTarget &cpu) {
    if (!k.host_vectors) return cpu;
    const ir::HostVectors &v = *k.host_vectors;
    EINFUSE_ASSERT(v.bits <= cpu.vector_bits, "kernel " + k.name + " was planned for " + std::to_string(v.bits) +
                                                  "-bit vectors; this CPU has " + std::to_string(cpu.vector_bits));
    HostTarget t = cpu;
    t.vector_bits = v.bits;
    t.prefer_bits = v.bits;
    if (v.narrowed_isa && v.bits < cpu.vector_bits) t.features += v.bits >= 256 ? ",-avx512f" : ",-avx";
    if (v.no_gathers) t.features += ",+prefer-no-gather,+prefer-no-scatter";
    return t;
}

void add_target_attributes(llvm::Function *f, const HostTarget &target) {
    if (!target.cpu.empty()) f->addFnAttr("target-cpu", target.cpu);
    if (!target.features.empty()) f->addFnAttr("target-features", target.features);
    // Only the vectorisers' preference: "min-legal-vector-width" stays unset (any width legal), so
    // vectors wider than the preference that LLVM forms anyway keep their registers (D=2's
    // interleaved group of 16 floats: one zmm shuffle sequence, not two ymm ones).
    if (target.prefer_bits > 0) f->addFnAttr("prefer-vector-width", std::to_string(target.prefer_bits));
}

void emit_kernel(const ir::Kernel &k, const HostTarget &cpu, llvm::Module &m) {
    // A GEMM kernel runs as the packed GEMM where the passes chose it (passes/HostGemm);
    // otherwise (and for every other strategy) as its loop nest.
    HostTarget target = kernel_target(k, cpu);
    if (k.gemm && k.gemm->host_packed) return emit_gemm_kernel(k, target, m);
    KernelPrinter(k, target, m).emit();
}

} // namespace einfuse::llvm_backend
