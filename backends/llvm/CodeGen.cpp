#include "backends/llvm/CodeGen.h"

#include "backends/llvm/GemmCodeGen.h"
#include "backends/llvm/KernelPrinter.h"
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

using llvm::Value;

KernelPrinter::KernelPrinter(const ir::Kernel &k, const HostTarget &target, llvm::Module &m)
    : k_(k), target_(target), m_(m), ctx_(m.getContext()), b_(ctx_) {
    // `contract` marks acc + a * b as one FMA: one rounding instead of two, never less accurate
    // (Contraction.h turns the marks into llvm.fmuladd, the same for every vector width).
    // Reassociation stays off: reduction order is the passes' decision, not ours.
    llvm::FastMathFlags fmf;
    fmf.setAllowContract();
    b_.setFastMathFlags(fmf);
}

void KernelPrinter::emit() {
    EINFUSE_ASSERT(k_.body.defined(), "kernel '" + k_.name + "' has no body");
    EINFUSE_ASSERT(!m_.getFunction(k_.name), "two kernels are named '" + k_.name + "'");
    llvm::Function *general = print_body(false);
    llvm::Function *contiguous = has_fixed_extents() ? print_body(true) : nullptr;
    print_entry(general, contiguous);
}

void KernelPrinter::add_attributes(llvm::Function *f) {
    f->addFnAttr(llvm::Attribute::NoUnwind);
    add_target_attributes(f, target_);
}

/** A pointer argument that the function only reads and never keeps. */
void KernelPrinter::read_only_pointer(llvm::Function *f, unsigned arg) {
    f->addParamAttr(arg, llvm::Attribute::NoAlias);
    f->addParamAttr(arg, llvm::Attribute::NoCapture);
    f->addParamAttr(arg, llvm::Attribute::ReadOnly);
}

/** void <name>.body(ptr noalias %<param>..., ptr %strides, ptr %extents, i64 %begin, i64 %end).
 * Inputs are read-only and may share memory with each other (noalias allows that for memory
 * nobody writes); outputs are distinct buffers, so noalias holds for them too. */
llvm::Function *KernelPrinter::print_body(bool contiguous) {
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
void KernelPrinter::print_entry(llvm::Function *general, llvm::Function *contiguous) {
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
bool KernelPrinter::has_fixed_extents() const {
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
std::vector<std::vector<Value *>> KernelPrinter::row_major_strides() {
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
void KernelPrinter::load_arguments(llvm::Function *f, bool contiguous) {
    std::size_t n = k_.params.size();
    load_arguments_from(f->getArg(n), f->getArg(n + 1), contiguous);
}

void KernelPrinter::load_arguments_from(Value *strides, Value *extents, bool contiguous) {
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

Value *KernelPrinter::extent(const std::string &var) {
    int v = k_.var_index(var);
    EINFUSE_ASSERT(v >= 0, "loop variable '" + var + "' is not an index variable of " + k_.name);
    return extents_[v];
}

void KernelPrinter::print_stmt(const ir::Stmt &s) {
    visit(s, [&](const auto &node) { print(node); });
}

/** An unrolled loop's trip count is a constant, so O3 unrolls it fully. */
void KernelPrinter::print(const ir::For &f) {
    Value *hi = f.loop_kind == ir::LoopKind::Unrolled ? b_.getInt64(f.fixed_extent) : extent(f.var);
    print_loop(f, b_.getInt64(0), hi);
}

void KernelPrinter::print(const ir::Block &blk) {
    scopes_.emplace_back(); // a scalar is visible to the statements after it in this block
    for (const auto &s : blk.stmts)
        print_stmt(s);
    scopes_.pop_back();
}

void KernelPrinter::print(const ir::Store &s) {
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

void KernelPrinter::print(const ir::DeclareScalar &d) {
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

void KernelPrinter::print(const ir::AssignScalar &a) {
    const Scalar &s = scalar(a.name);
    EINFUSE_ASSERT(a.value.type() == s.type, "assignment of another type to '" + a.name + "'");
    Value *v = print_expr(a.value);
    b_.CreateStore(s.llvm_type->isVectorTy() ? widen(v) : v, s.slot);
}

/** for (var = lo; var < hi; ++var) body, printed already guarded and rotated:
 *   pre:  br (lo < hi), loop, exit
 *   loop: var = phi [lo, pre], [var.next, latch]; body; var.next = var + 1
 *         br (var.next < hi), loop, exit */
void KernelPrinter::print_loop(const ir::For &f, Value *lo, Value *hi, bool vector_part) {
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
Value *KernelPrinter::print_expr(const ir::Expr &e) {
    EINFUSE_ASSERT(e.defined(), "undefined expression in kernel " + k_.name);
    return print_arith(b_, e, lanes_, [&](const ir::Expr &leaf) { return print_leaf(leaf); }, k_.name);
}

Value *KernelPrinter::print_leaf(const ir::Expr &e) {
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
        if (int stride = dense_lanes_ ? deinterleave_stride(a->tensor) : 0)
            return deinterleaved_read(p, a->indices, stride); // strides checked before the loop
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

int KernelPrinter::param(const std::string &tensor) {
    int p = k_.param_index(tensor);
    EINFUSE_ASSERT(p >= 0, "tensor '" + tensor + "' is not a parameter of " + k_.name);
    return p;
}

/** &tensor[indices] = data[p] + the terms of ir::element_offset (coeff * var * stride[p][d]),
 * in 64-bit arithmetic. nsw is sound: an address that overflows int64 would be out of bounds
 * anyway. */
Value *KernelPrinter::address(int p, const std::vector<ir::Index> &indices) {
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

/** A lane loop's read or write of tensor p (`access(nullptr)` gathers or scatters at the lanes'
 * vector of addresses). When the lane
 * variable indexes one dimension with coefficient 1, the lanes' elements are consecutive
 * wherever that dimension's stride is 1 (a row-major operand's last index: "ij,jk->ik"'s
 * in1[j,k] and out[i,k] with lanes over k): a branch on the stride, the same every time and
 * so predicted, takes one whole-vector access there (`access(first lane's address)`) and
 * the gather or scatter otherwise (`access(nullptr)`). */
template <class Access>
Value *KernelPrinter::lane_access(int p, const std::vector<ir::Index> &indices, Access access) {
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
Value *KernelPrinter::first_lane_address(int p, const std::vector<ir::Index> &indices) {
    Value *lanes = vars_.at(lane_var_);
    vars_[lane_var_] = lane_first_;
    Value *first = address(p, indices);
    vars_[lane_var_] = lanes;
    return first;
}

const KernelPrinter::Scalar &KernelPrinter::scalar(const std::string &name) {
    for (auto it = scopes_.rbegin(); it != scopes_.rend(); ++it)
        if (auto s = it->find(name); s != it->end()) return s->second;
    throw InternalError("scalar '" + name + "' is used before its declaration in " + k_.name);
}

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