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
    Expr reduction(int depth, bool exact_body);
    Expr expr_compare(int depth);
    Expr division(int depth);
    Expr power(int depth);
    Expr function(int depth);
    Expr binary(const Expr &a, const std::string &op, const Expr &b, int level, double mag);
    Expr call(const std::string &f, const std::vector<Expr> &args, double mag, bool exact);
    bool statement(std::string &text);

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

namespace progen {

struct Retry {}; // the statement being drawn broke a limit: draw it again

inline std::string join(const std::vector<std::string> &v, const std::string &sep) {
    std::string s;
    for (std::size_t k = 0; k < v.size(); ++k) s += (k ? sep : "") + v[k];
    return s;
}

inline std::string power_of_two_at_least(double x, double &k) {
    k = 2;
    while (k < x) k *= 2;
    return std::to_string(static_cast<long long>(k));
}

inline Expr Generator::binary(const Expr &a, const std::string &op, const Expr &b, int level, double mag) {
    // Left-associative: the right operand must bind tighter; a comparison does not chain.
    Expr l = paren(a, level == 0 ? 1 : level), r = paren(b, level + 1);
    Expr e{l.text + " " + op + " " + r.text, level, mag, false, l.vars};
    e.vars.insert(r.vars.begin(), r.vars.end());
    if (op == "/") st_.needs_float = true;
    return e;
}

inline Expr Generator::call(const std::string &f, const std::vector<Expr> &args, double mag, bool exact) {
    Expr e{f + "(", 5, mag, exact, {}};
    for (std::size_t k = 0; k < args.size(); ++k) {
        e.text += (k ? "," + sp() : "") + args[k].text;
        e.vars.insert(args[k].vars.begin(), args[k].vars.end());
    }
    e.text += ")";
    static const std::set<std::string> integer_functions = {"abs", "relu", "sign", "max", "min", "where"};
    if (!integer_functions.count(f)) st_.needs_float = true;
    return e;
}

/** e brought to |e| <= limit: tanh(e), or e / 2^k, which is exact. */
inline Expr Generator::fit(Expr e, double limit) {
    if (integer_ || e.mag <= limit) return e;
    if (chance(0.25)) return call("tanh", {e}, 1, false);
    double k = 0;
    std::string text = power_of_two_at_least(e.mag / limit, k);
    Expr r = binary(e, "/", Expr{text, 5, k, true, {}}, 2, e.mag / k);
    r.exact = e.exact;
    return r;
}

inline std::string Generator::index_list(const std::vector<std::string> &vars) {
    return "[" + join(vars, chance(0.3) ? ", " : ",") + "]";
}

inline int64_t Generator::elements(const std::vector<std::string> &vars) const {
    int64_t n = 1;
    for (const auto &v : vars) n *= size_.at(v);
    return n;
}

/** The integer types of integer programs: wrapping makes overflow exact on both sides (the
 * reference wraps exactly up to 32 bits). Not u64, whose wrapped differences (2^64 - k) the
 * float64 reference cannot hold exactly, nor bool, which has no minus. i32 twice: the common one. */
inline const std::vector<DType> kIntegerTypes = {DType::I32, DType::I32, DType::I64, DType::I8,
                                                 DType::I16, DType::U8,  DType::U16, DType::U32};

inline DType Generator::input_dtype() {
    if (dtype_policy_ == 0) return one_dtype_;
    if (integer_) return gen::any_of(rng_, kIntegerTypes);
    static const std::vector<DType> mixed = {DType::F32, DType::F32, DType::F64, DType::F16,
                                             DType::BF16, DType::I32, DType::I64};
    return gen::any_of(rng_, mixed);
}

/** A read of an input: one read before (its sizes matched by variables in scope) or a new one
 * over variables in scope, sometimes a diagonal. */
inline Expr Generator::read_input() {
    std::vector<std::string> chosen;
    std::string name;
    std::vector<std::string> known;
    for (const auto &[n, t] : st_.tensors)
        if (t.input) known.push_back(n);
    std::shuffle(known.begin(), known.end(), rng_);
    bool fresh = known.empty() || chance(0.4) || st_.tensors.size() >= input_names_.size();
    for (std::size_t k = 0; !fresh && k < known.size() && name.empty(); ++k) {
        chosen.clear();
        for (const auto &v : st_.tensors[known[k]].vars) {
            std::vector<std::string> same;
            for (const auto &w : visible_)
                if (size_.at(w) == size_.at(v)) same.push_back(w);
            if (same.empty()) break;
            chosen.push_back(std::find(same.begin(), same.end(), v) != same.end() && chance(0.6)
                                 ? v : gen::any_of(rng_, same));
        }
        if (chosen.size() == st_.tensors[known[k]].vars.size()) name = known[k];
    }
    if (name.empty()) {
        for (const auto &n : input_names_)
            if (!st_.tensors.count(n)) {
                name = n;
                break;
            }
        if (name.empty()) throw Retry{};
        std::vector<std::string> scope = visible_;
        std::shuffle(scope.begin(), scope.end(), rng_);
        int rank = std::min<int>(static_cast<int>(scope.size()), std::discrete_distribution<int>({8, 40, 40, 12})(rng_));
        chosen.assign(scope.begin(), scope.begin() + rank);
        if (rank >= 2 && chance(0.08)) chosen[1] = chosen[0]; // a diagonal
        while (elements(chosen) > 2000) chosen.pop_back();
        TensorModel t{chosen, 1, true, true};
        DType dtype = input_dtype();
        if (is_integer(dtype)) t.mag = 4; // fill_random: -4..4 (unsigned: 1..4)
        st_.tensors[name] = t;
        st_.dtypes[name] = dtype;
        st_.order.push_back(name);
    }
    st_.input_vars.insert(chosen.begin(), chosen.end());
    statement_vars_.insert(chosen.begin(), chosen.end());
    statement_reads_.insert(name);
    return Expr{name + index_list(chosen), 5, st_.tensors[name].mag, true, {chosen.begin(), chosen.end()}};
}

/** A read of a tensor an earlier statement defined, with variables in scope of its sizes: the
 * fusion pass inlines it or, read across a loop it does not index, materialises it. */
inline bool Generator::read_defined(Expr &out) {
    std::vector<std::string> names;
    for (const auto &[n, t] : st_.tensors)
        if (!t.input) names.push_back(n);
    std::shuffle(names.begin(), names.end(), rng_);
    for (const auto &name : names) {
        const TensorModel &t = st_.tensors[name];
        std::vector<std::string> chosen;
        for (const auto &v : t.vars) {
            std::vector<std::string> same;
            for (const auto &w : visible_)
                if (size_.at(w) == size_.at(v)) same.push_back(w);
            if (same.empty()) break;
            chosen.push_back(std::find(same.begin(), same.end(), v) != same.end() && chance(0.7)
                                 ? v : gen::any_of(rng_, same));
        }
        if (chosen.size() != t.vars.size()) continue;
        statement_vars_.insert(chosen.begin(), chosen.end());
        statement_reads_.insert(name);
        out = Expr{name + index_list(chosen), 5, t.mag, t.exact, {chosen.begin(), chosen.end()}};
        return true;
    }
    return false;
}

inline Expr Generator::literal(bool exact_only) {
    struct Lit {
        const char *text;
        double value;
        bool exact, integral;
    };
    static const std::vector<Lit> floats = {{"2", 2, true, true},      {"3", 3, true, true},
                                            {"0.5", .5, true, false},  {".25", .25, true, false},
                                            {"1.5", 1.5, true, false}, {"0.125", .125, true, false},
                                            {"1.", 1, true, true},     {"2.5e0", 2.5, true, false},
                                            {"0.3", .3, false, false}, {"1e-1", .1, false, false},
                                            {"0.7", .7, false, false}, {"4", 4, true, true}};
    static const std::vector<Lit> ints = {{"1", 1, true, true}, {"2", 2, true, true}, {"3", 3, true, true},
                                          {"0", 0, true, true}, {"2.0", 2, true, true}};
    Lit l = gen::any_of(rng_, integer_ ? ints : floats);
    while (exact_only && !l.exact) l = gen::any_of(rng_, floats);
    if (!l.integral) st_.needs_float = true;
    return Expr{l.text, 5, std::max(l.value, 1e-3), l.exact, {}};
}

inline Expr Generator::leaf() {
    Expr e;
    int k = pick(0, 99);
    if (k < 35 && read_defined(e)) return e;
    if (k < 88) return read_input();
    return literal(false);
}

/** A value every type computes exactly (float programs): what comparisons, floor, ceil, sign
 * and where's condition may look at. */
inline Expr Generator::exact_expr(int depth) {
    if (integer_) return expr(depth);
    switch (depth <= 0 ? 0 : pick(0, 9)) {
    case 1: return literal(true);
    case 2: {
        Expr x = read_input(), r = binary(Expr{"4", 5, 4, true, {}}, "*", x, 2, 4 * x.mag);
        r.exact = true; // times a power of two
        return r;
    }
    case 3: {
        Expr a = exact_expr(depth - 1);
        return call("abs", {a}, a.mag, true);
    }
    case 4: {
        Expr e = paren(exact_expr(depth - 1), 3);
        return Expr{"-" + e.text, 3, e.mag, true, e.vars};
    }
    case 5: {
        Expr a = exact_expr(depth - 1), b = exact_expr(depth - 1);
        return call(chance(0.5) ? "max" : "min", {a, b}, std::max(a.mag, b.mag), true);
    }
    case 6:
        if (!spare_.empty()) {
            Expr e = reduction(depth, true);
            if (e.exact) return e;
        }
        return read_input();
    default: return read_input();
    }
}

/** A reduction over fresh variables (never on the left, never used outside it, never reused in
 * the statement), its body using each of them. */
inline Expr Generator::reduction(int depth, bool exact_body) {
    std::vector<std::string> vars = spare_;
    std::shuffle(vars.begin(), vars.end(), rng_);
    static const std::vector<std::string> kinds = {"sum", "sum", "sum", "sum", "max", "max", "min", "min", "prod"};
    std::string kind = exact_body ? (chance(0.5) ? "max" : "min") : gen::any_of(rng_, kinds);
    if (kind == "prod") { // over at most 6 terms, so that the product stays near 1
        auto small = std::find_if(vars.begin(), vars.end(), [&](const std::string &v) { return size_.at(v) <= 6; });
        if (small == vars.end()) kind = "sum";
        else vars = {*small};
    }
    vars.resize(vars.size() >= 2 && kind != "prod" && chance(0.2) ? 2 : 1);
    for (const auto &v : vars) {
        spare_.erase(std::find(spare_.begin(), spare_.end(), v));
        visible_.push_back(v);
        statement_vars_.insert(v);
    }
    Expr body = exact_body ? exact_expr(depth - 1) : (kind == "prod" && integer_) ? read_input() : expr(depth - 1);
    for (const auto &v : vars) // a variable the body did not read: read it in an input
        if (!body.vars.count(v)) {
            std::vector<std::string> saved = visible_;
            visible_ = {v};
            if (chance(0.5))
                for (const auto &w : saved)
                    if (w != v && chance(0.3)) visible_.push_back(w);
            Expr x = read_input();
            visible_ = saved;
            if (!x.vars.count(v)) throw Retry{}; // a scalar read
            if (body.exact) body = call("max", {body, x}, std::max(body.mag, x.mag), true);
            else body = binary(body, "+", x, 1, body.mag + x.mag);
        }
    visible_.resize(visible_.size() - vars.size());
    int64_t n = elements(vars);
    double mag = body.mag;
    if (kind == "prod") {
        if (integer_) {
            mag = std::pow(body.mag, static_cast<double>(n));
        } else {
            body = binary(Expr{"1", 5, 1, true, {}}, "+", binary(fit(body, 2), "/", Expr{"8", 5, 8, true, {}}, 2, 0.25),
                          1, 1.25);
            mag = std::pow(1.25, static_cast<double>(n));
        }
    } else if (kind == "sum") {
        mag = body.mag * static_cast<double>(n);
    }
    if (mag > 1e6) throw Retry{}; // integers would overflow
    Expr e{kind + "[" + join(vars, ",") + "](" + body.text + ")", 5, mag, body.exact && kind != "sum" && kind != "prod",
           body.vars};
    for (const auto &v : vars) e.vars.erase(v);
    if (kind == "sum") e = fit(e, 2);
    return e;
}

inline Expr Generator::expr(int depth) {
    if (depth <= 0) return leaf();
    int d = depth - 1;
    int k = pick(0, integer_ ? 9 : 13);
    switch (k) {
    case 0:
    case 1: { // + -
        Expr a = fit(expr(d), 8), b = fit(expr(d), 8);
        return binary(a, chance(0.5) ? "+" : "-", b, 1, a.mag + b.mag);
    }
    case 2: { // *
        Expr a = fit(expr(d), 2), b = fit(expr(d), 2);
        if (a.mag * b.mag > 1e6) return binary(a, "+", b, 1, a.mag + b.mag);
        Expr e = binary(a, "*", b, 2, a.mag * b.mag);
        e.exact = integer_;
        return e;
    }
    case 3: { // unary minus
        Expr e = paren(expr(d), 3);
        return Expr{"-" + e.text, 3, e.mag, e.exact, e.vars};
    }
    case 4: { // a comparison of exact values
        return expr_compare(d);
    }
    case 5: { // where
        Expr c = chance(0.6) ? expr_compare(d) : exact_expr(d), a = expr(d), b = expr(d);
        return call("where", {c, a, b}, std::max(a.mag, b.mag), a.exact && b.exact);
    }
    case 6: { // max min
        Expr a = expr(d), b = expr(d);
        return call(chance(0.5) ? "max" : "min", {a, b}, std::max(a.mag, b.mag), a.exact && b.exact);
    }
    case 7: { // abs relu sign
        int f = pick(0, 2);
        Expr a = f == 2 ? exact_expr(d) : expr(d);
        return call(f == 0 ? "abs" : f == 1 ? "relu" : "sign", {a}, f == 2 ? 1 : a.mag, a.exact);
    }
    case 8:
    case 9:
        if (!spare_.empty()) return reduction(depth, false);
        return leaf();
    case 10: return division(d);
    case 11: return power(d);
    default: return function(d);
    }
}

inline Expr Generator::expr_compare(int d) {
    static const std::vector<std::string> ops = {"<", "<=", ">", ">=", "==", "!="};
    Expr e = binary(exact_expr(d), gen::any_of(rng_, ops), exact_expr(d), 0, 1);
    e.exact = true;
    return e;
}

/** Division by something at least 1 away from 0. */
inline Expr Generator::division(int d) {
    Expr a = fit(expr(d), 4), e;
    int kind = pick(0, 3);
    Expr b = kind < 3 ? fit(expr(d), 2) : Expr{};
    switch (kind) {
    case 0: e = Expr{"(1 + " + paren(b, 5).text + "^2)", 5, 1, false, b.vars}; break;
    case 1: e = Expr{"(2 + " + call("sin", {b}, 1, false).text + ")", 5, 1, false, b.vars}; break;
    case 2: e = Expr{"(abs(" + b.text + ") + 1)", 5, 1, false, b.vars}; break;
    default: e = Expr{chance(0.5) ? "4" : "3", 5, 3, true, {}}; break;
    }
    st_.needs_float = true;
    return binary(a, "/", e, 2, a.mag);
}

/** Powers of bases >= 0.5 (or small integer powers of bounded bases), right-associative. */
inline Expr Generator::power(int d) {
    st_.needs_float = true;
    int kind = pick(0, 6);
    if (kind == 6) { // 2^x
        Expr x = fit(expr(d), 1), e{"2^" + paren(x, 3).text, 4, 2, false, x.vars};
        return e;
    }
    Expr b = fit(expr(d), 2);
    auto pos = [&](const char *plus) { return Expr{"(abs(" + b.text + ") + " + plus + ")", 5, b.mag + 1, false, b.vars}; };
    auto with = [&](Expr base, const Expr &exponent, double mag) {
        Expr x = paren(exponent, 3);
        Expr e{paren(base, 5).text + "^" + x.text, 4, mag, false, base.vars};
        e.vars.insert(x.vars.begin(), x.vars.end());
        return e;
    };
    switch (kind) {
    case 0: return with(b, Expr{"2", 5, 2, true, {}}, b.mag * b.mag);
    case 1: {
        Expr c = fit(b, 1.5);
        return with(c, Expr{"3", 5, 3, true, {}}, std::pow(c.mag, 3));
    }
    case 2: return with(pos("1"), Expr{"-1", 3, 1, true, {}}, 1);
    case 3: return with(pos("0.5"), Expr{"0.5", 5, 0.5, true, {}}, std::sqrt(b.mag + 0.5));
    case 4: return with(pos("1"), fit(expr(d), 1), 3);
    default: return call("pow", {pos("1"), fit(expr(d), 1)}, 3, false);
    }
}

/** The one-argument functions, each in its domain with a bounded slope. */
inline Expr Generator::function(int d) {
    // Each case draws only what it writes: a drawn read registers its input.
    int f = pick(0, 13);
    if (f == 3 && chance(0.5)) {
        Expr x = exact_expr(d);
        return call("sqrt", {call("abs", {x}, x.mag, true)}, std::sqrt(x.mag), false);
    }
    if (f == 10 || f == 11) {
        Expr x = exact_expr(d);
        return call(f == 10 ? "floor" : "ceil", {x}, x.mag + 1, true);
    }
    Expr a = expr(d);
    Expr plus_one{"abs(" + a.text + ") + 1", 1, a.mag + 1, false, a.vars};
    switch (f) {
    case 0: return call("exp", {fit(a, 1.5)}, std::exp(1.5), false);
    case 1: { // exp(-x^2)
        Expr b = paren(fit(a, 2), 5);
        return call("exp", {Expr{"-" + b.text + "^2", 3, 4, false, b.vars}}, 1, false);
    }
    case 2: return call("log", {plus_one}, std::log(a.mag + 1), false);
    case 3: return call("sqrt", {plus_one}, std::sqrt(a.mag + 1), false);
    case 4: return call("rsqrt", {plus_one}, 1, false);
    case 5: return call("tanh", {a}, 1, false);
    case 6: return call("sigmoid", {fit(a, 8)}, 1, false);
    case 7: return call("gelu", {fit(a, 4)}, a.mag, false);
    case 8: return call("sin", {fit(a, 4)}, 1, false);
    case 9: return call("cos", {fit(a, 4)}, 1, false);
    case 12: return call("relu", {a}, a.mag, a.exact);
    default: return call("abs", {a}, a.mag, a.exact);
    }
}

/** One statement: `NAME[lhs] = e` (a new tensor) or `NAME[lhs] += e` (an earlier one), with
 * implicit sums over the variables of `free` it reads. False (nothing changed) if it broke a
 * limit. */
inline bool Generator::statement(std::string &text) {
    State saved = st_;
    try {
        std::vector<std::string> defined;
        for (const auto &[n, t] : st_.tensors)
            if (!t.input) defined.push_back(n);
        bool accumulate = !defined.empty() && chance(0.15);
        std::string name;
        std::vector<std::string> lhs;
        if (accumulate) {
            name = gen::any_of(rng_, defined);
            lhs = st_.tensors[name].vars;
        } else {
            for (const auto &n : defined_names_)
                if (!st_.tensors.count(n)) {
                    name = n;
                    break;
                }
            std::vector<std::string> vars = pool_;
            std::shuffle(vars.begin(), vars.end(), rng_);
            lhs.assign(vars.begin(), vars.begin() + std::discrete_distribution<int>({10, 35, 40, 15})(rng_));
            if (elements(lhs) > 2000) throw Retry{};
        }
        std::vector<std::string> rest;
        for (const auto &v : pool_)
            if (std::find(lhs.begin(), lhs.end(), v) == lhs.end()) rest.push_back(v);
        std::shuffle(rest.begin(), rest.end(), rng_);
        std::size_t nfree = std::min(rest.size(), std::size_t(std::discrete_distribution<int>({50, 35, 15})(rng_)));
        visible_ = lhs;
        visible_.insert(visible_.end(), rest.begin(), rest.begin() + nfree);
        spare_.assign(rest.begin() + nfree, rest.end());
        statement_vars_ = {lhs.begin(), lhs.end()};
        statement_reads_.clear();

        Expr rhs = expr(pick(1, 4));
        bool contracted = false;
        for (std::size_t f = lhs.size(); f < visible_.size(); ++f) contracted |= rhs.vars.count(visible_[f]) > 0;
        if (nfree > 0 && !contracted && chance(0.8)) { // a contraction: times a read of a free variable
            std::vector<std::string> scope = visible_;
            visible_.assign(scope.begin() + static_cast<std::ptrdiff_t>(lhs.size()), scope.end());
            for (const auto &v : lhs)
                if (chance(0.5)) visible_.push_back(v);
            Expr x = read_input();
            visible_ = scope;
            rhs = fit(rhs, 2);
            if (integer_ && rhs.mag * x.mag > 1e6) throw Retry{};
            rhs = binary(rhs, "*", x, 2, rhs.mag * x.mag);
        }
        int64_t implicit = 1;
        for (const auto &v : rhs.vars)
            if (std::find(lhs.begin(), lhs.end(), v) == lhs.end()) implicit *= size_.at(v);
        double mag = rhs.mag * static_cast<double>(implicit);
        std::string body = rhs.text;
        if (!integer_ && mag > 4) { // inside the implicit sum, which is the same
            double k = 0;
            std::string by = power_of_two_at_least(mag / 2, k);
            body = paren(rhs, 2).text + " / " + by;
            mag /= k;
            st_.needs_float = true;
        }
        if (accumulate) mag += st_.tensors[name].mag;
        if (integer_ && mag > 1e6) throw Retry{};
        if (elements({statement_vars_.begin(), statement_vars_.end()}) > 200000) throw Retry{};
        if (accumulate) st_.tensors[name].mag = mag;
        else st_.tensors[name] = TensorModel{lhs, mag, false, integer_};
        st_.used_vars.insert(statement_vars_.begin(), statement_vars_.end());
        text = name + index_list(lhs) + (chance(0.8) ? " " : "") + (accumulate ? "+=" : "=") + (chance(0.8) ? " " : "") + body;
        reads_.push_back(statement_reads_);
        defines_.push_back(name);
        return true;
    } catch (const Retry &) {
        st_ = saved;
        return false;
    }
}

inline GeneratedProgram Generator::generate() {
    for (;;) {
        integer_ = chance(0.15);
        int policy = pick(0, 99);
        dtype_policy_ = integer_ ? (policy < 70 ? 0 : 1) : (policy < 88 ? 0 : 1);
        one_dtype_ = integer_ ? gen::any_of(rng_, kIntegerTypes)
                              : policy < 45 ? DType::F32 : policy < 80 ? DType::F64 : DType::F16;
        std::vector<std::string> vars = {"i", "j", "k", "l", "n", "p", "q", "r", "b", "d", "row", "col", "c_1", "t2"};
        std::shuffle(vars.begin(), vars.end(), rng_);
        pool_.assign(vars.begin(), vars.begin() + 8);
        size_.clear();
        for (const auto &v : pool_) {
            int band = pick(0, 9);
            size_[v] = band < 7 ? pick(1, 8) : band < 9 ? pick(9, 20) : pick(21, 64);
        }
        input_names_ = {"A", "B", "X", "Y", "W", "w", "bias", "x", "y", "u", "v", "S", "M2", "K_t", "Q", "V"};
        defined_names_ = {"C", "D", "out", "h", "m", "s", "acc", "z", "T_1", "res", "e", "G"};
        std::shuffle(input_names_.begin(), input_names_.end(), rng_);
        std::shuffle(defined_names_.begin(), defined_names_.end(), rng_);
        st_ = State{};
        reads_.clear();
        defines_.clear();
        std::vector<std::string> statements;
        for (int s = 0, count = std::discrete_distribution<int>({0, 35, 30, 20, 15})(rng_); s < count; ++s) {
            std::string text;
            for (int attempt = 0; attempt < 30 && text.empty(); ++attempt)
                if (!statement(text)) text.clear();
            if (text.empty()) break;
            statements.push_back(text);
        }
        if (statements.empty() || st_.order.empty()) continue;

        GeneratedProgram c;
        c.integer = integer_;
        if (chance(0.2)) c.source += "# a generated program\n";
        for (std::size_t s = 0; s < statements.size(); ++s) {
            c.source += statements[s];
            if (s + 1 == statements.size()) {
                c.source += chance(0.2) ? ";" : chance(0.2) ? "\n" : "";
                break;
            }
            switch (pick(0, 5)) {
            case 0: c.source += ";"; break;
            case 1: c.source += "; "; break;
            case 2: c.source += "\n"; break;
            case 3: c.source += " ;\n\n"; break;
            case 4: c.source += "   # statement " + std::to_string(s) + "; not a separator\n"; break;
            default: c.source += "\n# between\n"; break;
            }
        }
        std::vector<DType> types;
        for (const auto &name : st_.order) {
            const TensorModel &t = st_.tensors[name];
            c.dtypes[name] = st_.dtypes[name];
            types.push_back(st_.dtypes[name]);
            Shape shape;
            for (const auto &v : t.vars) shape.push_back(size_.at(v));
            c.shapes[name] = shape;
        }
        for (const auto &v : st_.used_vars) {
            c.extents[v] = size_.at(v);
            if (!st_.input_vars.count(v)) c.dims[v] = size_.at(v);
        }
        // Outputs: the last version of each tensor no later statement reads, or a random choice.
        std::map<std::string, int> last;
        for (std::size_t s = 0; s < defines_.size(); ++s) last[defines_[s]] = static_cast<int>(s);
        for (const auto &[name, s] : last) {
            Shape shape;
            for (const auto &v : st_.tensors[name].vars) shape.push_back(size_.at(v));
            c.defined_shapes[name] = shape;
            bool read_later = false;
            for (std::size_t later = s + 1; later < reads_.size(); ++later) read_later |= reads_[later].count(name) > 0;
            if (!read_later) c.expected.push_back(name);
        }
        // Sometimes the caller names the outputs: tensors a later statement reads among them
        // (which must then be written although fusion would inline them), the others dead code.
        if (chance(0.15)) {
            std::vector<std::string> requested;
            for (const auto &[name, s] : last) requested.push_back(name);
            std::shuffle(requested.begin(), requested.end(), rng_);
            c.expected.clear();
            for (const auto &name : requested)
                if (c.expected.empty() || chance(0.5)) c.expected.push_back(name);
            c.outputs = c.expected;
        }
        std::sort(c.expected.begin(), c.expected.end());
        c.out_dtype = frontend::promote_types(types);
        if (is_integer(c.out_dtype) && st_.needs_float) c.out_dtype = DType::F64;
        c.threads = pick(1, 2);
        return c;
    }
}

} // namespace progen

