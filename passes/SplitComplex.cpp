#include "passes/SplitComplex.h"

#include "ir/Printer.h"
#include "ir/Walk.h"
#include "passes/GemmMatch.h"
#include "support/Error.h"

#include <functional>
#include <optional>
#include <set>

namespace einfuse::passes {

using namespace ir;

namespace {

/** Whether e applies conj, real or imag (to a real value, when no type is complex). */
bool has_part_op(const Expr &e) {
    if (const auto *u = e.as<Unary>())
        if (u->op == UnaryOp::Conj || u->op == UnaryOp::Real || u->op == UnaryOp::Imag) return true;
    for (const auto &c : children(e))
        if (has_part_op(c)) return true;
    return false;
}

/** A complex value as its parts; an undefined im is a structural zero (a real operand, a
 * literal), so that a c64 einsum with an f32 operand multiplies two parts, not four. */
struct Parts {
    Expr re, im;
};

Expr zero(DType t) { return Const::make(t, 0.0); }
Expr add(const Expr &a, const Expr &b) {
    if (!a.defined()) return b;
    if (!b.defined()) return a;
    return Binary::make(BinaryOp::Add, a, b);
}
Expr neg(const Expr &a) { return a.defined() ? Unary::make(UnaryOp::Neg, a) : a; }
Expr sub(const Expr &a, const Expr &b) {
    if (!b.defined()) return a;
    if (!a.defined()) return neg(b);
    return Binary::make(BinaryOp::Sub, a, b);
}
Expr mul(const Expr &a, const Expr &b) {
    if (!a.defined() || !b.defined()) return Expr();
    return Binary::make(BinaryOp::Mul, a, b);
}
Expr or_zero(const Expr &e, DType t) { return e.defined() ? e : zero(t); }

class Splitter {
public:
    explicit Splitter(std::map<std::string, std::pair<std::string, std::string>> names) : names_(std::move(names)) {}

    /** A real-typed expression, with its complex subexpressions split. */
    Expr real(const Expr &e) const {
        if (const auto *u = e.as<Unary>()) {
            if (is_complex(u->a.type())) {
                Parts p = split(u->a);
                const DType t = u->type;
                switch (u->op) {
                case UnaryOp::Real: return or_zero(p.re, t);
                case UnaryOp::Imag: return or_zero(p.im, t);
                case UnaryOp::Abs: // |z| = sqrt(re^2 + im^2)
                    if (!p.im.defined()) return Unary::make(UnaryOp::Abs, p.re);
                    return Unary::make(UnaryOp::Sqrt, add(mul(p.re, p.re), mul(p.im, p.im)));
                default: break;
                }
                throw InternalError(std::string(unary_op_name(u->op)) + " of a complex value has a complex result");
            }
            if (u->op == UnaryOp::Conj || u->op == UnaryOp::Real) return real(u->a); // of a real x: x
            if (u->op == UnaryOp::Imag) return zero(u->type);
        }
        if (const auto *c = e.as<Cast>(); c && is_complex(c->value.type())) // numpy drops the imaginary part
            return Cast::make(c->type, or_zero(split(c->value).re, real_part_type(c->value.type())));
        return map_children(e, [&](const Expr &child) { return real(child); });
    }

