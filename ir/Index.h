#pragma once
// Index expressions: what selects one dimension of a tensor in an Access or a Store. An index
// is affine today: integer multiples of index variables plus a constant, such as `i`, `h + r`,
// `2*h + r - 1` or `3`. Frontends still produce plain variables only; the IR, its printer,
// verifier and reference interpreter, and the backends' address arithmetic take any affine index.
// A gather (an index read from an integer tensor, A[idx[i], j]) is meant to be one more
// IndexKind holding an Expr; see element_offset for the one place that turns indices into an
// address.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace einfuse::ir {

/** coeff * var: one term of an affine index. */
struct IndexTerm {
    std::string var;
    int64_t coeff = 1;
    bool operator==(const IndexTerm &o) const { return var == o.var && coeff == o.coeff; }
};

enum class IndexKind { Affine };

/** sum of terms + constant. Kept normalised: one term per variable, in order of first
 * appearance, no zero coefficient; so two equal indices compare equal. */
class Index {
public:
    /** The plain variable `var` ("i"). Implicit, so that a variable name is an index. */
    Index(std::string var);
    Index(const char *var) : Index(std::string(var)) {}
    static Index constant(int64_t value);
    static Index affine(std::vector<IndexTerm> terms, int64_t constant);

    IndexKind kind() const { return IndexKind::Affine; }
    const std::vector<IndexTerm> &terms() const { return terms_; }
    int64_t constant() const { return constant_; }
    /** The variable's name when the index is a plain variable (`i`; not `2*i`, `i + 1` or `3`),
     * else null. */
    const std::string *as_var() const;
    /** The variables it uses, in order. */
    std::vector<std::string> vars() const;
    /** Its value, given each variable's value by value_of(name). */
    template <class F> int64_t evaluate(F &&value_of) const {
        int64_t v = constant_;
        for (const auto &t : terms_) v += t.coeff * static_cast<int64_t>(value_of(t.var));
        return v;
    }
    /** The same index with variables renamed (those not in `to` stay). */
    Index renamed(const std::map<std::string, std::string> &to) const;

    bool operator==(const Index &o) const { return terms_ == o.terms_ && constant_ == o.constant_; }
    bool operator!=(const Index &o) const { return !(*this == o); }

private:
    Index() = default;
    std::vector<IndexTerm> terms_;
    int64_t constant_ = 0;
};

/** "i", "h + r", "2*h + r - 1", "-i + 3", "0". */
std::string to_string(const Index &i);
/** The indices joined by `sep`: "b,i,j". */
std::string to_string(const std::vector<Index> &indices, const char *sep = ",");
std::vector<Index> to_indices(const std::vector<std::string> &vars);

/** The variable names, when every index is a plain variable; otherwise nothing, and *why_not
 * (when given) says which is not: "x's index h + r is not a plain variable". */
std::optional<std::vector<std::string>> plain_vars(const std::string &tensor, const std::vector<Index> &indices,
                                                   std::string *why_not = nullptr);

/** The variable names of indices that a pass has already checked to be plain variables (a GEMM's
 * operands); an index that is not one is an internal error naming `tensor`. */
std::vector<std::string> expect_vars(const std::string &tensor, const std::vector<Index> &indices);

/** The smallest and largest value of `index` over the box 0 <= v < extents[v] of its variables;
 * nothing when some variable has extent 0 (then it is never evaluated). */
std::optional<std::pair<int64_t, int64_t>> index_range(const Index &index, const std::map<std::string, int64_t> &extents);

/** Why reading dimension `dim` (of size `size`) of `tensor` with a non-variable `index` could
 * leave the tensor ("x's index i + r reaches 9 in dimension 0 of size 9"), or "" when every value
 * it takes lies in [0, size). */
std::string index_out_of_range(const std::string &tensor, int dim, const Index &index, int64_t size,
                               const std::map<std::string, int64_t> &extents);

/** One term of an element's offset: coeff * var * stride(dim), or coeff * stride(dim) when var is
 * empty. */
struct OffsetTerm {
    int dim;
    int64_t coeff;
    std::string var;
};

/** Where element [indices] of a tensor lies, counted in elements from its start: the sum over
 * dimensions d of stride(d) * indices[d] (TACO's rule), expanded into terms, dimension by
 * dimension, variables before the constant. x[i, j] is i*s0 + j*s1; x[2*h + r - 1] is
 * 2*h*s0 + r*s0 - 1*s0. The reference interpreter, the CUDA printer and the LLVM code generator
 * all compute an access from these terms. */
std::vector<OffsetTerm> element_offset(const std::vector<Index> &indices);

/** Whether `var` alone, with coefficient 1, indexes the last dimension: in a row-major tensor,
 * consecutive values of var are then consecutive elements (x[i, j] along j; not x[i, 2*j]). */
bool indexes_last_alone(const std::vector<Index> &indices, const std::string &var);

} // namespace einfuse::ir
