#include "ir/Printer.h"

#include <fmt/format.h>

namespace einfuse::ir {

namespace {

std::string join(const std::vector<std::string> &items, const char *sep = ",") {
    std::string out;
    for (std::size_t i = 0; i < items.size(); ++i) out += (i ? sep : "") + items[i];
    return out;
}

/** Infix operands that are themselves infix get parentheses, so the text parses back uniquely:
 * "(a + b) * c" and "a + b * c" stay distinct without precedence rules. */
std::string operand(const Expr &e) {
    const auto *b = e.as<Binary>();
    bool infix = b && !binary_op_is_call(b->op);
    return infix ? "(" + to_string(e) + ")" : to_string(e);
}

struct ExprText {
    std::string operator()(const Const &n) const { return fmt::format("{}", n.value); }
    std::string operator()(const Access &n) const { return n.tensor + "[" + to_string(n.indices) + "]"; }
    std::string operator()(const ScalarRef &n) const { return n.name; }
    std::string operator()(const Unary &n) const {
        if (n.op == UnaryOp::Neg) return "-" + operand(n.a);
        return fmt::format("{}({})", unary_op_name(n.op), to_string(n.a));
    }
    std::string operator()(const Select &n) const {
        return fmt::format("where({}, {}, {})", to_string(n.cond), to_string(n.a), to_string(n.b));
    }
    std::string operator()(const Cast &n) const { return fmt::format("{}({})", dtype_name(n.type), to_string(n.value)); }
    std::string operator()(const Binary &n) const {
        if (binary_op_is_call(n.op))
            return fmt::format("{}({}, {})", binary_op_symbol(n.op), to_string(n.a), to_string(n.b));
        return fmt::format("{} {} {}", operand(n.a), binary_op_symbol(n.op), operand(n.b));
    }
    std::string operator()(const Reduce &n) const {
        if (n.reduce_vars.empty()) return to_string(n.body);
        return fmt::format("{}[{}]({})", reduce_op_name(n.op), join(n.reduce_vars), to_string(n.body));
    }
};

struct StmtText {
    int indent;
    std::string pad() const { return std::string(indent * 2, ' '); }
    std::string operator()(const For &n) const {
        if (n.loop_kind == LoopKind::Unrolled)
            return fmt::format("{}unrolled for {} in {}:\n{}", pad(), n.var, n.fixed_extent, to_string(n.body, indent + 1));
        const char *kind = n.loop_kind == LoopKind::Parallel ? "parallel for " : "for ";
        return pad() + kind + n.var + ":\n" + to_string(n.body, indent + 1);
    }
    std::string operator()(const Block &n) const {
        std::string out;
        for (const auto &s : n.stmts) out += to_string(s, indent);
        return out;
    }
    std::string operator()(const Store &n) const {
        return pad() + n.tensor + "[" + to_string(n.indices) + "] = " + to_string(n.value) + "\n";
    }
    std::string operator()(const DeclareScalar &n) const {
        return fmt::format("{}{} {} = {}\n", pad(), dtype_name(n.type), n.name, to_string(n.init));
    }
    std::string operator()(const AssignScalar &n) const {
        return pad() + n.name + " = " + to_string(n.value) + "\n";
    }
};

std::string tensor_decl(const char *role, const TensorInfo &t) {
    return fmt::format("{} {}: {} rank {}\n", role, t.name, dtype_name(t.dtype), t.rank);
}

} // namespace

std::string to_string(const Expr &e) { return e.defined() ? visit(e, ExprText{}) : "<undefined>"; }

std::string to_string(const Stmt &s, int indent) { return s.defined() ? visit(s, StmtText{indent}) : "<undefined>\n"; }

std::string to_string(const Program &p) {
    std::string out;
    for (const auto &t : p.inputs) out += tensor_decl("input", t);
    for (const auto &t : p.outputs) out += tensor_decl("output", t);
    for (const auto &t : p.temporaries) out += tensor_decl("temporary", t);
    for (const auto &d : p.definitions) out += d.tensor + "[" + join(d.indices) + "] = " + to_string(d.value) + "\n";
    return out;
}

std::string to_string(const Kernel &k) {
    std::string out = fmt::format("kernel {} ({})\n", k.name, strategy_name(k.strategy));
    for (int i = 0; i < static_cast<int>(k.params.size()); ++i)
        out += tensor_decl(i < k.num_inputs ? "  input" : "  output", k.params[i]);
    out += "  extents: " + join(k.index_vars, ", ") + "\n";
    return out + to_string(k.body, 1);
}

} // namespace einfuse::ir
