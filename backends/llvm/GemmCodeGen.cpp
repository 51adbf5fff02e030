// The packed GEMM, GotoBLAS/BLIS style, printed as LLVM IR for the host's vector width. One call
// computes the output rows [begin, end) of the flattened (batch point, m) range:
//
//   for each batch point b:                        (several batch variables: one flat index)
//     for jc in 0..N, step NC:                    pack B[b, 0:K, jc:jc+NC] into Bp, NR-wide strips
//       for ic in its rows, step MC:              pack A[b, ic:ic+MC, 0:K] into Ap, MR-tall strips
//         for each NR strip, for each MR strip:   the micro-kernel: an MR x NR tile of vector
//                                                 accumulators, K fused multiply-adds deep
//           epilogue(tile)                        the kernel's statements after its sum, on the
//                                                 tile, masked at the edges of M and N
//
// Why K is not blocked (BLIS has a KC loop): a KC block leaves partial sums that must live
// somewhere between blocks, and the epilogue ("+=", relu, an f16 store) must see the whole sum.
// The output cannot hold them (its old value may be read; its type may be f16) and a buffer for
// them is a partial-sum tensor. So the tile's accumulators stay in registers for all of K, the
// packed panels hold whole K, and MC / NC shrink as K grows so that an A block fits L2
// (ir::Gemm::host_a_block_bytes) and a B panel stays moderate (kBPanelBytes). Each output element's sum runs
// k = 0..K-1 in one register lane whatever the tile or thread: the bits do not depend on the
// split.
//
// Packing goes through per-call tables (offset of each flattened m, n, k in each operand, and
// each group variable's index at each flattened position), so any strides work: transposed,
// stride 0 (broadcast), grouped indices ("ijk,ikl->jl": K = {i,k}), padded views. Rows of B that
// are contiguous along n are copied with vector loads; everything else is gathered.
#include "backends/llvm/GemmCodeGen.h"

#include "backends/llvm/ScalarOps.h"
#include "backends/llvm/TypeLowering.h"
#include "backends/llvm/VectorMath.h"
#include "backends/llvm/Workspace.h"
#include "ir/Walk.h"
#include "passes/HostGemm.h"
#include "support/Error.h"

#include <llvm/IR/Constants.h>
#include <llvm/IR/DerivedTypes.h>
#include <llvm/IR/Function.h>
#include <llvm/IR/IRBuilder.h>
#include <llvm/IR/Intrinsics.h>
#include <llvm/IR/Module.h>

#include <algorithm>
#include <cstdlib>
#include <functional>
#include <map>

namespace einfuse::llvm_backend {

namespace {

using llvm::Value;

// Cache budgets (bytes). An A block (MC x K) is reused across a whole B panel from L2, at most
// ir::Gemm::host_a_block_bytes (passes/HostGemm: a quarter of the CPU's L2); a B panel (K x NC)
// is reused across every A block from L2/L3. Measured on a 2 MiB-L2 Xeon; see
// docs/performance.md.
constexpr int64_t kBPanelBytes = 4 * 1024 * 1024;
constexpr int64_t kMaxMC = 240;

std::string key(const std::string &tensor, const std::vector<std::string> &indices) {
    std::string k = tensor;
    for (const auto &v : indices) k += "," + v;
    return k;
}

using PackedGemmParts = passes::PackedGemmParts;
using Tile = passes::PackedGemmTile;

class GemmPrinter {
  public:
    GemmPrinter(const ir::Kernel &k, const HostTarget &target, llvm::Module &m, PackedGemmParts parts)
        : k_(k), g_(*k.gemm), target_(target), m_(m), ctx_(m.getContext()), b_(ctx_), parts_(std::move(parts)) {
        tile_ = passes::packed_gemm_tile(parts_.type, k.gemm->host_vector_bits);
        llvm::FastMathFlags fmf;
        fmf.setAllowContract(); // as the loop nest: acc + a * b may fuse in the epilogue too
        b_.setFastMathFlags(fmf);
        ir::for_each_tensor_var_use(k.body, [&](const std::string &t, const std::vector<std::string> &idx) { uses_.emplace(t, idx); });
    }

    void emit();

  private:
    // ---- small IR helpers ----
    llvm::Type *i64() { return b_.getInt64Ty(); }
    llvm::Type *ptr() { return b_.getPtrTy(); }
    llvm::Type *elem() { return lowered_type(ctx_, parts_.type); }
    llvm::VectorType *vec() { return llvm::FixedVectorType::get(elem(), tile_.w); }
    llvm::VectorType *ivec() { return llvm::FixedVectorType::get(i64(), tile_.w); }
    Value *c64(int64_t v) { return b_.getInt64(v); }
    int64_t esize() const { return static_cast<int64_t>(dtype_size(parts_.type)); }
    llvm::BasicBlock *block(const std::string &name) { return llvm::BasicBlock::Create(ctx_, name, fn_); }
    Value *iota() {
        std::vector<llvm::Constant *> steps;
        for (int l = 0; l < tile_.w; ++l) steps.push_back(b_.getInt64(l));
        return llvm::ConstantVector::get(steps);
    }
    Value *splat(Value *v) { return b_.CreateVectorSplat(tile_.w, v); }
    Value *min64(Value *a, Value *c) { return b_.CreateBinaryIntrinsic(llvm::Intrinsic::smin, a, c); }
    Value *max64(Value *a, Value *c) { return b_.CreateBinaryIntrinsic(llvm::Intrinsic::smax, a, c); }
    Value *round_up(Value *x, int64_t to) { return b_.CreateMul(b_.CreateSDiv(b_.CreateAdd(x, c64(to - 1)), c64(to)), c64(to)); }
    Value *gep(llvm::Type *t, Value *base, Value *offset) { return b_.CreateInBoundsGEP(t, base, offset); }
    Value *load_i64(Value *table, Value *at) { return b_.CreateLoad(i64(), gep(i64(), table, at)); }

