#pragma once
// The operator table both backends are tested with (host_ops_test.cpp, gpu_ops_test.cpp): one
// hand-built elementwise kernel per operator and type, random inputs in the operator's domain,
// and a long double reference (64-bit mantissa: exact for every i64, 11 bits beyond f64) with
// ulp tolerances. Also the Gaussian kernel sum, a loop nest with two accumulators.
#include "ir/Kernel.h"
#include "support/Tensor.h"

#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <functional>
#include <limits>
#include <random>
#include <string>

namespace einfuse::test {

using namespace einfuse::ir;

inline std::mt19937_64 &ops_rng() {
    static std::mt19937_64 r(std::random_device{}()); // fresh inputs on every run
    return r;
}

/** The integers (bool, whose + is or, has tests of its own). */
inline bool integer_type(DType t) { return einfuse::is_integer(t) && t != DType::Bool; }

/** The most negative value of an integer type (0 for the unsigned ones) and the largest. */
inline long double integer_min(DType t) {
    return einfuse::is_unsigned(t) ? 0.0L : -std::ldexp(1.0L, einfuse::dtype_bits(t) - 1);
}
inline long double integer_max(DType t) {
    int bits = einfuse::dtype_bits(t) - (einfuse::is_unsigned(t) ? 0 : 1);
    return std::ldexp(1.0L, bits) - 1; // exact in long double's 64-bit mantissa
}

/** Runs k on the inputs into out; `extents` follow k.index_vars. */
using KernelRunner = std::function<void(const Kernel &k, const std::vector<const Tensor *> &ins, Tensor &out,
                                        const std::vector<int64_t> &extents)>;

/** out[i] = value, over tensors in0..in<inputs-1> and out, all 1-D of type t. */
inline Kernel elementwise_kernel(std::string name, DType t, int inputs, Expr value) {
    Kernel k;
    k.name = std::move(name);
    k.comment = "out[i] = elementwise op of in0[i]...";
    for (int p = 0; p < inputs; ++p)
        k.params.push_back({"in" + std::to_string(p), t, 1});
    k.params.push_back({"out", t, 1});
    k.num_inputs = inputs;
    k.index_vars = {"i"};
    k.body = For::make("i", LoopKind::Parallel, Store::make("out", {"i"}, std::move(value)));
    return k;
}
inline Expr in(DType t, int p) { return Access::make(t, "in" + std::to_string(p), {"i"}); }
inline std::string op_name(std::string_view s) {
    const std::pair<std::string_view, const char *> symbols[] = {
        {"-", "neg"}, {"^", "pow"}, {"<", "lt"}, {"<=", "le"}, {">", "gt"}, {">=", "ge"}, {"==", "eq"}, {"!=", "ne"}};
    for (auto [sym, name] : symbols)
        if (s == sym) return name;
    return std::string(s);
}
inline Kernel unary_kernel(UnaryOp op, DType t) {
    return elementwise_kernel(op_name(unary_op_name(op)) + "_" + std::string(dtype_name(t)), t, 1,
                              Unary::make(op, in(t, 0)));
}
inline Kernel binary_kernel(BinaryOp op, DType t) {
    return elementwise_kernel(op_name(binary_op_symbol(op)) + "_" + std::string(dtype_name(t)), t, 2,
                              Binary::make(op, in(t, 0), in(t, 1)));
}
inline Kernel select_kernel(DType t) {
    return elementwise_kernel("where_" + std::string(dtype_name(t)), t, 3, Select::make(in(t, 0), in(t, 1), in(t, 2)));
}

/** Elements as long double, written and read through memory of their own type (exact for i64
 * and u64). An integer value outside the type's range is stored wrapped. */
inline void put(Tensor &x, int64_t i, long double v) {
    if (!integer_type(x.dtype())) return x.store(i, static_cast<double>(v));
    auto bits = static_cast<uint64_t>(static_cast<unsigned __int128>(static_cast<__int128>(v)));
    const std::size_t size = einfuse::dtype_size(x.dtype());
    std::memcpy(static_cast<char *>(x.data()) + size * i, &bits, size); // little-endian: the low bytes
}
inline long double get(const Tensor &x, int64_t i) {
    if (!integer_type(x.dtype())) return x.load(i);
    const std::size_t size = einfuse::dtype_size(x.dtype());
    uint64_t bits = 0;
    std::memcpy(&bits, static_cast<const char *>(x.data()) + size * i, size);
    const int width = 8 * static_cast<int>(size);
    if (einfuse::is_unsigned(x.dtype()) || width == 64)
        return einfuse::is_unsigned(x.dtype()) ? static_cast<long double>(bits)
                                               : static_cast<long double>(static_cast<int64_t>(bits));
    if (bits >> (width - 1)) return static_cast<long double>(bits) - std::ldexp(1.0L, width);
    return static_cast<long double>(bits);
}

/** v wrapped to t's width, as two's complement arithmetic (and numpy) wrap. */
inline long double wrap(long double v, DType t) {
    auto u = static_cast<uint64_t>(static_cast<unsigned __int128>(static_cast<__int128>(v)));
    const int width = einfuse::dtype_bits(t);
    if (width < 64) u &= (uint64_t{1} << width) - 1;
    if (einfuse::is_unsigned(t)) return static_cast<long double>(u);
    if (width == 64) return static_cast<long double>(static_cast<int64_t>(u));
    return (u >> (width - 1)) ? static_cast<long double>(u) - std::ldexp(1.0L, width) : static_cast<long double>(u);
}

/** The float64 reference's meaning (ir/Reference.cpp), in long double; integer results wrap. */
inline long double reference(UnaryOp op, long double x, DType t) {
    switch (op) {
    case UnaryOp::Neg:
        return integer_type(t) ? wrap(-x, t) : -x;
    case UnaryOp::Exp:
        return std::exp(x);
    case UnaryOp::Log:
        return std::log(x);
    case UnaryOp::Sqrt:
        return std::sqrt(x);
    case UnaryOp::Rsqrt:
        return 1 / std::sqrt(x);
    case UnaryOp::Abs:
        return integer_type(t) ? wrap(std::fabs(x), t) : std::fabs(x);
    case UnaryOp::Tanh:
        return std::tanh(x);
    case UnaryOp::Sigmoid:
        return 1 / (1 + std::exp(-x));
    case UnaryOp::Relu:
        return x > 0 ? x : 0;
    case UnaryOp::Gelu:
        return x / 2 * std::erfc(-x / std::sqrt(2.0L));
    case UnaryOp::Sin:
        return std::sin(x);
    case UnaryOp::Cos:
        return std::cos(x);
    case UnaryOp::Floor:
        return std::floor(x);
    case UnaryOp::Ceil:
        return std::ceil(x);
    case UnaryOp::Sign:
        return (x > 0) - (x < 0);
    case UnaryOp::Conj: // of a real value
    case UnaryOp::Real:
        return x;
    case UnaryOp::Imag:
        return 0;
    }
    return 0;
}
inline long double reference(BinaryOp op, long double a, long double b) {
    switch (op) {
    case BinaryOp::Max: // maxNum: a NaN operand is ignored (docs/language.md, "NaN")
        return std::fmax(a, b);
    case BinaryOp::Min:
        return std::fmin(a, b);
    case BinaryOp::Pow:
        return std::pow(a, b);
    case BinaryOp::Lt:
        return a < b;
    case BinaryOp::Le:
        return a <= b;
    case BinaryOp::Gt:
        return a > b;
    case BinaryOp::Ge:
        return a >= b;
    case BinaryOp::Eq:
        return a == b;
    case BinaryOp::Ne:
        return a != b;
    default:
        return a + b; // Add..Div are tested elsewhere
    }
}

/** |got - want| in ulps of t at |want| (at least t's smallest normal); 0 when both are the same
 * infinity or both NaN. */
inline double error_ulps(long double got, long double want, DType t) {
    if (got == want || (std::isnan(got) && std::isnan(want))) return 0;
    if (einfuse::is_integer(t) || std::isnan(got) || std::isnan(want)) return std::numeric_limits<double>::infinity();
    bool f32 = t == DType::F32;
    long double mag = std::max(std::fabs(want), f32 ? (long double)std::numeric_limits<float>::min()
                                                    : (long double)std::numeric_limits<double>::min());
    long double ulp = std::ldexp(1.0L, std::ilogb(mag) - (f32 ? 23 : 52));
    return static_cast<double>(std::fabs(got - want) / ulp);
}

/** A unary operator on inputs uniform in [lo, hi] (plus the edge values that fit), allowed
 * `ulps + per_x2 * x^2` ulps of error: per_x2 covers gelu, where the rounding of x/sqrt2 is
 * amplified by erfc's condition number, about 1 + x^2. 0 ulps: exact. `integers`: also i32/i64. */
struct UnaryRow {
    UnaryOp op;
    double lo, hi, ulps, per_x2;
    bool integers;
};

/** Budgets: glibc's libm and CUDA's math library document at most 1-4 ulps for these functions
 * (CUDA: expf 2, sinf 2, tanhf 2, erfcf 4; f64 erfc 5); composite ops (rsqrt = 1/sqrt, sigmoid)
 * add a rounding or two. */
inline const UnaryRow kUnaryRows[] = {
    {UnaryOp::Neg, -4, 4, 0, 0, true},        {UnaryOp::Exp, -10, 10, 4, 0, false},
    {UnaryOp::Log, 1e-3, 100, 4, 0, false},   {UnaryOp::Sqrt, 0, 100, 1, 0, false},
    {UnaryOp::Rsqrt, 1e-3, 100, 3, 0, false}, {UnaryOp::Abs, -4, 4, 0, 0, true},
    {UnaryOp::Tanh, -5, 5, 4, 0, false},      {UnaryOp::Sigmoid, -20, 20, 4, 0, false},
    {UnaryOp::Relu, -4, 4, 0, 0, true},       {UnaryOp::Gelu, -4, 4, 6, 1.5, false},
    {UnaryOp::Sin, -6, 6, 4, 0, false},       {UnaryOp::Cos, -6, 6, 4, 0, false},
    {UnaryOp::Floor, -10, 10, 0, 0, false},   {UnaryOp::Ceil, -10, 10, 0, 0, false},
    {UnaryOp::Sign, -2, 2, 0, 0, true},
};

/** A binary operator. `discrete`: operands drawn from a few values, so that ties and equality
 * happen, with NaN for the comparisons (NaN compares false except !=); else uniform in [lo, hi]
 * (pow: base in [lo, hi], exponent in [-4, 4]). */
struct BinaryRow {
    BinaryOp op;
    double lo, hi, ulps;
    bool discrete, integers;
};

inline const BinaryRow kBinaryRows[] = {
    {BinaryOp::Pow, 0.1, 4, 4, false, false}, {BinaryOp::Max, -4, 4, 0, true, true},
    {BinaryOp::Min, -4, 4, 0, true, true},    {BinaryOp::Lt, -4, 4, 0, true, true},
    {BinaryOp::Le, -4, 4, 0, true, true},     {BinaryOp::Gt, -4, 4, 0, true, true},
    {BinaryOp::Ge, -4, 4, 0, true, true},     {BinaryOp::Eq, -4, 4, 0, true, true},
    {BinaryOp::Ne, -4, 4, 0, true, true},
};

constexpr int64_t kOpsLength = 4099; // not a multiple of any vector width: the remainder loop runs too

inline bool is_comparison(BinaryOp op) { return op >= BinaryOp::Lt; }

/** n values of t: the edges first (those within [lo, hi] for floats; 0, +-1, the extremes for
 * integers), then uniform in [lo, hi] (integers: in [-1000, 1000]). */
inline Tensor random_input(DType t, int64_t n, double lo, double hi) {
    Tensor x(t, {n});
    std::vector<long double> edges;
    if (integer_type(t)) {
        long double min = integer_min(t), max = integer_max(t);
        edges = {0, 1, -1, 2, -3, min, max, min + 1, max - 1}; // put wraps -1 and -3 for unsigned types
    } else {
        for (long double e : {0.0L, -0.0L, 1.0L, -1.0L, 0.5L, -0.5L, 2.0L, -2.5L, 3.0L})
            if (e >= lo && e <= hi) edges.push_back(e);
    }
    std::uniform_real_distribution<double> u(lo, hi);
    std::uniform_int_distribution<int> small(-1000, 1000);
    for (int64_t i = 0; i < n; ++i) {
        if (i < static_cast<int64_t>(edges.size()))
            put(x, i, edges[i]);
        else
            put(x, i, integer_type(t) ? small(ops_rng()) : u(ops_rng()));
    }
    return x;
}

/** n values drawn from a few, NaN among them when `nan` (floats only). */
inline Tensor discrete_input(DType t, int64_t n, bool nan) {
    std::vector<long double> values = {-2, -1, 0, 1, 3};
    if (!integer_type(t)) {
        values.push_back(0.5);
        values.push_back(-0.0L);
        if (nan) values.push_back(std::numeric_limits<long double>::quiet_NaN());
    } else {
        values.push_back(einfuse::is_unsigned(t) ? integer_max(t) : integer_min(t));
    }
    std::uniform_int_distribution<std::size_t> pick(0, values.size() - 1);
    Tensor x(t, {n});
    for (int64_t i = 0; i < n; ++i)
        put(x, i, values[pick(ops_rng())]);
    return x;
}

/** Runs one elementwise kernel and counts the elements beyond the tolerance; reports the worst. */
inline void check_elementwise(const KernelRunner &run, const Kernel &k, const std::vector<Tensor> &ins,
                              const std::function<long double(int64_t)> &want,
                              const std::function<double(int64_t)> &allowed_ulps) {
    DType t = k.params.back().dtype;
    Tensor out(t, {kOpsLength});
    for (int64_t i = 0; i < kOpsLength; ++i) // NaN / a marker: an element never written fails
        put(out, i, integer_type(t) ? 12345 : std::numeric_limits<long double>::quiet_NaN());
    std::vector<const Tensor *> ptrs;
    for (const auto &x : ins)
        ptrs.push_back(&x);
    run(k, ptrs, out, {kOpsLength});
    int bad = 0;
    double worst = 0;
    int64_t worst_at = 0;
    for (int64_t i = 0; i < kOpsLength; ++i) {
        double e = error_ulps(get(out, i), want(i), t);
        if (e > allowed_ulps(i)) ++bad;
        if (e > worst || std::isnan(e)) worst = e, worst_at = i;
    }
    CAPTURE(k.name);
    CAPTURE(worst);
    CAPTURE(static_cast<double>(get(ins[0], worst_at)));
    CAPTURE(static_cast<double>(get(out, worst_at)));
    CAPTURE(static_cast<double>(want(worst_at)));
    CHECK(bad == 0);
}

inline void check_unary(const KernelRunner &run, const UnaryRow &row, DType t) {
    std::vector<Tensor> ins = {random_input(t, kOpsLength, row.lo, row.hi)};
    const Tensor &x = ins[0];
    check_elementwise(
        run, unary_kernel(row.op, t), ins, [&](int64_t i) { return reference(row.op, get(x, i), t); },
        [&](int64_t i) { return row.ulps + row.per_x2 * static_cast<double>(get(x, i) * get(x, i)); });
}

inline void check_binary(const KernelRunner &run, const BinaryRow &row, DType t) {
    std::vector<Tensor> ins;
    if (row.discrete) {
        // NaN among the operands of the comparisons and of max/min, whose NaN rule is stated.
        bool nan = is_comparison(row.op) || row.op == BinaryOp::Max || row.op == BinaryOp::Min;
        ins.push_back(discrete_input(t, kOpsLength, nan));
        ins.push_back(discrete_input(t, kOpsLength, nan));
    } else {
        ins.push_back(random_input(t, kOpsLength, row.lo, row.hi));
        ins.push_back(random_input(t, kOpsLength, -4, 4));
    }
    const Tensor &a = ins[0], &b = ins[1];
    check_elementwise(
        run, binary_kernel(row.op, t), ins, [&](int64_t i) { return reference(row.op, get(a, i), get(b, i)); },
        [&](int64_t) { return row.ulps; });
}

/** where(c, a, b) with c among 0, -0, 1, -2, 0.5 and NaN (a NaN condition is != 0: picks a). */
inline void check_select(const KernelRunner &run, DType t) {
    std::vector<Tensor> ins = {discrete_input(t, kOpsLength, true), random_input(t, kOpsLength, -4, 4),
                               random_input(t, kOpsLength, -4, 4)};
    const Tensor &c = ins[0], &a = ins[1], &b = ins[2];
    check_elementwise(
        run, select_kernel(t), ins, [&](int64_t i) { return get(c, i) != 0 ? get(a, i) : get(b, i); },
        [](int64_t) { return 0.0; });
}

/** The Gaussian kernel sum, a nest with two accumulators:
 *   parallel for i { acc = 0; for j { d2 = 0; for d { d2 = d2 + (x[i,d] - y[j,d]) * (x[i,d] - y[j,d]) }
 *                                     acc = acc + exp(-d2) * w[j] }
 *                    out[i] = acc } */
inline Kernel gauss_kernel(DType t, const std::string &name) {
    Expr diff = Binary::make(BinaryOp::Sub, Access::make(t, "x", {"i", "d"}), Access::make(t, "y", {"j", "d"}));
    Expr d2 = ScalarRef::make(t, "d2"), acc = ScalarRef::make(t, "acc");
    Expr term = Binary::make(BinaryOp::Mul, Unary::make(UnaryOp::Exp, Unary::make(UnaryOp::Neg, d2)),
                             Access::make(t, "w", {"j"}));
    Stmt over_j = Block::make({
        DeclareScalar::make("d2", t, Const::make(t, 0)),
        For::make("d", LoopKind::Serial,
                  AssignScalar::make("d2", Binary::make(BinaryOp::Add, d2, Binary::make(BinaryOp::Mul, diff, diff)))),
        AssignScalar::make("acc", Binary::make(BinaryOp::Add, acc, term)),
    });
    Kernel k;
    k.name = name;
    k.comment = "out[i] = sum_j exp(-sum_d (x[i,d] - y[j,d])^2) * w[j]";
    k.params = {{"x", t, 2}, {"y", t, 2}, {"w", t, 1}, {"out", t, 1}};
    k.num_inputs = 3;
    k.index_vars = {"i", "j", "d"};
    k.body = For::make("i", LoopKind::Parallel,
                       Block::make({DeclareScalar::make("acc", t, Const::make(t, 0)),
                                    For::make("j", LoopKind::Serial, over_j), Store::make("out", {"i"}, acc)}));
    return k;
}

/** Runs the Gaussian kernel sum on x in [-1, 1)^D against a long double loop. Each term's
 * exponent d2 <= 4D carries ~(D + 2) roundings relative to d2, which exp turns into an error of
 * d2 * (D + 2) * eps relative to the term; the sum adds J roundings: the bound is relative to the
 * sum of |terms|. */
inline void check_gauss(const KernelRunner &run, DType t, int64_t I, int64_t J, int64_t D) {
    std::mt19937_64 &r = ops_rng();
    Tensor x(t, {I, D}), y(t, {J, D}), w(t, {J});
    x.fill_random(r);
    y.fill_random(r);
    w.fill_random(r);
    Tensor out(t, {I});
    run(gauss_kernel(t, "gauss"), {&x, &y, &w}, out, {I, J, D});
    double eps = t == DType::F32 ? std::numeric_limits<float>::epsilon() : std::numeric_limits<double>::epsilon();
    int bad = 0;
    double worst = 0;
    for (int64_t i = 0; i < I; ++i) {
        long double want = 0, magnitude = 0, bound = 0;
        for (int64_t j = 0; j < J; ++j) {
            long double d2 = 0;
            for (int64_t d = 0; d < D; ++d) {
                long double diff = get(x, i * D + d) - get(y, j * D + d);
                d2 += diff * diff;
            }
            long double term = std::exp(-d2) * get(w, j);
            want += term;
            magnitude += std::fabs(term);
            bound += std::fabs(term) * (d2 * (D + 2) + 4) * eps;
        }
        bound += magnitude * (J + 1) * eps;
        long double err = std::fabs(get(out, i) - want);
        worst = std::max(worst, static_cast<double>(err / std::max(bound, (long double)1e-300)));
        if (!(err <= bound)) ++bad;
    }
    CAPTURE(dtype_name(t));
    CAPTURE(worst); // the worst error as a fraction of its bound
    CHECK(bad == 0);
}

} // namespace einfuse::test
