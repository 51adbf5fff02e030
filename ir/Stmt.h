#pragma once
// Loop IR: the statements a loop nest is built from. Backends print these; they never decide.
// "bij,bjk->bik" becomes
//   parallel for b, i, k { acc = 0; for j { acc = acc + in0[b,i,j] * in1[b,j,k] } out[b,i,k] = acc }
#include "ir/Expr.h"

#include <cstdint>

namespace einfuse::ir {

#define EINFUSE_STMT_NODES(X) X(For) X(Block) X(Store) X(DeclareScalar) X(AssignScalar)

enum class StmtKind {
#define EINFUSE_ENUM(N) N,
    EINFUSE_STMT_NODES(EINFUSE_ENUM)
#undef EINFUSE_ENUM
};

struct StmtBase {
    explicit StmtBase(StmtKind k) : kind(k) {}
    virtual ~StmtBase() = default;
    const StmtKind kind;
};

class Stmt {
public:
    Stmt() = default;
    explicit Stmt(std::shared_ptr<const StmtBase> node) : node_(std::move(node)) {}
    bool defined() const { return node_ != nullptr; }
    StmtKind kind() const { return node_->kind; }
    const StmtBase *get() const { return node_.get(); }
    bool same_as(const Stmt &other) const { return node_ == other.node_; }
    template <class T> const T *as() const {
        return node_ && node_->kind == T::kKind ? static_cast<const T *>(node_.get()) : nullptr;
    }

private:
    std::shared_ptr<const StmtBase> node_;
};

/** How a loop's iterations are spread. Parallel loops are independent: the CUDA backend maps
 * them to threads, the host backend splits the outermost one across workers. Unrolled loops
 * run in one thread over a trip count fixed when the kernel is compiled (For::fixed_extent), so
 * backends may unroll them fully and keep their values in registers. */
enum class LoopKind { Serial, Parallel, Unrolled };

/** for var in [0, extent(var)) { body }. The extent is the index variable's size, a kernel
 * argument; an Unrolled loop also knows it when compiled (fixed_extent), and the kernel is valid
 * only for that size. */
struct For : StmtBase {
    static constexpr StmtKind kKind = StmtKind::For;
    For(std::string v, LoopKind k, Stmt b, int64_t fixed)
        : StmtBase(kKind), var(std::move(v)), loop_kind(k), body(std::move(b)), fixed_extent(fixed) {}
    /** fixed_extent >= 0 exactly when kind is Unrolled. */
    static Stmt make(std::string var, LoopKind kind, Stmt body, int64_t fixed_extent = -1);
    const std::string var;
    const LoopKind loop_kind;
    const Stmt body;
    const int64_t fixed_extent;
};

struct Block : StmtBase {
    static constexpr StmtKind kKind = StmtKind::Block;
    explicit Block(std::vector<Stmt> s) : StmtBase(kKind), stmts(std::move(s)) {}
    static Stmt make(std::vector<Stmt> stmts);
    const std::vector<Stmt> stmts;
};

/** tensor[indices] = value: the only write to memory. The lowering stores at plain variables
 * (a definition's indices); the indices are index expressions so that an address is computed
 * the same way for a read and a write (element_offset). */
struct Store : StmtBase {
    static constexpr StmtKind kKind = StmtKind::Store;
    Store(std::string t, std::vector<Index> idx, Expr v)
        : StmtBase(kKind), tensor(std::move(t)), indices(std::move(idx)), value(std::move(v)) {}
    static Stmt make(std::string tensor, std::vector<Index> indices, Expr value);
    template <class V, std::enable_if_t<std::is_same_v<std::decay_t<V>, std::vector<std::string>>, int> = 0>
    static Stmt make(std::string tensor, V &&vars, Expr value) {
        return make(std::move(tensor), to_indices(vars), std::move(value));
    }
    const std::string tensor;
    const std::vector<Index> indices;
    const Expr value;
};

/** A register scalar `name` of `type`, set to init; visible to the statements after it in the
 * enclosing block. */
struct DeclareScalar : StmtBase {
    static constexpr StmtKind kKind = StmtKind::DeclareScalar;
    DeclareScalar(std::string n, DType t, Expr i) : StmtBase(kKind), name(std::move(n)), type(t), init(std::move(i)) {}
    static Stmt make(std::string name, DType type, Expr init);
    const std::string name;
    const DType type;
    const Expr init;
};

/** name = value, for a scalar declared earlier. */
struct AssignScalar : StmtBase {
    static constexpr StmtKind kKind = StmtKind::AssignScalar;
    AssignScalar(std::string n, Expr v) : StmtBase(kKind), name(std::move(n)), value(std::move(v)) {}
    static Stmt make(std::string name, Expr value);
    const std::string name;
    const Expr value;
};

template <class F> decltype(auto) visit(const Stmt &s, F &&f) {
    switch (s.kind()) {
#define EINFUSE_CASE(N)                                                                            \
    case StmtKind::N:                                                                              \
        return f(*static_cast<const N *>(s.get()));
        EINFUSE_STMT_NODES(EINFUSE_CASE)
#undef EINFUSE_CASE
    }
    return f(*static_cast<const Block *>(s.get())); // unreachable
}

} // namespace einfuse::ir
