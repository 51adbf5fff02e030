// From parsed subscripts to index variables and the IR, by numpy.einsum's rules: '...' stands
// for the dimensions the labels do not cover, right-aligned across operands; the implicit output
// is the broadcast dimensions, then the labels used exactly once, in sorted order.
#include "frontend/Einsum.h"
#include "frontend/Limits.h"

#include <algorithm>
#include <cctype>
#include <map>

namespace einfuse::frontend {

namespace {

std::string var_name(char label) { return std::string(1, label); }
std::string ellipsis_var(int k) { return "ell" + std::to_string(k); }

SourceRange whole(const std::string &source) { return {0, static_cast<int>(source.size())}; }

/** An operand's dimensions: its labels with `count` broadcast dimensions where '...' stands
 * (the rightmost `count` of the `total` broadcast variables). */
std::vector<IndexUse> expand(const EinsumOperand &op, int count, int total) {
    std::vector<IndexUse> dims;
    for (std::size_t i = 0; i <= op.labels.size(); ++i) {
        if (op.ellipsis && i == op.ellipsis_at)
            for (int k = total - count; k < total; ++k) dims.push_back({ellipsis_var(k), *op.ellipsis});
        if (i < op.labels.size()) dims.push_back({var_name(op.labels[i].name), op.labels[i].where});
    }
    return dims;
}

std::vector<IndexUse> implicit_output(const EinsumAst &ast, int broadcast_dims) {
    std::map<char, const Label *> first_use;
    std::map<char, int> uses;
    SourceRange ellipsis_where{};
    for (const auto &op : ast.operands) {
        if (op.ellipsis) ellipsis_where = *op.ellipsis;
        for (const auto &l : op.labels) {
            first_use.emplace(l.name, &l);
            ++uses[l.name];
        }
    }
    std::vector<IndexUse> out;
    for (int k = 0; k < broadcast_dims; ++k) out.push_back({ellipsis_var(k), ellipsis_where});
    for (const auto &[name, count] : uses) // std::map iterates in sorted (ASCII) order, as numpy
        if (count == 1) out.push_back({var_name(name), first_use[name]->where});
    return out;
}

/** Past kMaxRank dimensions ("...->..." at rank 200) planning and loop nests grow for minutes. */
void check_rank(int rank, const std::string &what, SourceRange where) {
    if (rank > kMaxRank)
        throw UserError(Diagnostic{what + " has rank " + std::to_string(rank) + "; einfuse takes at most " +
                                       std::to_string(kMaxRank) + " dimensions",
                                   {where}, {}});
}

void check_output_labels(const EinsumAst &ast) {
    std::map<char, bool> in_inputs;
    for (const auto &op : ast.operands)
        for (const auto &l : op.labels) in_inputs[l.name] = true;
    std::map<char, const Label *> seen;
    for (const auto &l : ast.output->labels) {
        if (!in_inputs.count(l.name))
            throw UserError(Diagnostic{"output index '" + var_name(l.name) + "' appears in no operand", {l.where}, {}});
        if (auto [it, fresh] = seen.emplace(l.name, &l); !fresh)
            throw UserError(Diagnostic{"output index '" + var_name(l.name) + "' appears twice in the output",
                                       {it->second->where, l.where}, {}});
    }
}

/** "bij,bjk->bik" -> "bij_bjk_to_bik": readable in emitted code, a valid C identifier. */
std::string kernel_base_name(const std::string &source) {
    std::string name;
    for (std::size_t i = 0; i < source.size(); ++i) {
        char c = source[i];
        if (std::isalpha(static_cast<unsigned char>(c))) name += c;
        else if (c == ',') name += '_';
        else if (c == '-' && i + 1 < source.size() && source[i + 1] == '>') name += "_to_";
    }
    return name.empty() || name.size() > 48 ? "einsum" : name;
}

} // namespace

ResolvedEinsum resolve_einsum(const EinsumAst &ast, const std::vector<int> &ranks) {
    if (ranks.size() != ast.operands.size())
        throw UserError(Diagnostic{"the subscripts name " + std::to_string(ast.operands.size()) + " operands but " +
                                       std::to_string(ranks.size()) + " were given",
                                   {whole(ast.source)}, {}});
    std::vector<int> broadcast(ast.operands.size(), 0);
    int total = 0;
    for (std::size_t i = 0; i < ast.operands.size(); ++i) {
        const auto &op = ast.operands[i];
        int labels = static_cast<int>(op.labels.size());
        std::string name = "operand " + std::to_string(i);
        if (op.ellipsis && ranks[i] < 0)
            throw UserError(Diagnostic{name + " uses '...': its shape must be given", {*op.ellipsis}, {}});
        if (ranks[i] < 0) continue;
        if (op.ellipsis ? ranks[i] < labels : ranks[i] != labels)
            throw UserError(Diagnostic{name + " has rank " + std::to_string(ranks[i]) + " but its subscripts name " +
                                           std::to_string(labels) + " indices" + (op.ellipsis ? " besides '...'" : ""),
                                       {op.where},
                                       op.ellipsis || ranks[i] < labels
                                           ? std::vector<std::string>{}
                                           : std::vector<std::string>{"use '...' for dimensions without labels"}});
        check_rank(ranks[i], name, op.where);
        broadcast[i] = ranks[i] - labels;
        total = std::max(total, broadcast[i]);
    }

    ResolvedEinsum e;
    e.source = ast.source;
    for (std::size_t i = 0; i < ast.operands.size(); ++i) e.operands.push_back(expand(ast.operands[i], broadcast[i], total));
    if (!ast.output) {
        e.output = implicit_output(ast, total);
        check_rank(static_cast<int>(e.output.size()), "the implicit output", whole(ast.source));
        return e;
    }
    check_output_labels(ast);
    if (total > 0 && !ast.output->ellipsis)
        throw UserError(Diagnostic{"the operands have " + std::to_string(total) +
                                       " broadcast dimension(s) under '...', but the output has no '...' to keep them",
                                   {ast.output->where.begin == ast.output->where.end
                                        ? SourceRange{ast.output->where.begin - 2, ast.output->where.begin}
                                        : ast.output->where},
                                   {"numpy rejects this too; write '...' in the output"}});
    e.output = expand(*ast.output, total, total);
    check_rank(static_cast<int>(e.output.size()), "the output", ast.output->where);
    return e;
}

std::vector<int> label_ranks(const EinsumAst &ast) {
    std::vector<int> ranks;
    for (const auto &op : ast.operands) ranks.push_back(op.ellipsis ? -1 : static_cast<int>(op.labels.size()));
    return ranks;
}

namespace {
/** numpy's promotion of two of einfuse's types (np.promote_types), with bf16 ranked as f16. */
DType promote_pair(DType a, DType b) {
    if (a == b) return a;
    if (a == DType::Bool) return b; // bool with anything: the other
    if (b == DType::Bool) return a;
    // Complex with anything: the complex type whose parts hold both (c64 with f64 or i32: c128).
    if (is_complex(a) || is_complex(b)) return complex_type_of(promote_pair(real_part_type(a), real_part_type(b)));
    bool int_a = is_integer(a), int_b = is_integer(b);
    if (int_a && int_b) {
        int bits_a = dtype_bits(a), bits_b = dtype_bits(b);
        auto of = [](bool is_signed, int bits) {
            static const DType sint[] = {DType::I8, DType::I16, DType::I32, DType::I64};
            static const DType uint[] = {DType::U8, DType::U16, DType::U32, DType::U64};
            int at = bits == 8 ? 0 : bits == 16 ? 1 : bits == 32 ? 2 : 3;
            return is_signed ? sint[at] : uint[at];
        };
        if (is_unsigned(a) == is_unsigned(b)) return of(!is_unsigned(a), std::max(bits_a, bits_b));
        // One signed, one unsigned: a signed type wider than the unsigned one holds both;
        // otherwise the signed type twice the unsigned's width, and for u64 none: f64.
        int unsigned_bits = is_unsigned(a) ? bits_a : bits_b, signed_bits = is_unsigned(a) ? bits_b : bits_a;
        if (signed_bits > unsigned_bits) return of(true, signed_bits);
        return unsigned_bits == 64 ? DType::F64 : of(true, 2 * unsigned_bits);
    }
    if (int_a || int_b) {
        // An integer with a float: the smallest float that holds the integer's values (8 bits:
        // f16; 16 bits: f32; wider: f64), then promoted with the float. 8-bit integers fit bf16 too.
        DType i = int_a ? a : b, f = int_a ? b : a;
        int bits = dtype_bits(i);
        if (bits == 8 && f == DType::BF16) return DType::BF16;
        return promote_pair(bits == 8 ? DType::F16 : bits == 16 ? DType::F32 : DType::F64, f);
    }
    // Floats: f16 < f32 < f64; bf16 ranks as f16 does, and f16 with bf16 gives f32 (neither
    // holds the other).
    auto rank = [](DType t) { return t == DType::F64 ? 3 : t == DType::F32 ? 2 : 1; };
    if (rank(a) != rank(b)) return rank(a) > rank(b) ? a : b;
    return DType::F32;
}
} // namespace

DType promote_types(const std::vector<DType> &types) {
    DType result = types.empty() ? DType::F32 : types.front();
    for (DType t : types) result = promote_pair(result, t);
    return result;
}

ir::Program einsum_program(const ResolvedEinsum &e, const std::vector<DType> &dtypes) {
    if (dtypes.size() != e.operands.size())
        throw UserError(Diagnostic{"the subscripts name " + std::to_string(e.operands.size()) + " operands but " +
                                       std::to_string(dtypes.size()) + " were given",
                                   {whole(e.source)}, {}});
    DType out_type = promote_types(dtypes);
    // f16 and bf16 accumulate in f32; the store rounds once.
    DType acc_type = (out_type == DType::F16 || out_type == DType::BF16) ? DType::F32 : out_type;

    ir::Program p;
    p.source = e.source;
    p.name = kernel_base_name(e.source);
    ir::Expr body;
    for (std::size_t i = 0; i < e.operands.size(); ++i) {
        std::string name = "in" + std::to_string(i);
        std::vector<std::string> indices;
        for (const auto &use : e.operands[i]) {
            indices.push_back(use.var);
            if (std::find(p.index_vars.begin(), p.index_vars.end(), use.var) == p.index_vars.end())
                p.index_vars.push_back(use.var);
        }
        p.inputs.push_back({name, dtypes[i], static_cast<int>(indices.size())});
        ir::Expr access = ir::Cast::make(acc_type, ir::Access::make(dtypes[i], name, indices));
        body = body.defined() ? ir::Binary::make(ir::BinaryOp::Mul, body, access) : access;
    }
    if (!body.defined()) body = ir::Const::make(acc_type, 1.0);

    std::vector<std::string> out_vars, reduce_vars;
    for (const auto &use : e.output) out_vars.push_back(use.var);
    for (const auto &v : p.index_vars)
        if (std::find(out_vars.begin(), out_vars.end(), v) == out_vars.end()) reduce_vars.push_back(v);
    p.outputs.push_back({"out", out_type, static_cast<int>(out_vars.size())});
    p.definitions.push_back({"out", out_vars, ir::Reduce::make(out_vars, reduce_vars, ir::ReduceOp::Sum, body)});
    ir::verify(p);
    return p;
}

} // namespace einfuse::frontend
