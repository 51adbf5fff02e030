#include "ir/LaunchRule.h"

#include "support/Error.h"

#include <limits>

namespace einfuse::ir {

struct SizeExpr::Node {
    SizeOp op;
    int64_t value = 0;              // Const; Stride: the dimension; Aligned: the bytes
    std::string name;               // see SizeExpr::name()
    std::vector<std::string> dims;  // Dense
    std::vector<SizeExpr> operands; // binary: 2; Select: 3; Named: 1
};

namespace {

bool is_leaf(SizeOp op) { return op <= SizeOp::Named; }
bool is_bool(SizeOp op) { return (op >= SizeOp::Lt && op <= SizeOp::Or) || op == SizeOp::Dense || op == SizeOp::Aligned; }

int64_t apply(SizeOp op, int64_t a, int64_t b) {
    switch (op) {
    case SizeOp::Add: return a + b;
    case SizeOp::Sub: return a - b;
    case SizeOp::Mul: return a * b;
    case SizeOp::Div:
        EINFUSE_ASSERT(b != 0, "a launch rule divides by a nonzero value");
        return a / b;
    case SizeOp::CeilDiv:
        EINFUSE_ASSERT(b != 0, "a launch rule divides by a nonzero value");
        return (a + b - 1) / b; // as the printed helper computes it
    case SizeOp::Min: return a < b ? a : b;
    case SizeOp::Max: return a > b ? a : b;
    case SizeOp::Lt: return a < b;
    case SizeOp::Le: return a <= b;
    case SizeOp::Gt: return a > b;
    case SizeOp::Ge: return a >= b;
    case SizeOp::Eq: return a == b;
    case SizeOp::Ne: return a != b;
    case SizeOp::And: return a && b;
    case SizeOp::Or: return a || b;
    default: throw InternalError("not a binary launch-rule operator");
    }
}

/** C's binding strength: an operand binding less tightly than its operator gets parentheses. */
int precedence(SizeOp op) {
    switch (op) {
    case SizeOp::Select: return 0;
    case SizeOp::Or: return 1;
    case SizeOp::And: return 2;
    case SizeOp::Eq: case SizeOp::Ne: case SizeOp::Aligned: return 3; // aligned prints as (... & 15) == 0
    case SizeOp::Lt: case SizeOp::Le: case SizeOp::Gt: case SizeOp::Ge: return 4;
    case SizeOp::Add: case SizeOp::Sub: return 5;
    case SizeOp::Mul: case SizeOp::Div: return 6;
    default: return 9; // leaves and calls
    }
}

const char *infix(SizeOp op) {
    switch (op) {
    case SizeOp::Add: return " + ";
    case SizeOp::Sub: return " - ";
    case SizeOp::Mul: return " * ";
    case SizeOp::Div: return " / ";
    case SizeOp::Lt: return " < ";
    case SizeOp::Le: return " <= ";
    case SizeOp::Gt: return " > ";
    case SizeOp::Ge: return " >= ";
    case SizeOp::Eq: return " == ";
    case SizeOp::Ne: return " != ";
    case SizeOp::And: return " && ";
    case SizeOp::Or: return " || ";
    default: return nullptr;
    }
}

/** Whether `child` needs parentheses as operand `right` of `parent`. Same-level operands on the
 * right keep them unless the operator is associative (a - (b - c), a * (b / c)); comparisons
 * never chain; && inside || keeps them, as -Wparentheses asks. */
bool needs_parens(SizeOp parent, SizeOp child, bool right) {
    int p = precedence(parent), c = precedence(child);
    if (c < p) return true;
    if (c > p) return parent == SizeOp::Or && child == SizeOp::And;
    if (p == 3 || p == 4) return true;
    if (!right) return false;
    return !(child == parent && (parent == SizeOp::Add || parent == SizeOp::Mul || parent == SizeOp::And ||
                                 parent == SizeOp::Or));
}

/** Names of the facts as text (to_string). */
class TextNames : public LaunchNames {
  public:
    std::string size(const std::string &v) const override { return "size(" + v + ")"; }
    std::string stride(const std::string &t, int d) const override {
        return "stride(" + t + "," + std::to_string(d) + ")";
    }
    std::string address(const std::string &t) const override { return "address(" + t + ")"; }
    std::string dense(const std::string &t, const std::vector<std::string> &) const override {
        return "dense(" + t + ")";
    }
    std::string device(const std::string &f) const override { return "device(" + f + ")"; }
};

std::string literal(int64_t v) {
    std::string s = std::to_string(v);
    bool wide = v > std::numeric_limits<int32_t>::max() || v < std::numeric_limits<int32_t>::min();
    if (wide) s += "LL";
    return v < 0 ? "(" + s + ")" : s;
}

} // namespace

SizeOp SizeExpr::op() const {
    EINFUSE_ASSERT(node_, "a defined launch rule");
    return node_->op;
}

const std::string &SizeExpr::name() const {
    EINFUSE_ASSERT(node_, "a defined launch rule");
    return node_->name;
}

SizeExpr SizeExpr::inlined() const {
    if (!contains(SizeOp::Named)) return *this;
    if (node_->op == SizeOp::Named) return node_->operands[0].inlined();
    Node n = *node_;
    for (auto &x : n.operands) x = x.inlined();
    return SizeExpr(std::make_shared<Node>(std::move(n)));
}

SizeExpr SizeExpr::unnamed() const { return op() == SizeOp::Named ? node_->operands[0] : *this; }

bool SizeExpr::is_const(int64_t *value) const {
    if (!node_ || node_->op != SizeOp::Const) return false;
    if (value) *value = node_->value;
    return true;
}

SizeExpr SizeExpr::constant(int64_t v) { return SizeExpr(std::make_shared<Node>(Node{SizeOp::Const, v, "", {}, {}})); }

SizeExpr SizeExpr::size(const std::string &var) {
    EINFUSE_ASSERT(!var.empty(), "a size names its variable");
    return SizeExpr(std::make_shared<Node>(Node{SizeOp::Size, 0, var, {}, {}}));
}

SizeExpr SizeExpr::stride(const std::string &tensor, int dim) {
    EINFUSE_ASSERT(!tensor.empty() && dim >= 0, "a stride names its tensor and a dimension");
    return SizeExpr(std::make_shared<Node>(Node{SizeOp::Stride, dim, tensor, {}, {}}));
}

SizeExpr SizeExpr::aligned(const std::string &tensor, int64_t bytes) {
    EINFUSE_ASSERT(!tensor.empty() && bytes > 0 && (bytes & (bytes - 1)) == 0,
                   "an alignment is a positive power of two of a named tensor");
    return SizeExpr(std::make_shared<Node>(Node{SizeOp::Aligned, bytes, tensor, {}, {}}));
}

SizeExpr SizeExpr::dense(const std::string &tensor, const std::vector<std::string> &dims) {
    EINFUSE_ASSERT(!tensor.empty(), "a density fact names its tensor");
    if (dims.empty()) return constant(1);
    return SizeExpr(std::make_shared<Node>(Node{SizeOp::Dense, 0, tensor, dims, {}}));
}

SizeExpr SizeExpr::device(const std::string &fact) {
    EINFUSE_ASSERT(!fact.empty(), "a device fact has a name");
    return SizeExpr(std::make_shared<Node>(Node{SizeOp::Device, 0, fact, {}, {}}));
}

SizeExpr SizeExpr::named(const std::string &local, const SizeExpr &value) {
    EINFUSE_ASSERT(!local.empty() && value.defined(), "a named value has a name and a value");
    return SizeExpr(std::make_shared<Node>(Node{SizeOp::Named, 0, local, {}, {value}}));
}

SizeExpr SizeExpr::make(SizeOp op, const SizeExpr &a, const SizeExpr &b) {
    EINFUSE_ASSERT(!is_leaf(op) && op != SizeOp::Select, "a binary launch-rule operator");
    EINFUSE_ASSERT(a.defined() && b.defined(), "launch-rule operands are defined");
    int64_t x = 0, y = 0;
    bool ca = a.is_const(&x), cb = b.is_const(&y);
    if ((op == SizeOp::Div || op == SizeOp::CeilDiv) && cb)
        EINFUSE_ASSERT(y != 0, "a launch rule divides by a nonzero constant");
    if (ca && cb) return constant(apply(op, x, y));
    // The folds that keep built-up guards short: 1 && c is c, 0 || c is c, 1 || c is 1; x * 1, x / 1.
    if (op == SizeOp::And && ca && x) return is_bool(b.op()) ? b : make(SizeOp::Ne, b, constant(0));
    if (op == SizeOp::And && cb && y) return is_bool(a.op()) ? a : make(SizeOp::Ne, a, constant(0));
    if (op == SizeOp::And && ((ca && !x) || (cb && !y))) return constant(0);
    if (op == SizeOp::Or && ca && !x) return is_bool(b.op()) ? b : make(SizeOp::Ne, b, constant(0));
    if (op == SizeOp::Or && cb && !y) return is_bool(a.op()) ? a : make(SizeOp::Ne, a, constant(0));
    // c || 1 and 1 || c are 1: rules have no side effects to keep ("nc,nc->n": N < 4 always).
    if (op == SizeOp::Or && ((ca && x) || (cb && y))) return constant(1);
    if (op == SizeOp::Mul && cb && y == 1) return a;
    if (op == SizeOp::Mul && ca && x == 1) return b;
    if ((op == SizeOp::Div || op == SizeOp::CeilDiv) && cb && y == 1) return a;
    return SizeExpr(std::make_shared<Node>(Node{op, 0, "", {}, {a, b}}));
}

SizeExpr SizeExpr::select(const SizeExpr &c, const SizeExpr &a, const SizeExpr &b) {
    EINFUSE_ASSERT(c.defined() && a.defined() && b.defined(), "launch-rule operands are defined");
    if (int64_t v = 0; c.is_const(&v)) return v ? a : b;
    return SizeExpr(std::make_shared<Node>(Node{SizeOp::Select, 0, "", {}, {c, a, b}}));
}

int64_t SizeExpr::evaluate(const LaunchFacts &facts) const {
    const Node &n = *node_;
    auto fact = [](const auto &map, const std::string &key, const char *what) -> const auto & {
        auto it = map.find(key);
        if (it == map.end()) throw InternalError(std::string("a launch rule needs the ") + what + " of " + key);
        return it->second;
    };
    switch (n.op) {
    case SizeOp::Const: return n.value;
    case SizeOp::Size: return fact(facts.sizes, n.name, "size");
    case SizeOp::Stride: {
        const auto &s = fact(facts.strides, n.name, "strides");
        EINFUSE_ASSERT(static_cast<std::size_t>(n.value) < s.size(), "a stride of one of the tensor's dimensions");
        return s[static_cast<std::size_t>(n.value)];
    }
    case SizeOp::Aligned:
        return fact(facts.addresses, n.name, "address") % static_cast<std::uint64_t>(n.value) == 0;
    case SizeOp::Dense: {
        // Row-major in its variables' sizes; a dimension of size 1 may have any stride.
        const auto &s = fact(facts.strides, n.name, "strides");
        EINFUSE_ASSERT(s.size() == n.dims.size(), "one stride per dimension");
        int64_t expected = 1;
        for (std::size_t d = n.dims.size(); d-- > 0;) {
            int64_t size = fact(facts.sizes, n.dims[d], "size");
            if (size > 1 && s[d] != expected) return 0;
            expected *= size;
        }
        return 1;
    }
    case SizeOp::Device: return fact(facts.device, n.name, "device fact");
    case SizeOp::Named: return n.operands[0].evaluate(facts);
    case SizeOp::Select:
        return n.operands[0].evaluate(facts) ? n.operands[1].evaluate(facts) : n.operands[2].evaluate(facts);
    case SizeOp::And: return n.operands[0].evaluate(facts) && n.operands[1].evaluate(facts); // as C: short-circuit
    case SizeOp::Or: return n.operands[0].evaluate(facts) || n.operands[1].evaluate(facts);
    default: return apply(n.op, n.operands[0].evaluate(facts), n.operands[1].evaluate(facts));
    }
}

std::optional<int64_t> SizeExpr::try_evaluate(const LaunchFacts &facts) const {
    const Node &n = *node_;
    auto known = [&](const auto &map, const std::string &key) { return map.count(key) > 0; };
    switch (n.op) {
    case SizeOp::Const: return n.value;
    case SizeOp::Size: return known(facts.sizes, n.name) ? std::optional<int64_t>(facts.sizes.at(n.name)) : std::nullopt;
    case SizeOp::Stride: case SizeOp::Dense:
        if (!known(facts.strides, n.name)) return std::nullopt;
        if (n.op == SizeOp::Dense)
            for (const auto &d : n.dims)
                if (!known(facts.sizes, d)) return std::nullopt;
        return evaluate(facts);
    case SizeOp::Aligned: return known(facts.addresses, n.name) ? std::optional<int64_t>(evaluate(facts)) : std::nullopt;
    case SizeOp::Device: return known(facts.device, n.name) ? std::optional<int64_t>(facts.device.at(n.name)) : std::nullopt;
    case SizeOp::Named: return n.operands[0].try_evaluate(facts);
    case SizeOp::Select: {
        auto c = n.operands[0].try_evaluate(facts);
        if (!c) return std::nullopt;
        return *c ? n.operands[1].try_evaluate(facts) : n.operands[2].try_evaluate(facts);
    }
    case SizeOp::And: case SizeOp::Or: {
        // Either side may decide it: 0 && unknown is 0, 1 || unknown is 1.
        auto a = n.operands[0].try_evaluate(facts), b = n.operands[1].try_evaluate(facts);
        const bool is_and = n.op == SizeOp::And;
        if ((a && (*a != 0) != is_and) || (b && (*b != 0) != is_and)) return is_and ? 0 : 1;
        if (!a || !b) return std::nullopt;
        return is_and ? 1 : 0;
    }
    default: {
        auto a = n.operands[0].try_evaluate(facts), b = n.operands[1].try_evaluate(facts);
        if (!a || !b) return std::nullopt;
        return apply(n.op, *a, *b);
    }
    }
}

std::string SizeExpr::to_json() const {
    const Node &n = *node_;
    auto str = [](const std::string &s) { return "\"" + s + "\""; }; // names are C identifiers
    auto op = [&](const char *name) {
        std::string out = "[" + str(name);
        for (const auto &x : n.operands) out += ", " + x.to_json();
        return out + "]";
    };
    switch (n.op) {
    case SizeOp::Const: return std::to_string(n.value);
    case SizeOp::Size: return "[\"size\", " + str(n.name) + "]";
    case SizeOp::Stride: return "[\"stride\", " + str(n.name) + ", " + std::to_string(n.value) + "]";
    case SizeOp::Aligned: return "[\"aligned\", " + str(n.name) + ", " + std::to_string(n.value) + "]";
    case SizeOp::Dense: {
        std::string dims;
        for (const auto &d : n.dims) dims += (dims.empty() ? "" : ", ") + str(d);
        return "[\"dense\", " + str(n.name) + ", [" + dims + "]]";
    }
    case SizeOp::Device: return "[\"device\", " + str(n.name) + "]";
    case SizeOp::Named: return n.operands[0].to_json();
    case SizeOp::CeilDiv: return op("ceil_div");
    case SizeOp::Min: return op("min");
    case SizeOp::Max: return op("max");
    case SizeOp::Select: return op("?:");
    default: {
        std::string text = infix(n.op);
        return op(text.substr(1, text.size() - 2).c_str());
    }
    }
}

std::string SizeExpr::print(const LaunchNames &names, bool c) const {
    const Node &n = *node_;
    auto operand = [&](std::size_t i) {
        const SizeExpr &x = n.operands[i];
        std::string s = x.print(names, c);
        return needs_parens(n.op, x.op(), i > 0) ? "(" + s + ")" : s;
    };
    auto call = [&](const char *c_name, const char *text_name) {
        return std::string(c ? c_name : text_name) + "(" + n.operands[0].print(names, c) + ", " +
               n.operands[1].print(names, c) + ")";
    };
    switch (n.op) {
    case SizeOp::Const: return literal(n.value);
    case SizeOp::Size: return names.size(n.name);
    case SizeOp::Stride: return names.stride(n.name, static_cast<int>(n.value));
    case SizeOp::Aligned:
        if (!c) return "aligned(" + n.name + "," + std::to_string(n.value) + ")";
        return "((unsigned long long)" + names.address(n.name) + " & " + std::to_string(n.value - 1) + ") == 0";
    case SizeOp::Dense: return names.dense(n.name, n.dims);
    case SizeOp::Device: return names.device(n.name);
    case SizeOp::Named: return n.name;
    case SizeOp::CeilDiv: return call("einfuse_ceil_div", "ceil_div");
    case SizeOp::Min: return call("einfuse_min", "min");
    case SizeOp::Max: return call("einfuse_max", "max");
    case SizeOp::Select: return "(" + operand(0) + " ? " + operand(1) + " : " + operand(2) + ")";
    default: return operand(0) + infix(n.op) + operand(1);
    }
}

std::string SizeExpr::print_c(const LaunchNames &names) const { return print(names, true); }

std::string SizeExpr::to_string() const { return print(TextNames(), false); }

bool SizeExpr::contains(SizeOp op) const {
    if (node_->op == op) return true;
    for (const auto &x : node_->operands)
        if (x.contains(op)) return true;
    return false;
}

SizeExpr operator+(const SizeExpr &a, const SizeExpr &b) { return SizeExpr::make(SizeOp::Add, a, b); }
SizeExpr operator-(const SizeExpr &a, const SizeExpr &b) { return SizeExpr::make(SizeOp::Sub, a, b); }
SizeExpr operator*(const SizeExpr &a, const SizeExpr &b) { return SizeExpr::make(SizeOp::Mul, a, b); }
SizeExpr operator/(const SizeExpr &a, const SizeExpr &b) { return SizeExpr::make(SizeOp::Div, a, b); }
SizeExpr operator&&(const SizeExpr &a, const SizeExpr &b) { return SizeExpr::make(SizeOp::And, a, b); }
SizeExpr operator||(const SizeExpr &a, const SizeExpr &b) { return SizeExpr::make(SizeOp::Or, a, b); }
SizeExpr ceil_div(const SizeExpr &a, const SizeExpr &b) { return SizeExpr::make(SizeOp::CeilDiv, a, b); }
SizeExpr min(const SizeExpr &a, const SizeExpr &b) { return SizeExpr::make(SizeOp::Min, a, b); }
SizeExpr max(const SizeExpr &a, const SizeExpr &b) { return SizeExpr::make(SizeOp::Max, a, b); }
SizeExpr compare(SizeOp op, const SizeExpr &a, const SizeExpr &b) {
    EINFUSE_ASSERT(op >= SizeOp::Lt && op <= SizeOp::Ne, "a comparison");
    return SizeExpr::make(op, a, b);
}

} // namespace einfuse::ir