    /** for (iv = lo; iv < hi; iv += step) body(iv), guarded and rotated. */
    void loop(const std::string &name, Value *lo, Value *hi, Value *step, const std::function<void(Value *)> &body) {
        llvm::BasicBlock *pre = b_.GetInsertBlock();
        auto *head = block(name + ".loop"), *exit = block(name + ".exit");
        b_.CreateCondBr(b_.CreateICmpSLT(lo, hi), head, exit);
        b_.SetInsertPoint(head);
        llvm::PHINode *iv = b_.CreatePHI(i64(), 2, name);
        iv->addIncoming(lo, pre);
        body(iv);
        Value *next = b_.CreateAdd(iv, step, name + ".next", true, true);
        iv->addIncoming(next, b_.GetInsertBlock());
        b_.CreateCondBr(b_.CreateICmpSLT(next, hi), head, exit);
        b_.SetInsertPoint(exit);
    }
    void when(Value *cond, const std::function<void()> &then) {
        auto *yes = block("then"), *done = block("endif");
        b_.CreateCondBr(cond, yes, done);
        b_.SetInsertPoint(yes);
        then();
        b_.CreateBr(done);
        b_.SetInsertPoint(done);
    }
    /** cond ? a() : b(), each arm in its own block (a gather must not run where a load would do). */
    Value *either(Value *cond, const std::function<Value *()> &a, const std::function<Value *()> &c) {
        auto *ya = block("either.a"), *yc = block("either.b"), *done = block("either.end");
        b_.CreateCondBr(cond, ya, yc);
        b_.SetInsertPoint(ya);
        Value *va = a();
        llvm::BasicBlock *ea = b_.GetInsertBlock();
        b_.CreateBr(done);
        b_.SetInsertPoint(yc);
        Value *vc = c();
        llvm::BasicBlock *ec = b_.GetInsertBlock();
        b_.CreateBr(done);
        b_.SetInsertPoint(done);
        llvm::PHINode *phi = b_.CreatePHI(va->getType(), 2);
        phi->addIncoming(va, ea);
        phi->addIncoming(vc, ec);
        return phi;
    }
    /** One workspace for every buffer and table, carved into 64-byte aligned pieces of the
     * given sizes: this thread's, kept between calls (Workspace.h). A fresh allocation per call
     * cost a page fault per 4 KiB on first touch: on a Zen 5 VM, f32 1024^3 ran at 80 GFLOP/s in
     * those calls and 155 in the others. Without one (the allocation failed) the call computes
     * nothing and branches to `none`; the executor reports it. */
    std::vector<Value *> allocate(const std::vector<Value *> &bytes, llvm::BasicBlock *none) {
        auto rounded = [&](Value *n) { return b_.CreateMul(b_.CreateAdd(b_.CreateUDiv(n, c64(64)), c64(1)), c64(64)); };
        Value *total = c64(64);
        for (Value *n : bytes) total = b_.CreateAdd(total, rounded(n));
        auto callee = m_.getOrInsertFunction(kWorkspaceSymbol, ptr(), i64());
        Value *workspace = b_.CreateCall(callee, {total});
        auto *got = block("workspace");
        b_.CreateCondBr(b_.CreateIsNull(workspace), none, got);
        b_.SetInsertPoint(got);
        std::vector<Value *> pieces;
        Value *at = c64(0);
        for (Value *n : bytes) {
            pieces.push_back(b_.CreateInBoundsGEP(b_.getInt8Ty(), workspace, at));
            at = b_.CreateAdd(at, rounded(n));
        }
        return pieces;
    }
    /** W lanes of an operand stored as `from`, in the accumulator's type. f16 and bf16 widen
     * exactly: bf16 is the top half of an f32; f16 goes through F16C's vcvtph2ps where the CPU
     * has it, and TypeLowering's bit arithmetic lane by lane where it does not. */
    llvm::VectorType *stored_vec(DType from) { return llvm::FixedVectorType::get(lowered_type(ctx_, from), tile_.w); }
    Value *to_acc(Value *v, DType from) {
        if (from == parts_.type) return v;
        if (from == DType::BF16) {
            auto *wide = llvm::FixedVectorType::get(b_.getInt32Ty(), tile_.w);
            return b_.CreateBitCast(b_.CreateShl(b_.CreateZExt(v, wide), 16), vec());
        }
        if (("," + target_.features + ",").find(",+f16c,") != std::string::npos)
            return b_.CreateFPExt(b_.CreateBitCast(v, llvm::FixedVectorType::get(b_.getHalfTy(), tile_.w)), vec());
        return per_lane(b_, v, [&](Value *x) { return convert(b_, x, DType::F16, DType::F32); });
    }