    /** A complex-typed expression as its real and imaginary parts. */
    Parts split(const Expr &e) const {
        if (!is_complex(e.type())) return {real(e), Expr()};
        return visit(e, [&](const auto &n) { return node(n); });
    }

private:
    Parts node(const Const &n) const {
        return {Const::make(real_part_type(n.type), n.value), Expr()};
    }
    Parts node(const ScalarRef &n) const { throw InternalError("ScalarRef '" + n.name + "' in a program"); }
    Parts node(const Access &n) const {
        const auto &[re, im] = names_.at(n.tensor);
        DType t = real_part_type(n.type);
        return {Access::make(t, re, n.indices), Access::make(t, im, n.indices)};
    }
    Parts node(const Cast &n) const {
        DType t = real_part_type(n.type);
        Parts p = split(n.value);
        return {Cast::make(t, p.re), p.im.defined() ? Cast::make(t, p.im) : Expr()};
    }
    Parts node(const Unary &n) const {
        Parts p = split(n.a);
        switch (n.op) {
        case UnaryOp::Neg: return {neg(p.re), neg(p.im)};
        case UnaryOp::Conj: return {p.re, neg(p.im)};
        case UnaryOp::Exp: { // e^(a+bi) = e^a (cos b + i sin b)
            Expr e = Unary::make(UnaryOp::Exp, p.re);
            if (!p.im.defined()) return {e, Expr()};
            return {mul(e, Unary::make(UnaryOp::Cos, p.im)), mul(e, Unary::make(UnaryOp::Sin, p.im))};
        }
        default: break;
        }
        throw InternalError(std::string(unary_op_name(n.op)) + " of a complex value: the frontend refuses it");
    }
    Parts node(const Binary &n) const {
        Parts a = split(n.a), b = split(n.b);
        const DType t = real_part_type(n.type);
        switch (n.op) {
        case BinaryOp::Add: return {add(a.re, b.re), add(a.im, b.im)};
        case BinaryOp::Sub: return {sub(a.re, b.re), sub(a.im, b.im)};
        case BinaryOp::Mul: // (a + bi)(c + di) = (ac - bd) + (ad + bc)i
            return {sub(mul(a.re, b.re), mul(a.im, b.im)), add(mul(a.re, b.im), mul(a.im, b.re))};
        case BinaryOp::Div: {
            if (!b.im.defined()) return {Binary::make(BinaryOp::Div, a.re, b.re), a.im.defined() ? Binary::make(BinaryOp::Div, a.im, b.re) : Expr()};
            // (a + bi)/(c + di) = ((ac + bd) + (bc - ad)i) / (c^2 + d^2)
            Expr d = add(mul(b.re, b.re), mul(b.im, b.im));
            Expr re = add(mul(a.re, b.re), mul(a.im, b.im));
            Expr im = sub(mul(a.im, b.re), mul(a.re, b.im));
            return {Binary::make(BinaryOp::Div, re, d), Binary::make(BinaryOp::Div, or_zero(im, t), d)};
        }
        case BinaryOp::Eq:
        case BinaryOp::Ne: { // both parts equal; either differs (1 or 0)
            Expr re = Binary::make(n.op, a.re, b.re);
            if (!a.im.defined() && !b.im.defined()) return {re, Expr()};
            Expr im = Binary::make(n.op, or_zero(a.im, t), or_zero(b.im, t));
            return {Binary::make(n.op == BinaryOp::Eq ? BinaryOp::Min : BinaryOp::Max, re, im), Expr()};
        }
        default: break;
        }
        throw InternalError(std::string(binary_op_symbol(n.op)) + " of complex values: the frontend refuses it");
    }
    Parts node(const Select &n) const {
        Parts c = split(n.cond), a = split(n.a), b = split(n.b);
        const DType t = real_part_type(n.type);
        Expr cond = c.re; // where(z, ...) tests z != 0: either part non-zero
        if (c.im.defined())
            cond = Binary::make(BinaryOp::Max, Binary::make(BinaryOp::Ne, c.re, zero(t)), Binary::make(BinaryOp::Ne, c.im, zero(t)));
        Expr im;
        if (a.im.defined() || b.im.defined()) im = Select::make(cond, or_zero(a.im, t), or_zero(b.im, t));
        return {Select::make(cond, a.re, b.re), im};
    }
    Parts node(const Reduce &n) const {
        if (n.op != ReduceOp::Sum)
            throw InternalError(std::string(reduce_op_name(n.op)) + " of complex values: the frontend refuses it");
        Parts p = split(n.body);
        return {Reduce::make(n.out_vars, n.reduce_vars, n.op, p.re),
                p.im.defined() ? Reduce::make(n.out_vars, n.reduce_vars, n.op, p.im) : Expr()};
    }

