#pragma once
// The loop-nest printer behind emit_kernel (CodeGen.h). Internal to backends/llvm/, and to its two
// files: CodeGen.cpp prints the functions, loops, statements and tensor accesses; LaneLoops.cpp
// the loops it vectorises by hand (lanes across a parallel loop, or along a sum).
#include "backends/llvm/CodeGen.h"
#include "backends/llvm/TypeLowering.h"
#include "ir/Kernel.h"

#include <llvm/IR/DerivedTypes.h>
#include <llvm/IR/IRBuilder.h>

#include <map>
#include <string>
#include <vector>

namespace einfuse::llvm_backend {

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
    KernelPrinter(const ir::Kernel &k, const HostTarget &target, llvm::Module &m);
    void emit();

  private:
    using Value = llvm::Value;

    struct Scalar {
        llvm::AllocaInst *slot = nullptr;
        DType type = DType::F32;
        llvm::Type *llvm_type = nullptr; // the element type, or a vector of it in a lane loop
    };

    /** One output of a group that runs through one loop along the sum: the scalars its
     * statements before the loop declared, and the value of the rows' variable (null: the loop
     * variables in scope as they are). */
    struct Row {
        std::map<std::string, Scalar> scope;
        Value *value = nullptr;
    };

    llvm::Type *i64() { return b_.getInt64Ty(); }
    llvm::Type *ptr() { return b_.getPtrTy(); }

    llvm::Type *element_type(DType t) { return lowered_type(ctx_, t); }

    llvm::Type *vector_of(DType t) { return llvm::FixedVectorType::get(element_type(t), lanes_); }
    Value *widen(Value *v) { return v->getType()->isVectorTy() ? v : b_.CreateVectorSplat(lanes_, v); }
    Value *all_lanes() { return llvm::ConstantInt::getTrue(llvm::FixedVectorType::get(b_.getInt1Ty(), lanes_)); }
    static llvm::Align align(DType t) { return llvm::Align(dtype_size(t)); }

    // Functions, loops, statements, tensor accesses (CodeGen.cpp).
    void add_attributes(llvm::Function *f);
    static void read_only_pointer(llvm::Function *f, unsigned arg);
    llvm::Function *print_body(bool contiguous);
    void print_entry(llvm::Function *general, llvm::Function *contiguous);
    bool has_fixed_extents() const;
    std::vector<std::vector<Value *>> row_major_strides();
    void load_arguments(llvm::Function *f, bool contiguous);
    void load_arguments_from(Value *strides, Value *extents, bool contiguous);
    Value *extent(const std::string &var);
    void print_stmt(const ir::Stmt &s);
    void print(const ir::For &f);
    void print(const ir::Block &blk);
    void print(const ir::Store &s);
    void print(const ir::DeclareScalar &d);
    void print(const ir::AssignScalar &a);
    void print_loop(const ir::For &f, Value *lo, Value *hi, bool vector_part = true);
    Value *print_expr(const ir::Expr &e);
    Value *print_leaf(const ir::Expr &e);
    int param(const std::string &tensor);
    Value *address(int p, const std::vector<ir::Index> &indices);
    template <class Access> Value *lane_access(int p, const std::vector<ir::Index> &indices, Access access);
    Value *first_lane_address(int p, const std::vector<ir::Index> &indices);
    const Scalar &scalar(const std::string &name);

    // Lane loops (LaneLoops.cpp).
    bool is_lane_loop(const ir::For &f) const;
    bool unrolled_outside_reductions(const ir::Stmt &s, bool in_serial) const;
    Value *print_lane_loop(const ir::For &f, Value *lo, Value *hi, unsigned registers);
    Value *whole_lanes_end(Value *lo, Value *hi, Value *use);
    llvm::PHINode *begin_lanes(const ir::For &f, Value *lo, llvm::BasicBlock *pre);
    void end_lanes(const ir::For &f, llvm::PHINode *iv, Value *vector_end, llvm::BasicBlock *loop,
                   llvm::BasicBlock *after);
    const ir::HostVectors::ReductionLanes *reduction_lanes() const;
    unsigned lanes_per_register() const;
    template <class F> void in_row(const ir::HostVectors::ReductionLanes &sum, Row &r, F f);
    Value *print_sum_lanes(const ir::For &f, const ir::HostVectors::ReductionLanes &sum, Value *lo, Value *hi,
                           unsigned registers, std::vector<Row> &rows);
    void add_to_running_sum(const ir::HostVectors::ReductionLanes &sum, Value *s, Value *c);
    void kahan_step(Value *acc_slot, Value *c_slot, llvm::Type *type, Value *term, Value *owed);
    ir::Expr sum_term(const ir::For &f, const ir::HostVectors::ReductionLanes &sum) const;
    Value *lanes_of(Value *v, unsigned from, unsigned n);
    Value *print_sum_rows(const ir::For &pf, const ir::HostVectors::ReductionLanes &sum, Value *lo, Value *hi);
    int lane_dim(const std::vector<ir::Index> &indices) const;
    bool read_whole(const std::string &t) const;
    int deinterleave_stride(const std::string &t) const;
    Value *deinterleaved_read(int p, const std::vector<ir::Index> &indices, int stride);
    Value *lanes_contiguous(const ir::For &f);
    Value *finite_or_zero(Value *t, Value *err);
    void fold_rows(std::vector<Value *> &s, std::vector<Value *> &c);

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

} // namespace einfuse::llvm_backend