/** Generates `EINFUSE_DIFF_CASES` programs (default `default_cases`) from seed
 * `EINFUSE_DIFF_SEED` (default: random) and checks each on `target` against the float64
 * reference: inputs, sizes, output names, shapes and types against the generator's model, values
 * within tolerance(dtype, reduction_length + 16) (integers exactly). */
inline void run_program_differential(Target target, uint64_t default_cases) {
    const uint64_t seed = env_or("EINFUSE_DIFF_SEED", uint64_t{std::random_device{}()} << 32 | std::random_device{}());
    const uint64_t cases = env_or("EINFUSE_DIFF_CASES", default_cases);
    INFO("reproduce with EINFUSE_DIFF_SEED=" << seed << " EINFUSE_DIFF_CASES=" << cases);
    MESSAGE("program differential test on " << target_name(target) << ": seed " << seed << ", " << cases << " cases");
    std::mt19937_64 rng(seed);
    int materialised = 0, fused = 0, multi = 0;
    std::map<std::string, int> strategies; // kernels planned with each
    double worst = 0;
    auto start = std::chrono::steady_clock::now();
    for (uint64_t k = 0; k < cases; ++k) {
        GeneratedProgram c = progen::Generator(rng).generate();
        std::string what = "case " + std::to_string(k) + ": " + c.describe();
        CAPTURE(what);
        try {
            CompiledProgram compiled(c.source, c.dtypes, CompileOptions{target, "", c.threads}, c.outputs);
            std::vector<std::string> names;
            for (const auto &t : compiled.program().inputs) names.push_back(t.name);
            std::sort(names.begin(), names.end());
            std::vector<std::string> want_names;
            for (const auto &[name, shape] : c.shapes) want_names.push_back(name);
            CHECK(names == want_names);
            if (names != want_names) continue;
            CHECK(compiled.bind(c.shapes, c.dims) == c.extents);
            compiled.plan_for(c.extents);
            std::size_t statements = compiled.ast().statements.size();
            multi += statements > 1;
            materialised += !compiled.plan().program.temporaries.empty();
            fused += compiled.plan().kernels.size() < statements;
            for (const auto &kernel : compiled.plan().kernels) ++strategies[std::string(strategy_name(kernel.strategy))];
            std::vector<Tensor> inputs;
            for (const auto &t : compiled.program().inputs) {
                CHECK(t.dtype == c.dtypes.at(t.name));
                CHECK(compiled.tensor_shape(t.name, c.extents) == c.shapes.at(t.name));
                inputs.emplace_back(c.dtypes.at(t.name), c.shapes.at(t.name));
                inputs.back().fill_random(rng);
            }
            auto ptrs = pointers(inputs);
            RunResult got = compiled.run(ptrs, c.extents);
            std::vector<Tensor> want = compiled.reference(ptrs, c.extents);
            names.clear();
            for (const auto &t : compiled.program().outputs) names.push_back(t.name);
            std::sort(names.begin(), names.end());
            CHECK(names == c.expected);
            CHECK(got.outputs.size() == compiled.program().outputs.size());
            CHECK(want.size() == compiled.program().outputs.size());
            if (got.outputs.size() != want.size() || want.size() != compiled.program().outputs.size()) continue;
            const int64_t n = compiled.reduction_length(c.extents);
            CAPTURE(n);
            for (std::size_t o = 0; o < want.size(); ++o) {
                const std::string &name = compiled.program().outputs[o].name;
                CAPTURE(name);
                CHECK(got.outputs[o].dtype() == c.out_dtype);
                CHECK(got.outputs[o].shape() == c.defined_shapes.at(name));
                CHECK(want[o].shape() == c.defined_shapes.at(name));
                if (got.outputs[o].shape() != want[o].shape()) continue;
                // Transcendental functions in f32 are a few ulps off the f64 reference: 16 ulps of
                // room, as the e2e table gives. The generator keeps cases well conditioned.
                double err = ir::max_relative_error(got.outputs[o], want[o]);
                double tol = tolerance(got.outputs[o].dtype(), n + 16);
                CHECK(err <= tol);
                if (tol > 0) worst = std::max(worst, err / tol);
            }
        } catch (const UserError &e) {
            FAIL_CHECK("UserError for a valid program: " << std::string(e.what()));
        } catch (const std::exception &e) {
            FAIL_CHECK("exception for a valid program: " << std::string(e.what()));
        }
    }
    double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    MESSAGE(cases << " programs in " << seconds << " s; " << multi << " of several statements, " << fused
                  << " fused into fewer kernels, " << materialised << " with a materialised intermediate; worst "
                  << worst << " of the tolerance");
    std::string kinds;
    for (const auto &[name, count] : strategies) kinds += " " + name + " " + std::to_string(count);
    MESSAGE("kernels:" << kinds);
}

} // namespace einfuse::test