    std::map<std::string, std::pair<std::string, std::string>> names_;
};

/** Tensor names not yet used by p, nor handed out before. */
class FreshNames {
public:
    explicit FreshNames(const Program &p) {
        for (const auto *list : {&p.inputs, &p.outputs, &p.temporaries})
            for (const auto &t : *list) taken_.insert(t.name);
    }
    std::string operator()(std::string name) {
        while (taken_.count(name)) name += "_";
        taken_.insert(name);
        return name;
    }

private:
    std::set<std::string> taken_;
};

std::map<std::string, std::pair<std::string, std::string>> part_names(const Program &p, FreshNames &fresh) {
    std::map<std::string, std::pair<std::string, std::string>> names;
    for (const auto *list : {&p.inputs, &p.outputs, &p.temporaries})
        for (const auto &t : *list)
            if (is_complex(t.dtype)) {
                std::string re = fresh(t.name + "_re");
                names[t.name] = {re, fresh(t.name + "_im")};
            }
    return names;
}

} // namespace

bool has_complex(const Program &p) {
    if (has_complex_type(p)) return true;
    for (const auto &d : p.definitions)
        if (has_part_op(d.value)) return true;
    return false;
}

namespace {

/** The GEMM strategy's size rule (passes/strategy/Gemm.cpp) with the GPU's K, which is the
 * larger: why a real product of these groups would not be tiled, or "" (unknown sizes: assumed
 * tiled). The sizes read are recorded, as the GEMM strategy records its own. */
std::string too_small_for_gemm(const Gemm &g, const Sizes &sizes) {
    for (const auto *group : {&g.m, &g.n, &g.k})
        for (const auto &v : *group)
            if (!sizes.known(v)) return "";
    std::vector<std::string> mn = g.m;
    mn.insert(mn.end(), g.n.begin(), g.n.end());
    if (sizes.at_least(g.k, 16) && sizes.at_least(g.m, 4) && sizes.at_least(g.n, 4) && sizes.at_least(mn, 256)) return "";
    return "too small for GEMMs: M = " + std::to_string(sizes.shown(g.m)) + ", N = " + std::to_string(sizes.shown(g.n)) +
           ", K = " + std::to_string(sizes.shown(g.k)) + " (they need K >= 16, M and N >= 4, M*N >= 256)";
}

/** d (a complex definition) as four real GEMMs when it is a product of two complex tensors
 * whose real parts' product the GEMM strategy would tile; the definitions in order, or none and
 * *note says why (the plan's line for the direct form). */
std::vector<Definition> four_products(Program &q, const Definition &d, const Splitter &splitter,
                                      const std::pair<std::string, std::string> &out, const Sizes &sizes,
                                      FreshNames &fresh, std::string *note) {
    const std::string direct = "complex " + d.tensor + " computed on its parts " + out.first + ", " + out.second +
                               " as two real sums (not four real GEMMs: ";
    const auto *r = d.value.as<Reduce>();
    const auto *mul = r && r->op == ReduceOp::Sum && !r->reduce_vars.empty() ? r->body.as<Binary>() : nullptr;
    if (!mul || mul->op != BinaryOp::Mul) {
        *note = direct + "not a contraction of two operands)";
        return {};
    }
    Parts a = splitter.split(mul->a), b = splitter.split(mul->b);
    if (!a.im.defined() || !b.im.defined()) {
        *note = direct + "an operand is real, so the direct form has two products already)";
        return {};
    }
    auto product = [&](const std::string &tensor, const Expr &x, const Expr &y) {
        return Definition{tensor, d.indices, Reduce::make(d.indices, r->reduce_vars, ReduceOp::Sum, Binary::make(BinaryOp::Mul, x, y))};
    };
    std::string why;
    std::optional<Gemm> g = match_gemm(q, product(out.first, a.re, b.re), &why);
    if (g) why = too_small_for_gemm(*g, sizes);
    else why = "not a GEMM: " + why;
    if (!why.empty()) {
        *note = direct + why + ")";
        return {};
    }
    const DType t = a.re.type();
    const std::string ii = fresh(d.tensor + "_ii"), ir = fresh(d.tensor + "_ir");
    q.temporaries.push_back({ii, t, static_cast<int>(d.indices.size())});
    q.temporaries.push_back({ir, t, static_cast<int>(d.indices.size())});
    auto with_epilogue = [&](const std::string &tensor, const Expr &x, const Expr &y, BinaryOp op, const std::string &other) {
        Expr sum = Reduce::make({}, r->reduce_vars, ReduceOp::Sum, Binary::make(BinaryOp::Mul, x, y));
        Expr value = Binary::make(op, sum, Access::make(t, other, d.indices));
        return Definition{tensor, d.indices, Reduce::make(d.indices, {}, ReduceOp::Sum, value)};
    };
    *note = "complex product " + d.tensor + "[" + to_string(to_indices(d.indices)) + "] as four real GEMMs (" +
            describe(*g) + " on the parts): " + out.first + " = re*re - " + ii + ", " + out.second + " = re*im + " + ir;
    return {product(ii, a.im, b.im), with_epilogue(out.first, a.re, b.re, BinaryOp::Sub, ii), product(ir, a.im, b.re),
            with_epilogue(out.second, a.re, b.im, BinaryOp::Add, ir)};
}

/** sizes null: every complex product in the direct form (two real sums). */
Program split(const Program &p, const Sizes *sizes, std::vector<std::string> &notes) {
    if (!has_complex(p)) return p;
    FreshNames fresh(p);
    auto names = part_names(p, fresh);
    Splitter splitter(names);
    Program q = p;
    q.complex_parts = names;
    for (auto *list : {&q.inputs, &q.outputs, &q.temporaries}) {
        std::vector<TensorInfo> split;
        for (const auto &t : *list) {
            if (!is_complex(t.dtype)) {
                split.push_back(t);
                continue;
            }
            DType part = real_part_type(t.dtype);
            split.push_back({names.at(t.name).first, part, t.rank});
            split.push_back({names.at(t.name).second, part, t.rank});
        }
        *list = std::move(split);
    }
    q.definitions.clear();
    for (const auto &d : p.definitions) {
        const TensorInfo *t = p.find_tensor(d.tensor);
        if (!t || !is_complex(t->dtype)) {
            q.definitions.push_back({d.tensor, d.indices, splitter.real(d.value)});
            continue;
        }
        std::string note;
        std::vector<Definition> gemms;
        if (sizes) gemms = four_products(q, d, splitter, names.at(d.tensor), *sizes, fresh, &note);
        if (!note.empty()) notes.push_back(note);
        if (!gemms.empty()) {
            q.definitions.insert(q.definitions.end(), gemms.begin(), gemms.end());
            continue;
        }
        Parts v = splitter.split(d.value);
        DType part = real_part_type(t->dtype);
        // A value with no imaginary part (a real einsum stored as complex) still writes its zeros.
        if (!v.im.defined()) v.im = Reduce::make(d.indices, {}, ReduceOp::Sum, zero(part));
        q.definitions.push_back({names.at(d.tensor).first, d.indices, v.re});
        q.definitions.push_back({names.at(d.tensor).second, d.indices, v.im});
    }
    verify(q);
    return q;
}

} // namespace

Program split_complex(const Program &p) {
    std::vector<std::string> notes;
    return split(p, nullptr, notes);
}

Program split_complex(const Program &p, const Sizes &sizes, std::vector<std::string> &notes) {
    return split(p, &sizes, notes);
}

} // namespace einfuse::passes
