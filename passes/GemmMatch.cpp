#include "passes/GemmMatch.h"

#include "ir/IRVisitor.h"
#include "ir/Walk.h"

#include <algorithm>

namespace einfuse::passes {

namespace {

bool contains(const std::vector<std::string> &v, const std::string &x) {
    return std::find(v.begin(), v.end(), x) != v.end();
}

/** The Access under any Casts (f16 operands are read as Cast(f32, x[...])). */
const ir::Access *operand(const ir::Expr &e) {
    if (const auto *c = e.as<ir::Cast>()) return operand(c->value);
    return e.as<ir::Access>();
}

std::string join(const std::vector<std::string> &v) {
    std::string out;
    for (const auto &x : v) out += (out.empty() ? "" : ",") + x;
    return out.empty() ? "-" : out;
}

/** Every Reduce in e that reduces over something, outermost first. */
void find_sums(const ir::Expr &e, std::vector<const ir::Reduce *> &out) {
    struct Sums : ir::IRVisitor {
        std::vector<const ir::Reduce *> &out;
        explicit Sums(std::vector<const ir::Reduce *> &o) : out(o) {}
        using ir::IRVisitor::visit;
        void visit(const ir::Reduce &r) override {
            if (!r.reduce_vars.empty()) out.push_back(&r);
            ir::IRVisitor::visit(r);
        }
    } sums(out);
    sums.walk(e);
}

bool holds(const ir::Expr &e, const ir::Reduce *r) {
    struct Find : ir::IRVisitor {
        const ir::Reduce *r;
        bool found = false;
        explicit Find(const ir::Reduce *target) : r(target) {}
        using ir::IRVisitor::visit;
        void visit(const ir::Reduce &n) override {
            found |= &n == r;
            ir::IRVisitor::visit(n);
        }
    } find(r);
    find.walk(e);
    return find.found;
}

/** alpha when e is the product times (or over) a constant, or the product itself. */
std::optional<double> scaled_product(const ir::Expr &e, const ir::Reduce *product) {
    if (e.get() == product) return 1.0;
    const auto *b = e.as<ir::Binary>();
    if (!b) return std::nullopt;
    const auto *ca = b->a.as<ir::Const>(), *cb = b->b.as<ir::Const>();
    if (b->op == ir::BinaryOp::Mul && ca && b->b.get() == product) return ca->value;
    if (b->op == ir::BinaryOp::Mul && cb && b->a.get() == product) return cb->value;
    if (b->op == ir::BinaryOp::Div && cb && b->a.get() == product && cb->value != 0) return 1.0 / cb->value;
    return std::nullopt;
}

bool same_set(const std::vector<std::string> &a, const std::vector<std::string> &b) {
    return a.size() == b.size() && std::all_of(a.begin(), a.end(), [&](const std::string &v) { return contains(b, v); });
}

/** The epilogue `epi` (an expression holding `product`) as cuBLASLt fuses it:
 * relu?(alpha * product + addend + bias). */
std::optional<ir::LibraryEpilogue> library_epilogue(const ir::Expr &epi, const ir::Reduce *product, const ir::Gemm &g,
                                                    const std::vector<std::string> &out_indices, DType out_type,
                                                    std::string *why_not) {
    auto refuse = [&](std::string why) -> std::optional<ir::LibraryEpilogue> {
        *why_not = std::move(why);
        return std::nullopt;
    };
    ir::LibraryEpilogue lib;
    ir::Expr e = epi;
    if (const auto *c = e.as<ir::Cast>(); c && c->type == out_type) e = c->value; // the store's rounding
    if (const auto *u = e.as<ir::Unary>()) {
        if (u->op == ir::UnaryOp::Gelu)
            return refuse("cuBLASLt's GELU is the tanh approximation, and gelu here is the exact one (erf)");
        if (u->op == ir::UnaryOp::Relu) {
            lib.relu = true;
            e = u->a;
        }
    }
    std::vector<ir::Expr> terms = ir::flatten(e, ir::BinaryOp::Add);
    bool has_product = false;
    for (const auto &t : terms) {
        if (holds(t, product)) {
            auto alpha = scaled_product(t, product);
            if (!alpha || has_product)
                return refuse("the product goes through other arithmetic (cuBLASLt fuses a constant scale, a bias, "
                              "an added tensor and relu)");
            lib.alpha = *alpha;
            has_product = true;
            continue;
        }
        const ir::Access *x = operand(t);
        if (!x) return refuse("the epilogue does more than add a bias or a tensor, scale, and apply relu");
        if (x->type != out_type) return refuse("'" + x->tensor + "' is not of the output's type");
        const std::vector<std::string> x_vars = ir::expect_vars(x->tensor, x->indices); // match_gemm checked
        if (same_set(x_vars, out_indices) && x_vars.size() == out_indices.size() && lib.addend.empty()) {
            lib.addend = x->tensor;
        } else if (x_vars.size() == 1 && lib.bias.empty() &&
                   ((g.m.size() == 1 && x_vars[0] == g.m[0]) || (g.n.size() == 1 && x_vars[0] == g.n[0]))) {
            lib.bias = x->tensor;
            lib.bias_var = x_vars[0];
        } else {
            return refuse("'" + x->tensor + "' is neither a bias along M or N nor a tensor of the output's shape");
        }
    }
    return lib;
}

/** Library dtypes: both operands and the output of one type among f16, bf16, f32 and f64. */
std::optional<std::string> library_types(DType a, DType b, DType out) {
    if (a != b || a != out) return std::string("the operands and the output are not all of one type");
    if (is_integer(a)) return std::string("cuBLASLt has no ") + std::string(dtype_name(a)) + " GEMM";
    return std::nullopt;
}

} // namespace

std::optional<ir::Gemm> match_gemm(const ir::Program &p, const ir::Definition &d, std::string *why_not) {
    auto refuse = [&](std::string why) -> std::optional<ir::Gemm> {
        *why_not = std::move(why);
        return std::nullopt;
    };
    const auto *top = d.value.as<ir::Reduce>();
    if (!top) return refuse("not a sum");
    // The matrix layout comes from index variables; x[h + r] has none to fold into M, N or K.
    if (std::string why = ir::non_var_index(d.value); !why.empty()) return refuse(why);
    std::vector<const ir::Reduce *> sums;
    find_sums(d.value, sums);
    if (sums.empty()) return refuse("nothing is contracted");
    if (sums.size() > 1) return refuse("it holds " + std::to_string(sums.size()) + " reductions, not one sum of products");
    const ir::Reduce *r = sums[0];
    if (r->op != ir::ReduceOp::Sum) return refuse("not a sum");
    const auto *mul = r->body.as<ir::Binary>();
    if (!mul || mul->op != ir::BinaryOp::Mul) return refuse("the summand is not a product of two tensors");
    const ir::Access *a = operand(mul->a), *b = operand(mul->b);
    if (!a || !b) return refuse("the summand is not a product of two tensor reads");
    if (a->tensor == b->tensor) return refuse("both factors read " + a->tensor);
    const std::vector<std::string> a_vars = ir::expect_vars(a->tensor, a->indices);
    const std::vector<std::string> b_vars = ir::expect_vars(b->tensor, b->indices);
    for (const auto *x : {&a_vars, &b_vars})
        for (const auto &v : *x)
            if (std::count(x->begin(), x->end(), v) > 1)
                return refuse((x == &a_vars ? a : b)->tensor + " is read on a diagonal of '" + v + "'");
    for (const auto &v : d.indices)
        if (!contains(a_vars, v) && !contains(b_vars, v))
            return refuse("the output index '" + v + "' is in neither operand (a broadcast of the result)");

    ir::Gemm g;
    g.a = a->tensor;
    g.b = b->tensor;
    for (const auto &v : d.indices) {
        bool in_a = contains(a_vars, v), in_b = contains(b_vars, v);
        (in_a && in_b ? g.batch : in_a ? g.m : g.n).push_back(v);
    }
    for (const auto &v : a_vars)
        if (!contains(d.indices, v)) {
            if (!contains(b_vars, v)) return refuse("'" + v + "' is summed over " + a->tensor + " alone");
            g.k.push_back(v);
        }
    for (const auto &v : b_vars)
        if (!contains(d.indices, v) && !contains(a_vars, v))
            return refuse("'" + v + "' is summed over " + b->tensor + " alone");
    if (g.k.empty()) return refuse("nothing is contracted between the two operands");

    DType out_type = p.find_tensor(d.tensor)->dtype;
    if (auto why = library_types(a->type, b->type, out_type)) {
        g.library_why_not = *why;
    } else {
        // The epilogue is the definition's value around the sum; a bare sum has none.
        ir::Expr epi = top == r ? d.value : top->body;
        g.library = library_epilogue(epi, r, g, d.indices, out_type, &g.library_why_not);
    }
    return g;
}

std::string describe(const ir::Gemm &g) {
    return "batch " + join(g.batch) + ", M " + join(g.m) + ", N " + join(g.n) + ", K " + join(g.k) + " (A = " + g.a +
           ", B = " + g.b + ")";
}

} // namespace einfuse::passes