    // ---- the problem ----
    Value *extent(const std::string &v) { return extents_.at(v); }
    int param(const std::string &t) const {
        int p = k_.param_index(t);
        EINFUSE_ASSERT(p >= 0, "tensor '" + t + "' is not a parameter of " + k_.name);
        return p;
    }
    /** The stride of tensor p along variable v: the sum over the dimensions it indexes with v
     * (0 when it does not use v: a broadcast). */
    Value *stride_of(int p, const std::string &v) {
        Value *s = c64(0);
        const auto &idx = uses_.at(k_.params[p].name);
        for (std::size_t d = 0; d < idx.size(); ++d)
            if (idx[d] == v) s = b_.CreateAdd(s, strides_[p][d]);
        return s;
    }
    Value *group_size(const std::vector<std::string> &grp) {
        Value *n = c64(1);
        for (const auto &v : grp) n = b_.CreateMul(n, extent(v));
        return n;
    }
    /** True when tensor p's offset along the flattened group is the flat index itself (row-major
     * and unit stride, ignoring extent-1 variables). */
    Value *unit_along(int p, const std::vector<std::string> &grp) {
        Value *ok = b_.getTrue(), *inner = c64(1);
        for (auto it = grp.rbegin(); it != grp.rend(); ++it) {
            Value *e = extent(*it);
            Value *fits = b_.CreateOr(b_.CreateICmpEQ(stride_of(p, *it), inner), b_.CreateICmpSLE(e, c64(1)));
            ok = b_.CreateAnd(ok, fits);
            inner = b_.CreateMul(inner, e);
        }
        return ok;
    }

    /** For flat positions f in [0, padded) of a group: each variable's index (into `index`
     * tables when asked) and, per tensor, the offset sum index * stride (0 past `size`). The
     * indices count like an odometer, the last variable fastest: no division per entry (a
     * group padded with size-1 variables, GemmShare.h, costs a compare per entry, not a divide). */
    void build_tables(const std::vector<std::string> &grp, Value *size, Value *padded, bool keep_indices,
                      const std::vector<std::pair<int, Value *>> &offsets) {
        std::vector<std::vector<Value *>> per_tensor;
        for (const auto &o : offsets) {
            std::vector<Value *> s;
            for (const auto &v : grp) s.push_back(stride_of(o.first, v));
            per_tensor.push_back(s);
        }
        std::vector<llvm::AllocaInst *> digit;
        {
            llvm::IRBuilder<> entry(&fn_->getEntryBlock(), fn_->getEntryBlock().begin());
            for (std::size_t j = 0; j < grp.size(); ++j) digit.push_back(entry.CreateAlloca(i64(), nullptr, "digit"));
        }
        for (auto *d : digit) b_.CreateStore(c64(0), d);
        loop("tab", c64(0), padded, c64(1), [&](Value *f) {
            Value *inside = b_.CreateICmpSLT(f, size);
            std::vector<Value *> idx;
            for (auto *d : digit) idx.push_back(b_.CreateSelect(inside, b_.CreateLoad(i64(), d), c64(0)));
            if (keep_indices)
                for (std::size_t j = 0; j < grp.size(); ++j) b_.CreateStore(idx[j], gep(i64(), index_tables_[grp[j]], f));
            for (std::size_t t = 0; t < offsets.size(); ++t) {
                Value *off = c64(0);
                for (std::size_t j = 0; j < grp.size(); ++j) off = b_.CreateAdd(off, b_.CreateMul(idx[j], per_tensor[t][j]));
                b_.CreateStore(off, gep(i64(), offsets[t].second, f));
            }
            Value *carry = b_.getTrue();
            for (int j = static_cast<int>(grp.size()) - 1; j >= 0; --j) {
                Value *next = b_.CreateAdd(idx[j], c64(1));
                Value *wrap = b_.CreateICmpSGE(next, extent(grp[j]));
                b_.CreateStore(b_.CreateSelect(carry, b_.CreateSelect(wrap, c64(0), next), idx[j]), digit[j]);
                carry = b_.CreateAnd(carry, wrap);
            }
        });
    }

    void pack_b(Value *bdata, Value *boff, Value *jc, Value *strips);
    void pack_a(Value *adata, Value *boff, Value *ic, Value *strips);
    void micro_kernel(Value *ap, Value *bp, Value *m0, Value *n0);
    void epilogue_vector(Value *acc, Value *lane_mask);

