#pragma once
// Random valid index-notation programs (docs/language.md, "Form 2") and the differential check that
// runs each through a target against the float64 reference. Longer than a header should be: it is
// the one thing the host and GPU differential tests share.
//
// The generator keeps a model of every case (each variable's size, each tensor's variables, a bound
// on every value's magnitude, which values are computed exactly in every type), so that it only
// writes programs whose results are well conditioned: the tolerance stays the product's own,
// tolerance(dtype, reduction_length + 16), and a mismatch is a bug rather than noise. How:
// - every operand of a non-linear function, product or power is first brought to |x| <= 2
//   (tanh(x) or x / 2^k; dividing by a power of two is exact), so no function amplifies the
//   rounding of its argument by more than ~e^2, and no sum adds terms much larger than its result's
//   floor of 1 (max_relative_error divides by max(|reference|, 1)): no catastrophic cancellation;
// - sums are divided by a power of two at least their length, so later statements read bounded
//   values;
// - functions stay in their domains with bounded slopes: log(abs(x) + 1), sqrt(abs(x) + 1),
//   rsqrt(abs(x) + 1), exp of |x| <= 1.5, divisions by (1 + x^2), (2 + sin x), (abs(x) + 1), 4;
//   powers of bases >= 0.5; prod[j](1 + x/8) over at most 6 terms;
// - discontinuous operations (comparisons, floor, ceil, sign, where's condition, sqrt(abs(x))) only
//   see values every type computes exactly: input elements, dyadic literals, 4*x, abs, negation,
//   max/min of those. A comparison of two rounded sums could flip and differ by 1 legitimately.
// Integer programs (integer inputs, only + - * comparisons abs relu sign max min where and the
// reductions) are exact and compared exactly; their magnitudes stay under 1e6.
#include "EinsumGenerator.h"

#include <set>

namespace einfuse::test {

/** One generated program with everything needed to run and reproduce it. */
struct GeneratedProgram {
    std::string source;
    std::map<std::string, DType> dtypes; // every input
    std::map<std::string, Shape> shapes; // every input
    ir::Extents extents;                 // every variable
    ir::Extents dims;                    // the variables no input uses, given as --dims would be
    std::vector<std::string> outputs;    // passed to CompiledProgram; empty: the default
    std::vector<std::string> expected;   // what it returns, sorted
    std::map<std::string, Shape> defined_shapes;
    DType out_dtype = DType::F32;
    bool integer = false; // an integer-only program
    int threads = 1;

    std::string describe() const {
        std::ostringstream s;
        auto list = [&](const Shape &v) {
            s << "(";
            for (std::size_t d = 0; d < v.size(); ++d) s << (d ? "," : "") << v[d];
            s << (v.size() == 1 ? ",)" : ")");
        };
        s << "program (threads=" << threads << ", outputs=";
        for (const auto &o : outputs) s << o << " ";
        s << (outputs.empty() ? "default" : "") << "):\n" << source << "\n  sizes:";
        for (const auto &[v, e] : extents) s << " " << v << "=" << e;
        for (const auto &[name, shape] : shapes) {
            s << "\n  input " << name << ": " << dtype_name(dtypes.at(name)) << " ";
            list(shape);
        }
        return s.str();
    }
};

namespace progen {

/** An expression written so far: its text, how tightly it binds, a bound on |value|, whether
 * every type computes it exactly, and its variables not bound inside it. */
struct Expr {
    std::string text;
    int level = 5; // 0 comparison, 1 + -, 2 * /, 3 unary -, 4 ^, 5 primary
    double mag = 1;
    bool exact = false;
    std::set<std::string> vars;
};

struct TensorModel {
    std::vector<std::string> vars;
    double mag = 1;
    bool input = false;
    bool exact = false;
};

class Generator {
public:
    explicit Generator(std::mt19937_64 &rng) : rng_(rng) {}
    GeneratedProgram generate();

private:
    struct State { // what a statement may change: rolled back when it is drawn again
        std::map<std::string, TensorModel> tensors;
        std::vector<std::string> order; // inputs by first use
        std::map<std::string, DType> dtypes;
        std::set<std::string> input_vars, used_vars;
        bool needs_float = false;
    };
    int pick(int lo, int hi) { return gen::pick(rng_, lo, hi); }
    bool chance(double p) { return gen::chance(rng_, p); }
    std::string sp() { return chance(0.2) ? " " : ""; }
    static Expr paren(Expr e, int need) {
        if (e.level < need) e.text = "(" + e.text + ")", e.level = 5;
        return e;
    }
    Expr fit(Expr e, double limit);
    std::string index_list(const std::vector<std::string> &vars);
    int64_t elements(const std::vector<std::string> &vars) const;
    DType input_dtype();
    Expr read_input();
    bool read_defined(Expr &out);
    Expr literal(bool exact_only);
    Expr leaf();
    Expr exact_expr(int depth);
    Expr expr(int depth);
    Expr reduction(int depth);
    Expr binary(const Expr &a, const std::string &op, const Expr &b, int level, double mag);
    Expr call(const std::string &f, const std::vector<Expr> &args, double mag, bool exact);
    bool statement(std::string &text, int index);

    std::mt19937_64 &rng_;
    bool integer_ = false;
    int dtype_policy_ = 0;
    DType one_dtype_ = DType::F32;
    std::map<std::string, int64_t> size_;
    std::vector<std::string> pool_, input_names_, defined_names_;
    State st_;
    std::vector<std::set<std::string>> reads_; // per statement
    std::vector<std::string> defines_;         // per statement
    // The statement being drawn: its variables in scope and those left for reductions.
    std::vector<std::string> visible_, spare_;
    std::set<std::string> statement_vars_, statement_reads_;
};

} // namespace progen

GeneratedProgram random_program(std::mt19937_64 &rng);
void run_program_differential(Target target, uint64_t default_cases);

} // namespace einfuse::test

#include "ProgramGeneratorImpl.h"
