#pragma once
// Launch rules as data: a small integer expression over a launch's facts (index sizes, tensor
// strides and addresses, device facts) that the in-process executor evaluates and the CUDA
// backend prints as C into the standalone launcher, so the two cannot disagree (tinygrad keeps
// launch dimensions the same way). A kernel's variants and their guards are in LaunchVariant.h.
//
// "bij,bjk->bik" with staging: guard dense(in0) && dense(in1) && size(i) == 2 && ..., grid
// min(ceil_div(size(b), 256), 524280); evaluate() gives 1 and 1024 at b=262144 with dense inputs,
// print_c() gives the C the launcher tests.
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace einfuse::ir {

enum class SizeOp {
    Const, Size, Stride, Aligned, Dense, Device, Named, // leaves (Named: a value the printed code holds in a local)
    Add, Sub, Mul, Div, CeilDiv, Min, Max,              // integers; Div truncates, as C does
    Lt, Le, Gt, Ge, Eq, Ne, And, Or,                    // 1 or 0
    Select,                                             // c ? a : b, only the taken side evaluated
};

/** What a launch knows: sizes by index variable, strides (in elements) and data addresses by
 * tensor, device facts by name ("sm_count"). A fact an expression needs and lacks is an
 * InternalError. */
struct LaunchFacts {
    std::map<std::string, int64_t> sizes;
    std::map<std::string, std::vector<int64_t>> strides;
    std::map<std::string, std::uint64_t> addresses;
    std::map<std::string, int64_t> device;
};

/** How the printed C names each fact (the CUDA launcher: sizes[2], inputs[0].strides[1], ...). */
class LaunchNames {
  public:
    virtual ~LaunchNames() = default;
    virtual std::string size(const std::string &var) const = 0;
    virtual std::string stride(const std::string &tensor, int dim) const = 0;
    virtual std::string address(const std::string &tensor) const = 0; // a pointer or integer
    /** A C condition: the tensor is dense row-major in the sizes of `dims`, its index variables. */
    virtual std::string dense(const std::string &tensor, const std::vector<std::string> &dims) const = 0;
    virtual std::string device(const std::string &fact) const = 0;
};

/** An immutable expression node; copies share it. Factories check their invariants (a known
 * operator, no null operand, a positive power-of-two alignment, no division by a constant 0)
 * and fold constant operands, so printing is stable and `1 && x` prints as `x`. */
class SizeExpr {
  public:
    SizeExpr() = default; // null: only as a placeholder before assignment
    static SizeExpr constant(int64_t v);
    static SizeExpr size(const std::string &var);
    static SizeExpr stride(const std::string &tensor, int dim);
    static SizeExpr aligned(const std::string &tensor, int64_t bytes);
    /** Rank 0 (no dims) is constant 1. */
    static SizeExpr dense(const std::string &tensor, const std::vector<std::string> &dims);
    static SizeExpr device(const std::string &fact);
    static SizeExpr named(const std::string &local, const SizeExpr &value);
    static SizeExpr make(SizeOp op, const SizeExpr &a, const SizeExpr &b);
    static SizeExpr select(const SizeExpr &c, const SizeExpr &a, const SizeExpr &b);

    int64_t evaluate(const LaunchFacts &facts) const;
    /** The value where `facts` decide it (0 && x is 0 without x), else nullopt: a rule over
     * strides or addresses, evaluated with sizes alone. */
    std::optional<int64_t> try_evaluate(const LaunchFacts &facts) const;
    /** The rule as a JSON tree, for hosts that evaluate it themselves: a number; ["size", "i"],
     * ["stride", "x", 0], ["aligned", "x", 16], ["dense", "x", ["i", "d"]] (row-major in those
     * sizes; a size-1 dimension may have any stride), ["device", "sm_count"]; [op, a, b] for
     * + - * / (truncating) ceil_div min max < <= > >= == != && || (1 or 0); ["?:", c, a, b]. A
     * named value is written out in place. */
    std::string to_json() const;
    /** C text; operands parenthesised only where C's precedence needs it (and && inside ||). */
    std::string print_c(const LaunchNames &names) const;
    /** Plain text with the facts written as size(b), stride(x,0), aligned(a,16): tests, plans. */
    std::string to_string() const;

    bool defined() const { return node_ != nullptr; }
    SizeOp op() const;
    /** Whether it is a constant, and which. */
    bool is_const(int64_t *value = nullptr) const;
    /** Whether it or any operand is an `op` node (no std::function here: this header reaches
     * every user of ir/Kernel.h, and <functional> would bring std::bind into their ADL). */
    bool contains(SizeOp op) const;
    const std::string &name() const; // Size: the variable; Stride, Aligned, Dense: the tensor; Device, Named
    /** The same with every named value written out in place (Named nodes replaced by their
     * values): text for readers who do not see the printed locals. */
    SizeExpr inlined() const;
    /** A Named value's expression; any other node itself (a printer declaring the local prints this). */
    SizeExpr unnamed() const;

    struct Node;

  private:
    explicit SizeExpr(std::shared_ptr<const Node> n) : node_(std::move(n)) {}
    std::string print(const LaunchNames &names, bool c) const; // c: C, else to_string's text
    std::shared_ptr<const Node> node_;
};

SizeExpr operator+(const SizeExpr &a, const SizeExpr &b);
SizeExpr operator-(const SizeExpr &a, const SizeExpr &b);
SizeExpr operator*(const SizeExpr &a, const SizeExpr &b);
SizeExpr operator/(const SizeExpr &a, const SizeExpr &b);
SizeExpr operator&&(const SizeExpr &a, const SizeExpr &b);
SizeExpr operator||(const SizeExpr &a, const SizeExpr &b);
SizeExpr ceil_div(const SizeExpr &a, const SizeExpr &b);
SizeExpr min(const SizeExpr &a, const SizeExpr &b);
SizeExpr max(const SizeExpr &a, const SizeExpr &b);
SizeExpr compare(SizeOp op, const SizeExpr &a, const SizeExpr &b); // Lt .. Ne
inline SizeExpr lit(int64_t v) { return SizeExpr::constant(v); }

} // namespace einfuse::ir