    // ---- the epilogue, one vector of W output columns of one row at a time ----
    Value *widen(Value *v) { return v->getType()->isVectorTy() ? v : splat(v); }
    Value *offset_of(int p, const std::vector<std::string> &indices) {
        Value *off = c64(0);
        for (std::size_t d = 0; d < indices.size(); ++d) {
            Value *v = lane_vars_.at(indices[d]), *s = strides_[p][d];
            if (v->getType()->isVectorTy()) s = splat(s);
            Value *term = b_.CreateMul(v, s);
            if (off->getType()->isVectorTy() != term->getType()->isVectorTy()) off = widen(off), term = widen(term);
            off = b_.CreateAdd(off, term);
        }
        return off;
    }
    Value *expr(const ir::Expr &e);
    Value *leaf(const ir::Expr &e);
    void stmt(const ir::Stmt &s);

    const ir::Kernel &k_;
    const ir::Gemm &g_;
    const HostTarget &target_;
    llvm::Module &m_;
    llvm::LLVMContext &ctx_;
    llvm::IRBuilder<> b_;
    PackedGemmParts parts_;
    Tile tile_;
    llvm::Function *fn_ = nullptr;
    std::map<std::string, std::vector<std::string>> uses_; // tensor -> its index variables
    std::vector<Value *> data_;                             // per param
    std::vector<std::vector<Value *>> strides_;             // per param, per dimension
    std::map<std::string, Value *> extents_;
    std::map<std::string, Value *> index_tables_;           // m and n variables: index at each flat position
    Value *M_ = nullptr, *N_ = nullptr, *K_ = nullptr;
    Value *offA_m_ = nullptr, *offA_k_ = nullptr, *offB_n_ = nullptr, *offB_k_ = nullptr;
    Value *unitB_n_ = nullptr;
    DType a_type_ = DType::F32, b_type_ = DType::F32;      // the operands as stored
    Value *ap_ = nullptr, *bp_ = nullptr;                   // the packed A block and B panel
    std::vector<llvm::AllocaInst *> acc_;                   // the tile's accumulators, row-major
    llvm::AllocaInst *tile_buf_ = nullptr;                   // the finished tile, for the epilogue loop
    std::map<std::string, Value *> lane_vars_;               // index variable -> scalar or W lanes
    std::map<std::string, Value *> scalars_;                 // acc and the epilogue's scalars
    Value *lane_mask_ = nullptr;
    std::map<std::string, Value *> unit_n_;                  // per epilogue access pattern: contiguous along n
};

void GemmPrinter::emit() {
    auto *type = llvm::FunctionType::get(b_.getVoidTy(), {ptr(), ptr(), ptr(), i64(), i64()}, false);
    fn_ = llvm::Function::Create(type, llvm::Function::ExternalLinkage, k_.name, m_);
    fn_->addFnAttr(llvm::Attribute::NoUnwind);
    add_target_attributes(fn_, target_);
    const char *names[] = {"data", "strides", "extents", "begin", "end"};
    for (unsigned a = 0; a < 5; ++a) fn_->getArg(a)->setName(names[a]);
    b_.SetInsertPoint(block("entry"));

    // Arguments, as ir/Kernel.h's calling convention has them.
    for (std::size_t p = 0; p < k_.params.size(); ++p)
        data_.push_back(b_.CreateLoad(ptr(), b_.CreateConstInBoundsGEP1_64(ptr(), fn_->getArg(0), p), k_.params[p].name));
    for (std::size_t v = 0; v < k_.index_vars.size(); ++v)
        extents_[k_.index_vars[v]] =
            b_.CreateLoad(i64(), b_.CreateConstInBoundsGEP1_64(i64(), fn_->getArg(2), v), k_.index_vars[v] + ".extent");
    std::size_t offset = 0;
    for (const auto &t : k_.params) {
        std::vector<Value *> s;
        for (int d = 0; d < t.rank; ++d, ++offset)
            s.push_back(b_.CreateLoad(i64(), b_.CreateConstInBoundsGEP1_64(i64(), fn_->getArg(1), offset)));
        strides_.push_back(std::move(s));
    }
    tile_buf_ = b_.CreateAlloca(elem(), c64(tile_.mr * tile_.nr()), "tile");
    tile_buf_->setAlignment(llvm::Align(64));
    for (int a = 0; a < tile_.mr * tile_.nrv; ++a) acc_.push_back(b_.CreateAlloca(vec(), nullptr, "acc"));

    int pa = param(g_.a), pb = param(g_.b);
    a_type_ = k_.params[pa].dtype, b_type_ = k_.params[pb].dtype;
    for (const auto &v : k_.index_vars) lane_vars_[v] = c64(0); // the groups' variables are set below
    const int64_t mr = tile_.mr, nr = tile_.nr();
    Value *batch = group_size(g_.batch);
    M_ = group_size(g_.m), N_ = group_size(g_.n), K_ = group_size(g_.k);
    Value *units = b_.CreateMul(batch, M_);
    Value *begin = max64(fn_->getArg(3), c64(0)), *end = min64(fn_->getArg(4), units);
    auto *work = block("work"), *ret = block("return");
    b_.CreateCondBr(b_.CreateICmpSLT(begin, end), work, ret);
    b_.SetInsertPoint(work);

    // Blocking: MC rows of A (K deep) within host_a_block_bytes, NC columns of B within kBPanelBytes.
    const int64_t a_block_bytes = g_.host_a_block_bytes;
    Value *row_bytes = b_.CreateMul(max64(K_, c64(1)), c64(esize()));
    Value *mc = b_.CreateMul(max64(b_.CreateSDiv(b_.CreateSDiv(c64(a_block_bytes), row_bytes), c64(mr)), c64(1)), c64(mr));
    mc = min64(min64(mc, c64(kMaxMC / mr * mr)), round_up(max64(M_, c64(1)), mr));
    Value *nc = b_.CreateMul(max64(b_.CreateSDiv(b_.CreateSDiv(c64(kBPanelBytes), row_bytes), c64(nr)), c64(1)), c64(nr));
    nc = min64(nc, round_up(max64(N_, c64(1)), nr));

    Value *Mp = round_up(M_, mr), *Np = round_up(N_, nr);
    // Tables are read up to 2 NR past their end by whole vectors (lanes then masked off).
    auto table = [&](Value *n) { return b_.CreateMul(b_.CreateAdd(n, c64(2 * nr)), c64(8)); };
    std::vector<Value *> sizes{b_.CreateMul(b_.CreateMul(nc, K_), c64(esize())), b_.CreateMul(b_.CreateMul(mc, K_), c64(esize())),
                               table(Mp), table(Np), table(K_), table(K_)};
    for (std::size_t v = 0; v < g_.m.size(); ++v) sizes.push_back(table(Mp));
    for (std::size_t v = 0; v < g_.n.size(); ++v) sizes.push_back(table(Np));
    std::vector<Value *> pieces = allocate(sizes, ret);
    bp_ = pieces[0], ap_ = pieces[1], offA_m_ = pieces[2], offB_n_ = pieces[3], offA_k_ = pieces[4], offB_k_ = pieces[5];
    std::size_t next = 6;
    for (const auto &v : g_.m) index_tables_[v] = pieces[next++];
    for (const auto &v : g_.n) index_tables_[v] = pieces[next++];
    build_tables(g_.m, M_, Mp, true, {{pa, offA_m_}});
    build_tables(g_.n, N_, Np, true, {{pb, offB_n_}});
    build_tables(g_.k, K_, K_, false, {{pa, offA_k_}, {pb, offB_k_}});
    unitB_n_ = unit_along(pb, g_.n);
    for (const auto &s : parts_.epilogue)
        ir::for_each_tensor_var_use(s, [&](const std::string &t, const std::vector<std::string> &idx) {
            if (unit_n_.count(key(t, idx))) return;
            // Contiguous along n: each n variable's stride in this access is what row-major
            // flattening of the n group gives it.
            int p = param(t);
            Value *ok = b_.getTrue(), *inner = c64(1);
            for (auto it = g_.n.rbegin(); it != g_.n.rend(); ++it) {
                Value *s = c64(0);
                for (std::size_t d = 0; d < idx.size(); ++d)
                    if (idx[d] == *it) s = b_.CreateAdd(s, strides_[p][d]);
                ok = b_.CreateAnd(ok, b_.CreateOr(b_.CreateICmpEQ(s, inner), b_.CreateICmpSLE(extent(*it), c64(1))));
                inner = b_.CreateMul(inner, extent(*it));
            }
            unit_n_[key(t, idx)] = ok;
        });
    Value *bp = bp_, *ap = ap_;

    // This call owns the MR-tall strips of rows whose first row lies in [begin, end) of the
    // flattened (batch point, m) range. Rows, not columns: A is the operand packed with gathers,
    // so each thread packs only its own rows of it (and all of B, with vector loads).
    Value *b_first = b_.CreateSDiv(begin, M_), *b_last = b_.CreateSDiv(b_.CreateSub(end, c64(1)), M_);
    loop("batch", b_first, b_.CreateAdd(b_last, c64(1)), c64(1), [&](Value *bi) {
        Value *base = b_.CreateMul(bi, M_);
        Value *lo = max64(b_.CreateSub(begin, base), c64(0)), *hi = min64(b_.CreateSub(end, base), M_);
        Value *r0 = round_up(lo, mr), *r1 = min64(round_up(hi, mr), M_);
        when(b_.CreateICmpSLT(r0, r1), [&] {
            // The batch point's variables and its offsets in A and B.
            Value *rem = bi, *boffA = c64(0), *boffB = c64(0);
            for (auto it = g_.batch.rbegin(); it != g_.batch.rend(); ++it) {
                Value *e = max64(extent(*it), c64(1));
                Value *idx = b_.CreateURem(rem, e);
                rem = b_.CreateUDiv(rem, e);
                lane_vars_[*it] = idx;
                boffA = b_.CreateAdd(boffA, b_.CreateMul(idx, stride_of(pa, *it)));
                boffB = b_.CreateAdd(boffB, b_.CreateMul(idx, stride_of(pb, *it)));
            }
            loop("jc", c64(0), N_, nc, [&](Value *jc) {
                Value *strips_n = b_.CreateSDiv(b_.CreateAdd(b_.CreateSub(min64(b_.CreateAdd(jc, nc), N_), jc), c64(nr - 1)), c64(nr));
                pack_b(data_[pb], boffB, jc, strips_n);
                loop("ic", r0, r1, mc, [&](Value *ic) {
                    Value *strips_m = b_.CreateSDiv(b_.CreateAdd(min64(mc, b_.CreateSub(r1, ic)), c64(mr - 1)), c64(mr));
                    pack_a(data_[pa], boffA, ic, strips_m);
                    loop("jr", c64(0), strips_n, c64(1), [&](Value *sn) {
                        loop("ir", c64(0), strips_m, c64(1), [&](Value *sm) {
                            Value *a_strip = gep(elem(), ap, b_.CreateMul(sm, b_.CreateMul(K_, c64(mr))));
                            Value *b_strip = gep(elem(), bp, b_.CreateMul(sn, b_.CreateMul(K_, c64(nr))));
                            micro_kernel(a_strip, b_strip, b_.CreateAdd(ic, b_.CreateMul(sm, c64(mr))),
                                         b_.CreateAdd(jc, b_.CreateMul(sn, c64(nr))));
                        });
                    });
                });
            });
        });
    });
    b_.CreateBr(ret);
    ret->moveAfter(&fn_->back());
    b_.SetInsertPoint(ret);
    b_.CreateRetVoid();
}


/** Bp[s][k][c] = B[batch, k, jc + s*NR + c], zero past N: each NR strip K rows deep. The k loop
 * is outermost: one pass reads a row of the panel (contiguous when B is row-major) and deals it
 * out to the strips. Strips outermost would visit K rows (K pages of a large B) per strip and
 * thrash the TLB: 2048^3 lost a quarter of its speed that way. */
void GemmPrinter::pack_b(Value *bdata, Value *boff, Value *jc, Value *strips) {
    const int64_t nr = tile_.nr(), w = tile_.w;
    llvm::Align vec_align(std::min<int64_t>(64, w * esize())), bel(dtype_size(b_type_));
    llvm::Type *bt = lowered_type(ctx_, b_type_);
    auto pack = [&](bool unit) {
        loop("pb.k", c64(0), K_, c64(1), [&](Value *kk) {
            Value *row = gep(bt, bdata, b_.CreateAdd(boff, load_i64(offB_k_, kk)));
            loop("pb.s", c64(0), strips, c64(1), [&](Value *s) {
                Value *n0 = b_.CreateAdd(jc, b_.CreateMul(s, c64(nr)));
                Value *dst = gep(elem(), bp_, b_.CreateAdd(b_.CreateMul(s, b_.CreateMul(K_, c64(nr))), b_.CreateMul(kk, c64(nr))));
                for (int v = 0; v < tile_.nrv; ++v) {
                    Value *nv = b_.CreateAdd(n0, c64(v * w));
                    Value *mask = b_.CreateICmpSLT(b_.CreateAdd(splat(nv), iota()), splat(N_));
                    Value *zero = llvm::Constant::getNullValue(stored_vec(b_type_));
                    Value *val =
                        unit ? b_.CreateMaskedLoad(stored_vec(b_type_), gep(bt, row, nv), bel, mask, zero)
                             : b_.CreateMaskedGather(stored_vec(b_type_),
                                                     gep(bt, row, b_.CreateAlignedLoad(ivec(), gep(i64(), offB_n_, nv), llvm::Align(8))),
                                                     bel, mask, zero);
                    b_.CreateAlignedStore(to_acc(val, b_type_), gep(elem(), dst, c64(v * w)), vec_align);
                }
            });
        });
    };
    when(unitB_n_, [&] { pack(true); });
    when(b_.CreateNot(unitB_n_), [&] { pack(false); });
}

/** Ap[s][k][r] = A[batch, ic + s*MR + r, k], zero past M: each MR strip K columns deep,
 * gathered W rows at a time; k outermost, as in pack_b. */
void GemmPrinter::pack_a(Value *adata, Value *boff, Value *ic, Value *strips) {
    const int64_t mr = tile_.mr, w = tile_.w;
    const int chunks = static_cast<int>((mr + w - 1) / w);
    llvm::Align el(esize()), ael(dtype_size(a_type_));
    llvm::Type *at = lowered_type(ctx_, a_type_);
    loop("pa.k", c64(0), K_, c64(1), [&](Value *kk) {
        Value *col = gep(at, adata, b_.CreateAdd(boff, load_i64(offA_k_, kk)));
        // A prefetch 8 rows ahead: a transposed A (k the outer stride) visits a new page per k,
        // where the hardware prefetchers stop; measured 85 -> 105-145 GFLOP/s at 2048^3 for
        // "ji,jk->ik", no change for "ij,jk->ik".
        Value *ahead = gep(at, adata, b_.CreateAdd(boff, load_i64(offA_k_, min64(b_.CreateAdd(kk, c64(8)), b_.CreateSub(K_, c64(1))))));
        loop("pa.s", c64(0), strips, c64(1), [&](Value *s) {
            Value *m0 = b_.CreateAdd(ic, b_.CreateMul(s, c64(mr)));
            Value *dst = gep(elem(), ap_, b_.CreateAdd(b_.CreateMul(s, b_.CreateMul(K_, c64(mr))), b_.CreateMul(kk, c64(mr))));
            for (int c = 0; c < chunks; ++c) {
                Value *first = b_.CreateAdd(m0, c64(c * w));
                Value *in_tile = b_.CreateICmpSLT(b_.CreateAdd(splat(c64(c * w)), iota()), splat(c64(mr)));
                Value *mask = b_.CreateAnd(in_tile, b_.CreateICmpSLT(b_.CreateAdd(splat(first), iota()), splat(M_)));
                Value *rows = b_.CreateAlignedLoad(ivec(), gep(i64(), offA_m_, first), llvm::Align(8));
                Value *zero = llvm::Constant::getNullValue(stored_vec(a_type_));
                for (int lane : {0, static_cast<int>(w) - 1})
                    b_.CreateIntrinsic(llvm::Intrinsic::prefetch, {ptr()},
                                       {gep(at, ahead, b_.CreateExtractElement(rows, uint64_t(lane))), b_.getInt32(0),
                                        b_.getInt32(3), b_.getInt32(1)});
                Value *val = b_.CreateMaskedGather(stored_vec(a_type_), gep(at, col, rows), ael, mask, zero);
                b_.CreateMaskedStore(to_acc(val, a_type_), gep(elem(), dst, c64(c * w)), el, in_tile);
            }
        });
    });
}

/** One MR x NR tile: K steps of (NRV vector loads of B, MR broadcasts of A, MR x NRV FMAs), the
 * accumulators in registers throughout; then the epilogue, row by row and vector by vector. */
void GemmPrinter::micro_kernel(Value *ap, Value *bp, Value *m0, Value *n0) {
    const int64_t mr = tile_.mr, nr = tile_.nr(), w = tile_.w;
    llvm::Align vec_align(std::min<int64_t>(64, w * esize()));
    for (auto *a : acc_) b_.CreateStore(llvm::Constant::getNullValue(vec()), a);
    loop("k", c64(0), K_, c64(1), [&](Value *kk) {
        std::vector<Value *> bv;
        Value *brow = gep(elem(), bp, b_.CreateMul(kk, c64(nr)));
        for (int v = 0; v < tile_.nrv; ++v)
            bv.push_back(b_.CreateAlignedLoad(vec(), gep(elem(), brow, c64(v * w)), vec_align));
        Value *arow = gep(elem(), ap, b_.CreateMul(kk, c64(mr)));
        for (int r = 0; r < mr; ++r) {
            Value *a = splat(b_.CreateLoad(elem(), gep(elem(), arow, c64(r))));
            for (int v = 0; v < tile_.nrv; ++v) {
                llvm::AllocaInst *slot = acc_[r * tile_.nrv + v];
                Value *acc = b_.CreateLoad(vec(), slot);
                b_.CreateStore(b_.CreateIntrinsic(llvm::Intrinsic::fmuladd, {vec()}, {a, bv[v], acc}), slot);
            }
        }
    });
    // The finished tile goes to a stack buffer so that one copy of the epilogue serves every row.
    for (int r = 0; r < mr; ++r)
        for (int v = 0; v < tile_.nrv; ++v)
            b_.CreateAlignedStore(b_.CreateLoad(vec(), acc_[r * tile_.nrv + v]),
                                  gep(elem(), tile_buf_, c64(r * nr + v * w)), vec_align);
    Value *rows = min64(c64(mr), b_.CreateSub(M_, m0));
    loop("er", c64(0), rows, c64(1), [&](Value *r) {
        Value *m = b_.CreateAdd(m0, r);
        for (const auto &v : g_.m) lane_vars_[v] = load_i64(index_tables_.at(v), m);
        loop("ev", c64(0), c64(tile_.nrv), c64(1), [&](Value *v) {
            Value *nv = b_.CreateAdd(n0, b_.CreateMul(v, c64(w)));
            when(b_.CreateICmpSLT(nv, N_), [&] {
                for (const auto &var : g_.n)
                    lane_vars_[var] = b_.CreateAlignedLoad(ivec(), gep(i64(), index_tables_.at(var), nv), llvm::Align(8));
                lane_mask_ = b_.CreateICmpSLT(b_.CreateAdd(splat(nv), iota()), splat(N_));
                Value *at = b_.CreateAdd(b_.CreateMul(r, c64(nr)), b_.CreateMul(v, c64(w)));
                scalars_.clear();
                scalars_[parts_.acc] = b_.CreateAlignedLoad(vec(), gep(elem(), tile_buf_, at), llvm::Align(esize()));
                for (const auto &s : parts_.epilogue) stmt(s);
            });
        });
    });
}

/** Arithmetic through ScalarOps' print_arith, as the loop nest's printer; the leaves here:
 * scalars (acc, the epilogue's own), and tensor reads, masked at the edge of N. */
Value *GemmPrinter::expr(const ir::Expr &e) {
    EINFUSE_ASSERT(e.defined(), "undefined expression in kernel " + k_.name);
    return print_arith(b_, e, static_cast<unsigned>(tile_.w), [&](const ir::Expr &x) { return leaf(x); }, k_.name);
}

Value *GemmPrinter::leaf(const ir::Expr &e) {
    if (const auto *r = e.as<ir::ScalarRef>()) {
        auto it = scalars_.find(r->name);
        EINFUSE_ASSERT(it != scalars_.end(), "scalar '" + r->name + "' is used before its declaration in " + k_.name);
        return it->second;
    }
    if (const auto *a = e.as<ir::Access>()) {
        int p = param(a->tensor);
        llvm::Type *t = lowered_type(ctx_, a->type);
        Value *off = offset_of(p, ir::expect_vars(a->tensor, a->indices));
        if (!off->getType()->isVectorTy()) return b_.CreateLoad(t, gep(t, data_[p], off), a->tensor);
        auto *vt = llvm::FixedVectorType::get(t, tile_.w);
        llvm::Align el(dtype_size(a->type));
        Value *zero = llvm::Constant::getNullValue(vt);
        return either(
            unit_n_.at(key(a->tensor, ir::expect_vars(a->tensor, a->indices))),
            [&] { return b_.CreateMaskedLoad(vt, gep(t, data_[p], b_.CreateExtractElement(off, uint64_t(0))), el, lane_mask_, zero); },
            [&] { return b_.CreateMaskedGather(vt, gep(t, data_[p], off), el, lane_mask_, zero); });
    }
    throw InternalError("kernel " + k_.name + ": the packed GEMM's epilogue holds an expression it cannot print");
}

void GemmPrinter::stmt(const ir::Stmt &s) {
    if (const auto *blk = s.as<ir::Block>()) {
        for (const auto &x : blk->stmts) stmt(x);
    } else if (const auto *d = s.as<ir::DeclareScalar>()) {
        scalars_[d->name] = expr(d->init);
    } else if (const auto *a = s.as<ir::AssignScalar>()) {
        scalars_[a->name] = expr(a->value);
    } else if (const auto *st = s.as<ir::Store>()) {
        int p = param(st->tensor);
        EINFUSE_ASSERT(p >= k_.num_inputs, "kernel " + k_.name + " stores to input '" + st->tensor + "'");
        EINFUSE_ASSERT(st->value.type() == k_.params[p].dtype, "store of another type to '" + st->tensor + "'");
        llvm::Type *t = lowered_type(ctx_, k_.params[p].dtype);
        llvm::Align el(dtype_size(k_.params[p].dtype));
        Value *v = widen(expr(st->value));
        Value *off = offset_of(p, ir::expect_vars(st->tensor, st->indices));
        // No n variable (N = 1): one lane is valid, and it goes to the one address.
        if (!off->getType()->isVectorTy()) return void(b_.CreateMaskedStore(v, gep(t, data_[p], off), el, lane_mask_));
        Value *unit = unit_n_.at(key(st->tensor, ir::expect_vars(st->tensor, st->indices)));
        when(unit, [&] { b_.CreateMaskedStore(v, gep(t, data_[p], b_.CreateExtractElement(off, uint64_t(0))), el, lane_mask_); });
        when(b_.CreateNot(unit), [&] { b_.CreateMaskedScatter(v, gep(t, data_[p], off), el, lane_mask_); });
    } else {
        throw InternalError("kernel " + k_.name + ": the packed GEMM's epilogue holds a loop");
    }
}

} // namespace

int64_t gemm_parallel_extent(const ir::Kernel &k, const std::vector<int64_t> &extents) {
    EINFUSE_ASSERT(k.gemm.has_value(), "kernel " + k.name + " has no GEMM");
    int64_t n = 1;
    for (const auto *grp : {&k.gemm->batch, &k.gemm->m})
        for (const auto &v : *grp) n *= extents.at(static_cast<std::size_t>(k.var_index(v)));
    return n;
}

void emit_gemm_kernel(const ir::Kernel &k, const HostTarget &target, llvm::Module &m) {
    // The passes chose the packed GEMM (passes/HostGemm): check that this printer can do it.
    std::string why;
    auto parts = passes::packed_gemm_parts(k, &why);
    EINFUSE_ASSERT(parts.has_value(), "kernel " + k.name + " is not a packed GEMM: " + why);
    EINFUSE_ASSERT(k.gemm->host_vector_bits >= 128 && k.gemm->host_vector_bits <= target.vector_bits,
                   "kernel " + k.name + " was planned for " + std::to_string(k.gemm->host_vector_bits) +
                       "-bit vectors; this CPU has " + std::to_string(target.vector_bits));
    EINFUSE_ASSERT(k.gemm->host_a_block_bytes > 0, "kernel " + k.name + " has no A block size (passes/HostGemm sets it)");
    EINFUSE_ASSERT(!m.getFunction(k.name), "two kernels are named '" + k.name + "'");
    GemmPrinter(k, target, m, std::move(*parts)).emit();
}

} // namespace einfuse::llvm_backend
