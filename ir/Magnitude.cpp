#include "ir/Magnitude.h"

#include "ir/Walk.h"
#include "support/Error.h"

#include <cmath>
#include <set>

namespace einfuse::ir {

namespace {

constexpr DType kF64 = DType::F64;

Expr number(double v) { return Const::make(kF64, v); }
Expr f64(const Expr &e) { return Cast::make(kF64, e); }
Expr abs_of(const Expr &e) { return Unary::make(UnaryOp::Abs, f64(e)); }
Expr add(Expr a, Expr b) { return Binary::make(BinaryOp::Add, std::move(a), std::move(b)); }
Expr mul(Expr a, Expr b) { return Binary::make(BinaryOp::Mul, std::move(a), std::move(b)); }
Expr larger(Expr a, Expr b) { return Binary::make(BinaryOp::Max, std::move(a), std::move(b)); }

/** `scaled` (a multiple of m), and 0 where m is 0: a value that carries no error carries none
 * through a pole or an infinite logarithm. */
Expr unless_zero(const Expr &m, Expr scaled) {
    return Select::make(f64(Binary::make(BinaryOp::Eq, m, number(0))), number(0), std::move(scaled));
}
Expr ratio(const Expr &m, const Expr &d) { return unless_zero(m, Binary::make(BinaryOp::Div, m, d)); }

/** m(e), the rules of Magnitude.h, over expressions of magnitudes (f64) and of e's values. */
class Magnitudes {
  public:
    Expr of(const Expr &e) const {
        if (is_integer(e.type())) return abs_of(e); // exact, or wrapping: no rounding to scale
        return visit(e, [&](const auto &n) { return node(e, n); });
    }

  private:
    Expr node(const Expr &, const Const &c) const { return number(std::abs(c.value)); }
    Expr node(const Expr &, const Access &a) const {
        return Access::make(kF64, a.tensor + kMagnitudeSuffix, a.indices);
    }
    Expr node(const Expr &, const Cast &c) const { return of(c.value); }
    Expr node(const Expr &, const Select &s) const { return Select::make(f64(s.cond), of(s.a), of(s.b)); }
    Expr node(const Expr &, const ScalarRef &s) const {
        throw InternalError("ScalarRef '" + s.name + "' in a program");
    }

    Expr node(const Expr &e, const Unary &u) const {
        Expr m = of(u.a), value = abs_of(e);
        switch (u.op) {
        case UnaryOp::Neg:
        case UnaryOp::Abs:
        case UnaryOp::Conj:
        case UnaryOp::Real:
        case UnaryOp::Relu:
            return m; // |f'| <= 1 and |f(a)| <= |a| <= m(a)
        case UnaryOp::Imag:
            return number(0);
        case UnaryOp::Exp:
            return mul(value, add(m, number(1)));
        case UnaryOp::Log:
            return add(ratio(m, abs_of(u.a)), value);
        case UnaryOp::Sqrt:
            return add(ratio(m, mul(number(2), value)), value);
        case UnaryOp::Rsqrt:
            return mul(value, add(ratio(m, mul(number(2), abs_of(u.a))), number(1)));
        case UnaryOp::Tanh:
        case UnaryOp::Sin:
        case UnaryOp::Cos:
            return add(m, value);
        case UnaryOp::Sigmoid:
            return add(mul(number(0.25), m), value);
        case UnaryOp::Gelu:
            return add(mul(number(1.13), m), value); // max |gelu'| = 1.1289
        case UnaryOp::Floor:
        case UnaryOp::Ceil:
        case UnaryOp::Sign:
            return value; // steps: a jump is not a rounding error
        }
        throw InternalError("a unary operation without a magnitude rule");
    }

    Expr node(const Expr &e, const Binary &b) const {
        switch (b.op) {
        case BinaryOp::Add:
        case BinaryOp::Sub:
            return add(of(b.a), of(b.b));
        case BinaryOp::Mul:
            return mul(of(b.a), of(b.b));
        case BinaryOp::Div: {
            Expr divisor = abs_of(b.b);
            return add(ratio(of(b.a), divisor), mul(abs_of(b.a), ratio(of(b.b), mul(divisor, divisor))));
        }
        case BinaryOp::Max:
        case BinaryOp::Min:
            return larger(of(b.a), of(b.b));
        case BinaryOp::Pow: {
            // d/da a^b = b a^(b-1); d/db a^b = a^b log|a| (only where b is not a constant).
            Expr minus_one = Binary::make(BinaryOp::Sub, b.b, Const::make(b.b.type(), 1));
            Expr m =
                add(mul(mul(abs_of(b.b), abs_of(Binary::make(BinaryOp::Pow, b.a, minus_one))), of(b.a)), abs_of(e));
            if (b.b.as<Const>()) return m;
            Expr log_a = abs_of(Unary::make(UnaryOp::Log, Unary::make(UnaryOp::Abs, b.a)));
            Expr mb = of(b.b);
            return add(m, unless_zero(mb, mul(mul(mb, abs_of(e)), log_a)));
        }
        case BinaryOp::Lt:
        case BinaryOp::Le:
        case BinaryOp::Gt:
        case BinaryOp::Ge:
        case BinaryOp::Eq:
        case BinaryOp::Ne:
            return abs_of(e); // 0 or 1: a step, as floor's
        }
        throw InternalError("a binary operation without a magnitude rule");
    }

    Expr node(const Expr &, const Reduce &r) const {
        ReduceOp op = r.op == ReduceOp::Min ? ReduceOp::Max : r.op; // sum, prod of m; max, min: the largest m
        return Reduce::make(r.out_vars, r.reduce_vars, op, of(r.body));
    }
};

TensorInfo magnitude_of(const TensorInfo &t) { return {t.name + kMagnitudeSuffix, kF64, t.rank}; }

} // namespace

Program magnitude_program(const Program &p) {
    EINFUSE_ASSERT(!has_complex_type(p), "magnitude_program of a complex program");
    Program all;
    all.index_vars = p.index_vars;
    all.source = p.source;
    all.name = p.name;
    all.inputs = p.inputs;
    for (const auto &t : p.inputs)
        all.inputs.push_back(magnitude_of(t));
    for (const auto &t : p.outputs)
        all.outputs.push_back(magnitude_of(t));
    Magnitudes magnitudes;
    for (const auto &d : p.definitions) {
        all.definitions.push_back(d);
        Expr m = magnitudes.of(d.value);
        if (!m.as<Reduce>()) m = Reduce::make(d.indices, {}, ReduceOp::Sum, m); // a definition's form
        all.definitions.push_back({d.tensor + kMagnitudeSuffix, d.indices, m});
    }
    // Only the definitions the outputs' magnitudes read (an einsum's values are not among them).
    std::set<std::string> needed;
    for (const auto &t : all.outputs)
        needed.insert(t.name);
    Program q = all;
    q.definitions.clear();
    for (auto d = all.definitions.rbegin(); d != all.definitions.rend(); ++d) {
        if (!needed.count(d->tensor)) continue;
        q.definitions.insert(q.definitions.begin(), *d);
        for_each_access(d->value, [&](const Access &a) { needed.insert(a.tensor); });
    }
    for (const auto &d : q.definitions) // every tensor defined and not returned
        if (!q.find_tensor(d.tensor))
            q.temporaries.push_back({d.tensor, d.value.type(), static_cast<int>(d.indices.size())});
    return q;
}

} // namespace einfuse::ir
