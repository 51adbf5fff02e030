#include "ir/Reference.h"

#include "ir/Walk.h"
#include "support/Error.h"

#include <algorithm>
#include <cmath>
#include <complex>
#include <functional>
#include <limits>
#include <map>
#include <optional>
#include <set>
#include <type_traits>

namespace einfuse::ir {

namespace {

/** Every index variable gets a slot in one environment array, so that evaluating an Access is a
 * dot product of slots and strides instead of a map lookup per element. */
using Env = std::vector<int64_t>;
/** A program with a complex type evaluates in complex128 throughout (V = std::complex<double>),
 * any other in float64 (V = double). */
template <class V> using EvalOf = std::function<V(Env &)>;
using Complex = std::complex<double>;

/** Calls f once per point of the box [0, extent(slot)) over `slots`; the point is written into
 * env. No call when an extent is zero; exactly one when slots is empty. */
template <class F> void for_each_point(Env &env, const std::vector<int> &slots, const std::vector<int64_t> &extents, F &&f) {
    for (int s : slots) {
        if (extents[s] == 0) return;
        env[s] = 0;
    }
    while (true) {
        f();
        int d = static_cast<int>(slots.size()) - 1;
        for (; d >= 0; --d) {
            if (++env[slots[d]] < extents[slots[d]]) break;
            env[slots[d]] = 0;
        }
        if (d < 0) return;
    }
}

double apply(BinaryOp op, double a, double b) {
    switch (op) {
    case BinaryOp::Add: return a + b;
    case BinaryOp::Sub: return a - b;
    case BinaryOp::Mul: return a * b;
    case BinaryOp::Div: return a / b;
    // IEEE 754 maxNum/minNum (C's fmax): a NaN operand is ignored, as the kernels' fmax and
    // LLVM's maxnum do (docs/language.md, "NaN"). std::max would depend on the operand order.
    case BinaryOp::Max: return std::fmax(a, b);
    case BinaryOp::Min: return std::fmin(a, b);
    case BinaryOp::Pow: return std::pow(a, b);
    case BinaryOp::Lt: return a < b;
    case BinaryOp::Le: return a <= b;
    case BinaryOp::Gt: return a > b;
    case BinaryOp::Ge: return a >= b;
    case BinaryOp::Eq: return a == b;
    case BinaryOp::Ne: return a != b;
    }
    return 0;
}

double apply(UnaryOp op, double x) {
    switch (op) {
    case UnaryOp::Neg: return -x;
    case UnaryOp::Exp: return std::exp(x);
    case UnaryOp::Log: return std::log(x);
    case UnaryOp::Sqrt: return std::sqrt(x);
    case UnaryOp::Rsqrt: return 1.0 / std::sqrt(x);
    case UnaryOp::Abs: return std::abs(x);
    case UnaryOp::Tanh: return std::tanh(x);
    case UnaryOp::Sigmoid: return 1.0 / (1.0 + std::exp(-x));
    case UnaryOp::Relu: return x > 0 ? x : 0.0; // fmax(x, 0): relu(NaN) = 0
    case UnaryOp::Gelu: return 0.5 * x * (1.0 + std::erf(x / std::sqrt(2.0)));
    case UnaryOp::Sin: return std::sin(x);
    case UnaryOp::Cos: return std::cos(x);
    case UnaryOp::Floor: return std::floor(x);
    case UnaryOp::Ceil: return std::ceil(x);
    case UnaryOp::Sign: return (x > 0) - (x < 0);
    case UnaryOp::Conj: // of a real value (complex ones: the complex128 apply below)
    case UnaryOp::Real: return x;
    case UnaryOp::Imag: return 0.0;
    }
    return 0;
}

/** op in the element type t. Floats: in f64 (the exact answer kernels are measured against).
 * bool and the integers: as t computes, wrapping like numpy: + - * modulo 2^bits, exact for types
 * up to 32 bits (an i32 product needs 62 bits, so these go through uint64_t, never a double);
 * i64/u64 values above 2^53 are rounded as doubles hold them, so the reference is exact for
 * those types only while every value stays below 2^53. bool: + is or, * is and (numpy's einsum
 * of bools), through integer_value's bits != 0. Division truncates toward zero; x / 0 is 0, like the
 * kernels'. */
double apply(BinaryOp op, double a, double b, DType t) {
    if (!is_integer(t)) return apply(op, a, b);
    switch (op) {
    case BinaryOp::Add: return integer_value(t, integer_bits(a) + integer_bits(b));
    case BinaryOp::Sub: return integer_value(t, integer_bits(a) - integer_bits(b));
    case BinaryOp::Mul: return integer_value(t, integer_bits(a) * integer_bits(b));
    case BinaryOp::Div: return b == 0 ? 0.0 : wrap_to(t, std::trunc(a / b));
    default: return wrap_to(t, apply(op, a, b)); // max, min, comparisons: exact on in-range values
    }
}

/** A reduction's identity in t: +-inf stand for an integer type's max and min (bool: 1, 0). */
double identity_in(DType t, double identity) {
    if (!is_integer(t) || !std::isinf(identity)) return identity;
    if (t == DType::Bool) return identity > 0 ? 1.0 : 0.0;
    int bits = dtype_bits(t);
    if (is_unsigned(t)) return identity > 0 ? std::ldexp(1.0, bits) - 1 : 0.0; // u64: 2^64 - 1 rounds to 2^64
    return identity > 0 ? std::ldexp(1.0, bits - 1) - 1 : -std::ldexp(1.0, bits - 1);
}

/** A cast's value, as the kernels convert (TypeLowering.cpp, CudaTypes.cpp): to bool, != 0 (NaN
 * is true); integer to integer wraps; float to integer truncates toward zero, saturates at the
 * range of the integer type the kernels convert through (i32 for 8 and 16 bits and i32, i64
 * for u32 and i64, u64 itself), then wraps (-1.0 to u8 is 255, as numpy on x86); NaN gives 0. */
double cast_value(DType from, DType to, double v) {
    if (!is_integer(to)) return v; // float to float: kept exact
    if (to == DType::Bool) return v != 0 ? 1.0 : 0.0;
    if (is_integer(from)) return wrap_to(to, v);
    if (std::isnan(v)) return 0.0;
    v = std::trunc(v);
    double lo = -0x1p31, hi = 0x1p31 - 1;
    if (to == DType::I64 || to == DType::U32) lo = -0x1p63, hi = 0x1p63; // hi: 2^63 - 1, rounded
    if (to == DType::U64) lo = -0x1p63, hi = 0x1p64;
    return wrap_to(to, std::clamp(v, lo, hi));
}

/** The complex operations numpy has that the language offers (the frontend refuses the rest
 * for complex values); a real type's operation on the real parts, as the float64 reference. */
Complex apply(BinaryOp op, Complex a, Complex b, DType t) {
    if (!is_complex(t)) return apply(op, a.real(), b.real(), t);
    switch (op) {
    case BinaryOp::Add: return a + b;
    case BinaryOp::Sub: return a - b;
    case BinaryOp::Mul: return a * b;
    case BinaryOp::Div: return a / b;
    case BinaryOp::Pow: return std::pow(a, b);
    case BinaryOp::Eq: return a == b ? 1.0 : 0.0;
    case BinaryOp::Ne: return a != b ? 1.0 : 0.0;
    default: break;
    }
    throw InternalError(std::string(binary_op_symbol(op)) + " of complex values");
}

Complex apply(UnaryOp op, Complex x, DType arg_type) {
    if (!is_complex(arg_type)) {
        if (op == UnaryOp::Conj || op == UnaryOp::Real) return x.real();
        if (op == UnaryOp::Imag) return 0.0;
        return is_integer(arg_type) ? wrap_to(arg_type, apply(op, x.real())) : apply(op, x.real());
    }
    switch (op) {
    case UnaryOp::Neg: return -x;
    case UnaryOp::Conj: return std::conj(x);
    case UnaryOp::Real: return x.real();
    case UnaryOp::Imag: return x.imag();
    case UnaryOp::Abs: return std::abs(x);
    case UnaryOp::Exp: return std::exp(x);
    case UnaryOp::Log: return std::log(x);
    case UnaryOp::Sqrt: return std::sqrt(x);
    case UnaryOp::Sin: return std::sin(x);
    case UnaryOp::Cos: return std::cos(x);
    case UnaryOp::Tanh: return std::tanh(x);
    default: break;
    }
    throw InternalError(std::string(unary_op_name(op)) + " of a complex value");
}

/** A cast in complex128: to a complex type, kept; to a real type, the real part, as numpy. */
Complex cast_value(DType from, DType to, Complex v) {
    if (is_complex(to)) return v;
    return cast_value(is_complex(from) ? real_part_type(from) : from, to, v.real());
}

double load_value(const Tensor *t, int64_t offset, double) { return t->load(offset); }
Complex load_value(const Tensor *t, int64_t offset, Complex) { return t->load_complex(offset); }

template <class V> class Compiler {
public:
    using Eval = EvalOf<V>;
    Compiler(const Program &p, const std::map<std::string, const Tensor *> &tensors, const Extents &extents)
        : tensors_(tensors), extents_(extents) {
        for (const auto &v : p.index_vars) {
            auto it = extents.find(v);
            if (it == extents.end()) throw UserError("no size given for index '" + v + "'");
            slot_[v] = static_cast<int>(extent_.size());
            extent_.push_back(it->second);
        }
    }

    int slot(const std::string &v) const { return slot_.at(v); }
    const std::vector<int64_t> &extents() const { return extent_; }

    Eval compile(const Expr &e) const {
        return visit(e, [&](const auto &n) { return compile_node(n); });
    }

private:
    Eval compile_node(const Const &n) const {
        return [v = n.value](Env &) { return v; };
    }
    Eval compile_node(const ScalarRef &n) const { throw InternalError("ScalarRef '" + n.name + "' in a program"); }
    /** The element's offset from ir::element_offset: coeff * stride slot terms plus a constant.
     * Before any element is read, every index is checked to stay inside its dimension. */
    Eval compile_node(const Access &n) const {
        const Tensor *t = tensors_.at(n.tensor);
        EINFUSE_ASSERT(static_cast<int>(n.indices.size()) == t->rank(), "rank of " + n.tensor);
        std::vector<int64_t> strides(n.indices.size());
        for (std::size_t d = 0; d < n.indices.size(); ++d) {
            int64_t size = t->shape()[d];
            strides[d] = t->strides()[d];
            const std::string *v = n.indices[d].as_var();
            if (!v) {
                std::string why = index_out_of_range(n.tensor, static_cast<int>(d), n.indices[d], size, extents_);
                if (!why.empty()) throw UserError(why);
                continue;
            }
            int64_t extent = extent_[slot(*v)];
            if (size != extent && size != 1)
                throw UserError("tensor " + n.tensor + " has size " + std::to_string(size) + " in dimension " +
                                std::to_string(d) + " where index '" + *v + "' has size " + std::to_string(extent));
            // A size-1 dimension broadcasts against a longer index: it is read at 0 throughout.
            if (size == 1) strides[d] = 0;
        }
        std::vector<std::pair<int, int64_t>> terms; // (slot, coeff * stride)
        int64_t base = 0;
        for (const auto &term : element_offset(n.indices)) {
            if (term.var.empty()) base += term.coeff * strides[term.dim];
            else terms.emplace_back(slot(term.var), term.coeff * strides[term.dim]);
        }
        return [t, terms, base](Env &env) {
            int64_t offset = base;
            for (const auto &[s, stride] : terms) offset += env[s] * stride;
            return load_value(t, offset, V{});
        };
    }
    Eval compile_node(const Cast &n) const {
        // The reference keeps float64 through casts between float types (it computes the exact
        // answer that every kernel is measured against); a cast to an integer truncates.
        Eval v = compile(n.value);
        if (is_integer(n.type) || (is_complex(n.value.type()) && !is_complex(n.type)))
            return [v, from = n.value.type(), to = n.type](Env &env) -> V { return cast_value(from, to, v(env)); };
        return v;
    }
    Eval compile_node(const Unary &n) const {
        if constexpr (std::is_same_v<V, Complex>)
            return [a = compile(n.a), op = n.op, t = n.a.type()](Env &env) { return apply(op, a(env), t); };
        else if (is_integer(n.type)) // -MIN and |MIN| wrap to MIN
            return [a = compile(n.a), op = n.op, t = n.type](Env &env) { return wrap_to(t, apply(op, a(env))); };
        else
            return [a = compile(n.a), op = n.op](Env &env) { return apply(op, a(env)); };
    }
    Eval compile_node(const Select &n) const {
        return [c = compile(n.cond), a = compile(n.a), b = compile(n.b)](Env &env) { return c(env) != V(0) ? a(env) : b(env); };
    }
    Eval compile_node(const Binary &n) const {
        return [a = compile(n.a), b = compile(n.b), op = n.op, t = n.type](Env &env) { return apply(op, a(env), b(env), t); };
    }
    Eval compile_node(const Reduce &n) const {
        std::vector<int> slots;
        for (const auto &v : n.reduce_vars) slots.push_back(slot(v));
        BinaryOp combine = reduce_combiner(n.op);
        return [this, slots, combine, body = compile(n.body), init = identity_in(n.type, reduce_identity(n.op)),
                t = n.type](Env &env) {
            V acc = init;
            for_each_point(env, slots, extent_, [&] { acc = apply(combine, acc, body(env), t); });
            return acc;
        };
    }

    const std::map<std::string, const Tensor *> &tensors_;
    const Extents &extents_;
    std::map<std::string, int> slot_;
    std::vector<int64_t> extent_;
};

/** A factor of a product as a dense f64 (or complex128) table over its index variables (slots), row-major. */
template <class V> struct Table {
    std::vector<int> slots;
    std::vector<V> values;
};

double volume(const std::vector<int> &slots, const std::vector<int64_t> &extents) {
    double n = 1;
    for (int s : slots) n *= static_cast<double>(extents[s]);
    return n;
}

/** The variables e reads that no reduction inside e binds, as slots, sorted. */
template <class C> std::vector<int> free_slots(const Expr &e, const C &c) {
    std::set<std::string> vars;
    for_each_access(e, [&](const Access &a) {
        for (const auto &index : a.indices)
            for (const auto &v : index.vars())
                if (!v.empty()) vars.insert(v);
    });
    for (const auto &v : reduced_vars(e)) vars.erase(v);
    std::vector<int> out;
    for (const auto &v : vars) out.push_back(c.slot(v));
    std::sort(out.begin(), out.end());
    return out;
}

std::vector<int> set_union(const std::vector<int> &a, const std::vector<int> &b) {
    std::vector<int> out;
    std::set_union(a.begin(), a.end(), b.begin(), b.end(), std::back_inserter(out));
    return out;
}

/** sum over the slots of a and b not in `keep` of a * b, as a table over the rest. */
template <class V>
Table<V> contract(const Table<V> &a, const Table<V> &b, const std::vector<int> &keep, const std::vector<int64_t> &extents,
                  DType t) {
    std::vector<int> all = set_union(a.slots, b.slots);
    Table<V> r;
    for (int s : all)
        if (std::binary_search(keep.begin(), keep.end(), s)) r.slots.push_back(s);
    r.values.assign(static_cast<std::size_t>(volume(r.slots, extents)), V(0.0));
    if (volume(all, extents) == 0) return r;
    // Each table's stride along every slot of the loop nest (0 where the table lacks it).
    auto strides = [&](const std::vector<int> &slots) {
        std::vector<int64_t> out(all.size(), 0);
        int64_t step = 1;
        for (std::size_t d = slots.size(); d-- > 0;) {
            out[static_cast<std::size_t>(std::find(all.begin(), all.end(), slots[d]) - all.begin())] = step;
            step *= extents[slots[d]];
        }
        return out;
    };
    std::vector<int64_t> sa = strides(a.slots), sb = strides(b.slots), sr = strides(r.slots), index(all.size(), 0);
    int64_t oa = 0, ob = 0, orr = 0;
    while (true) {
        V &acc = r.values[static_cast<std::size_t>(orr)];
        V term = a.values[static_cast<std::size_t>(oa)], other = b.values[static_cast<std::size_t>(ob)];
        if constexpr (std::is_same_v<V, double>) {
            if (is_integer(t)) acc = apply(BinaryOp::Add, acc, apply(BinaryOp::Mul, term, other, t), t);
            else acc += term * other;
        } else {
            acc += term * other;
        }
        std::size_t d = all.size();
        for (; d-- > 0;) {
            oa += sa[d], ob += sb[d], orr += sr[d];
            if (++index[d] < extents[all[d]]) break;
            oa -= sa[d] * index[d], ob -= sb[d] * index[d], orr -= sr[d] * index[d];
            index[d] = 0;
        }
        if (d == static_cast<std::size_t>(-1)) return r;
    }
}

/** The pairwise steps of a product of factors reading `sets` (sorted slots each): step s
 * contracts factor steps[s].first into steps[s].second, keeping kept[s]. Greedy: the smallest
 * live factor with the partner, preferably one sharing a variable, that leaves the smallest
 * table. `cost` counts the steps' loop iterations and the factors' tabulation. */
struct PairwiseOrder {
    std::vector<std::pair<std::size_t, std::size_t>> steps;
    std::vector<std::vector<int>> kept;
    double cost = 0;
};

PairwiseOrder pairwise_order(std::vector<std::vector<int>> sets, const std::vector<int> &out_slots,
                             const std::vector<int64_t> &extents) {
    PairwiseOrder order;
    std::vector<int> users(extents.size(), 0); // live factors reading each slot
    for (const auto &s : sets) {
        order.cost += volume(s, extents);
        for (int v : s) ++users[static_cast<std::size_t>(v)];
    }
    auto in = [](const std::vector<int> &set, int v) { return std::binary_search(set.begin(), set.end(), v); };
    // What a contraction of a and b keeps: the variables of the output or of another live factor.
    auto result_of = [&](std::size_t a, std::size_t b) {
        std::vector<int> r;
        for (int v : set_union(sets[a], sets[b]))
            if (users[static_cast<std::size_t>(v)] - in(sets[a], v) - in(sets[b], v) > 0 || in(out_slots, v)) r.push_back(v);
        return r;
    };
    std::vector<bool> live(sets.size(), true);
    const std::size_t none = sets.size();
    for (std::size_t left = sets.size(); left > 1; --left) {
        std::size_t a = none, b = none;
        for (std::size_t i = 0; i < sets.size(); ++i)
            if (live[i] && (a == none || volume(sets[i], extents) < volume(sets[a], extents))) a = i;
        double best = 0;
        bool best_shares = false;
        for (std::size_t i = 0; i < sets.size(); ++i) {
            if (!live[i] || i == a) continue;
            bool shares = std::any_of(sets[i].begin(), sets[i].end(), [&](int v) { return in(sets[a], v); });
            double size = volume(result_of(a, i), extents);
            if (b == none || (shares && !best_shares) || (shares == best_shares && size < best))
                b = i, best = size, best_shares = shares;
        }
        std::vector<int> r = result_of(a, b);
        order.cost += volume(set_union(sets[a], sets[b]), extents);
        for (int v : sets[a]) --users[static_cast<std::size_t>(v)];
        for (int v : sets[b]) --users[static_cast<std::size_t>(v)];
        for (int v : r) ++users[static_cast<std::size_t>(v)];
        order.steps.emplace_back(a, b);
        order.kept.push_back(r);
        sets[b] = std::move(r);
        live[a] = false;
    }
    return order;
}

/** `out[...] = sum[...](f1 * f2 * ... * fn)` evaluated as pairwise contractions of the factors,
 * each first tabulated over its own variables, when that costs fewer steps than the loop nest
 * over every variable: the 51-matrix chain "ab,bc,...,YZ" is 2^52 points as one nest, 50 steps of
 * 8 as pairs. The order (pairwise_order) is found here, so that the reference stays independent
 * of the passes it checks. nullopt: not such a product, or no cheaper. */
template <class V> std::optional<Tensor> evaluate_product(const Definition &def, const Compiler<V> &c) {
    const auto *reduce = def.value.as<Reduce>();
    if (!reduce || reduce->op != ReduceOp::Sum) return std::nullopt;
    std::vector<Expr> factors = flatten(reduce->body, BinaryOp::Mul);
    if (factors.size() < 3) return std::nullopt;
    const std::vector<int64_t> &extents = c.extents();
    std::vector<int> out_slots, all_slots;
    for (const auto &v : def.indices) out_slots.push_back(c.slot(v));
    all_slots = out_slots;
    for (const auto &v : reduce->reduce_vars) all_slots.push_back(c.slot(v));
    std::vector<int> sorted_out = out_slots;
    std::sort(sorted_out.begin(), sorted_out.end());

    std::vector<std::vector<int>> sets;
    std::vector<bool> read(extents.size(), false);
    for (const auto &f : factors) {
        sets.push_back(free_slots(f, c));
        for (int v : sets.back()) read[static_cast<std::size_t>(v)] = true;
    }
    PairwiseOrder order = pairwise_order(sets, sorted_out, extents);
    if (order.cost >= volume(all_slots, extents)) return std::nullopt;
    const auto &steps = order.steps;
    const auto &kept = order.kept;

    std::vector<Table<V>> tables(factors.size());
    Env env(extents.size(), 0);
    for (std::size_t f = 0; f < factors.size(); ++f) {
        tables[f].slots = sets[f];
        EvalOf<V> value = c.compile(factors[f]);
        for_each_point(env, tables[f].slots, extents, [&] { tables[f].values.push_back(value(env)); });
    }
    std::size_t last = 0;
    for (std::size_t s = 0; s < steps.size(); ++s) {
        auto [a, b] = steps[s];
        tables[b] = contract(tables[a], tables[b], kept[s], extents, reduce->type);
        tables[a] = Table<V>{};
        last = b;
    }
    // Reduced variables no factor reads multiply the sum by their extents.
    double times = 1;
    for (const auto &v : reduce->reduce_vars)
        if (!read[static_cast<std::size_t>(c.slot(v))])
            times *= static_cast<double>(extents[c.slot(v)]);
    Shape shape;
    for (int s : out_slots) shape.push_back(extents[s]);
    Tensor out(std::is_same_v<V, double> ? DType::F64 : DType::C128, shape);
    const Table<V> &t = tables[last];
    std::vector<int64_t> step(t.slots.size(), 1);
    for (std::size_t d = t.slots.size(); d-- > 1;) step[d - 1] = step[d] * extents[t.slots[d]];
    int64_t linear = 0;
    for_each_point(env, out_slots, extents, [&] {
        int64_t at = 0;
        for (std::size_t d = 0; d < t.slots.size(); ++d) at += env[t.slots[d]] * step[d];
        V v = t.values[static_cast<std::size_t>(at)];
        if constexpr (std::is_same_v<V, double>)
            out.store(linear++, is_integer(reduce->type) ? apply(BinaryOp::Mul, v, times, reduce->type) : v * times);
        else
            out.store_complex(linear++, v * times);
    });
    return out;
}

void store_value(Tensor &t, int64_t at, double v) { t.store(at, v); }
void store_value(Tensor &t, int64_t at, Complex v) { t.store_complex(at, v); }

template <class V>
std::vector<Tensor> evaluate(const Program &p, const std::vector<const Tensor *> &inputs, const Extents &extents) {
    std::map<std::string, const Tensor *> tensors;
    for (std::size_t i = 0; i < inputs.size(); ++i) tensors[p.inputs[i].name] = inputs[i];
    const DType result_type = std::is_same_v<V, double> ? DType::F64 : DType::C128;

    std::map<std::string, Tensor> results;
    for (const auto &def : p.definitions) {
        Compiler<V> c(p, tensors, extents);
        if (std::optional<Tensor> product = evaluate_product(def, c)) {
            results[def.tensor] = std::move(*product);
            tensors[def.tensor] = &results[def.tensor];
            continue;
        }
        Shape shape;
        std::vector<int> slots;
        for (const auto &v : def.indices) {
            slots.push_back(c.slot(v));
            shape.push_back(c.extents()[slots.back()]);
        }
        Tensor out(result_type, shape);
        EvalOf<V> value = c.compile(def.value);
        Env env(c.extents().size(), 0);
        int64_t linear = 0;
        for_each_point(env, slots, c.extents(), [&] { store_value(out, linear++, value(env)); });
        results[def.tensor] = out;
        tensors[def.tensor] = &results[def.tensor]; // later definitions may read it
    }

    std::vector<Tensor> outputs;
    for (const auto &t : p.outputs) outputs.push_back(results.at(t.name));
    return outputs;
}

} // namespace

std::vector<Tensor> evaluate_reference(const Program &p, const std::vector<const Tensor *> &inputs,
                                       const Extents &extents) {
    EINFUSE_ASSERT(inputs.size() == p.inputs.size(), "one tensor per program input");
    return has_complex_type(p) ? evaluate<Complex>(p, inputs, extents) : evaluate<double>(p, inputs, extents);
}

namespace {
/** The worst |got - want| / max(|want|, |scale|, floor); scale may be null. */
double worst_error(const Tensor &got, const Tensor &want, const Tensor *scale, double floor) {
    EINFUSE_ASSERT(got.shape() == want.shape(), "compared tensors differ in shape");
    EINFUSE_ASSERT(!scale || scale->shape() == want.shape(), "the scale differs in shape");
    std::vector<int> slots(got.rank());
    for (int d = 0; d < got.rank(); ++d) slots[d] = d;
    Env index(got.rank(), 0);
    double worst = 0;
    for_each_point(index, slots, got.shape(), [&] {
        int64_t og = 0, ow = 0, os = 0;
        for (int d = 0; d < got.rank(); ++d) {
            og += index[d] * got.strides()[d];
            ow += index[d] * want.strides()[d];
            if (scale) os += index[d] * scale->strides()[d];
        }
        // Complex values: the modulus of the difference, relative to the reference's modulus; a
        // part's NaN or infinity is compared part by part.
        Complex gc = got.load_complex(og), wc = want.load_complex(ow);
        double magnitude = std::max(std::abs(wc), floor);
        if (scale && std::isfinite(scale->load(os))) magnitude = std::max(magnitude, std::abs(scale->load(os)));
        // NaN where the reference has NaN agrees, and so does an infinity of the same sign;
        // NaN or infinity on one side only is as wrong as can be.
        auto agree = [](double g, double w) { return (std::isnan(g) && std::isnan(w)) || (std::isinf(w) && g == w); };
        double err;
        if (agree(gc.real(), wc.real()) || agree(gc.imag(), wc.imag()))
            err = std::max(agree(gc.real(), wc.real()) ? 0.0 : std::abs(gc.real() - wc.real()) / magnitude,
                           agree(gc.imag(), wc.imag()) ? 0.0 : std::abs(gc.imag() - wc.imag()) / magnitude);
        else
            err = std::abs(gc - wc) / magnitude;
        if (std::isnan(err)) err = std::numeric_limits<double>::infinity();
        worst = std::max(worst, err);
    });
    return worst;
}
} // namespace

double max_relative_error(const Tensor &got, const Tensor &want, double floor) {
    return worst_error(got, want, nullptr, floor);
}

double max_relative_error(const Tensor &got, const Tensor &want, const Tensor &scale, double floor) {
    return worst_error(got, want, &scale, floor);
}

Tensor abs_copy(const Tensor &t) {
    Tensor out(DType::F64, t.shape(), t.strides()); // f64: |INT_MIN| does not fit an i32
    for (int64_t i = t.storage_offset(); i < t.storage_offset() + t.storage_elements(); ++i)
        out.store(i, std::abs(t.load_complex(i)));
    return out;
}

} // namespace einfuse::ir
