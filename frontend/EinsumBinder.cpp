// From parsed subscripts to the IR, and from operand shapes to index sizes. The rules are
// numpy.einsum's: implicit output = labels seen exactly once, in sorted order; a label's sizes
// agree across operands except that size 1 broadcasts.
#include "frontend/Einsum.h"

#include <algorithm>
#include <map>

namespace einfuse::frontend {

namespace {

std::string var_name(char label) { return std::string(1, label); }

std::string operand_name(int i) { return i < 0 ? "the output" : "operand " + std::to_string(i); }

/** The output labels: explicit ones, checked; or numpy's implicit rule. */
std::vector<Label> output_labels(const EinsumAst &ast) {
    std::map<char, const Label *> first_use;
    std::map<char, int> uses;
    for (const auto &op : ast.operands)
        for (const auto &l : op.labels) {
            first_use.emplace(l.name, &l);
            ++uses[l.name];
        }
    if (!ast.output) {
        std::vector<Label> out;
        for (const auto &[name, count] : uses) // std::map iterates in sorted (ASCII) order, as numpy
            if (count == 1) out.push_back({name, first_use[name]->where});
        return out;
    }
    std::map<char, const Label *> seen;
    for (const auto &l : ast.output->labels) {
        if (!first_use.count(l.name))
            throw UserError(Diagnostic{"output index '" + var_name(l.name) + "' appears in no operand", {l.where}, {}});
        if (auto [it, fresh] = seen.emplace(l.name, &l); !fresh)
            throw UserError(Diagnostic{"output index '" + var_name(l.name) + "' appears twice in the output",
                                       {it->second->where, l.where}, {}});
    }
    return ast.output->labels;
}

/** Where each label was first given a size, for a diagnostic that names both places. */
struct SizeSource {
    int64_t size;
    int operand; // -2: --dims
    SourceRange where;
};

} // namespace

ir::Program einsum_program(const EinsumAst &ast, const std::vector<DType> &dtypes, DType out_dtype) {
    if (dtypes.size() != ast.operands.size())
        throw UserError(Diagnostic{"the subscripts name " + std::to_string(ast.operands.size()) + " operands but " +
                                       std::to_string(dtypes.size()) + " were given",
                                   {{0, static_cast<int>(ast.source.size())}}, {}});
    for (DType t : dtypes)
        if (t != out_dtype)
            throw UserError("mixed element types are not supported yet: give every operand --dtype " +
                            std::string(dtype_name(out_dtype)));
    if (!is_supported(out_dtype))
        throw UserError("element type " + std::string(dtype_name(out_dtype)) + " is not supported yet (use f32 or f64)");

    ir::Program p;
    p.source = ast.source;
    std::vector<std::string> first_seen;
    ir::Expr body;
    for (std::size_t i = 0; i < ast.operands.size(); ++i) {
        std::string name = "in" + std::to_string(i);
        std::vector<std::string> indices;
        for (const auto &l : ast.operands[i].labels) {
            indices.push_back(var_name(l.name));
            if (std::find(first_seen.begin(), first_seen.end(), indices.back()) == first_seen.end())
                first_seen.push_back(indices.back());
        }
        p.inputs.push_back({name, dtypes[i], static_cast<int>(indices.size())});
        ir::Expr access = ir::Access::make(dtypes[i], name, indices);
        body = body.defined() ? ir::Binary::make(ir::BinaryOp::Mul, body, access) : access;
    }
    if (!body.defined()) body = ir::Const::make(out_dtype, 1.0); // "->": the empty product

    std::vector<std::string> out_vars;
    for (const auto &l : output_labels(ast)) out_vars.push_back(var_name(l.name));
    std::vector<std::string> reduce_vars;
    for (const auto &v : first_seen)
        if (std::find(out_vars.begin(), out_vars.end(), v) == out_vars.end()) reduce_vars.push_back(v);

    p.index_vars = first_seen;
    p.outputs.push_back({"out", out_dtype, static_cast<int>(out_vars.size())});
    p.definitions.push_back({"out", out_vars, ir::Reduce::make(out_vars, reduce_vars, ir::ReduceOp::Sum, body)});
    ir::verify(p);
    return p;
}

ir::Extents bind_einsum_extents(const EinsumAst &ast, const std::vector<std::optional<Shape>> &shapes,
                                const ir::Extents &dims) {
    if (shapes.size() != ast.operands.size())
        throw UserError(Diagnostic{"the subscripts name " + std::to_string(ast.operands.size()) + " operands but " +
                                       std::to_string(shapes.size()) + " were given",
                                   {{0, static_cast<int>(ast.source.size())}}, {}});
    std::map<char, SizeSource> sizes;
    std::map<char, SourceRange> anywhere; // a place each label is used, for --dims carets
    for (const auto &op : ast.operands)
        for (const auto &l : op.labels) anywhere.emplace(l.name, l.where);
    if (ast.output)
        for (const auto &l : ast.output->labels) anywhere.emplace(l.name, l.where);

    for (const auto &[name, size] : dims) {
        if (name.size() != 1 || !anywhere.count(name[0]))
            throw UserError(Diagnostic{"--dims names '" + name + "', which the subscripts do not use",
                                       {{0, static_cast<int>(ast.source.size())}}, {}});
        if (size < 0) throw UserError("--dims " + name + "=" + std::to_string(size) + ": a size cannot be negative");
        sizes[name[0]] = {size, -2, anywhere[name[0]]};
    }

    for (std::size_t i = 0; i < ast.operands.size(); ++i) {
        if (!shapes[i]) continue;
        const auto &op = ast.operands[i];
        const Shape &shape = *shapes[i];
        if (shape.size() != op.labels.size())
            throw UserError(Diagnostic{operand_name(static_cast<int>(i)) + " has rank " + std::to_string(shape.size()) +
                                           " but its subscripts name " + std::to_string(op.labels.size()) + " indices",
                                       {op.where}, {}});
        for (std::size_t d = 0; d < shape.size(); ++d) {
            const Label &l = op.labels[d];
            auto it = sizes.find(l.name);
            if (it == sizes.end()) {
                sizes[l.name] = {shape[d], static_cast<int>(i), l.where};
                continue;
            }
            SizeSource &known = it->second;
            if (known.size == shape[d] || shape[d] == 1) continue;
            if (known.size == 1 && known.operand != -2) { // size 1 broadcasts (numpy's rule)
                known = {shape[d], static_cast<int>(i), l.where};
                continue;
            }
            std::string first = known.operand == -2 ? "--dims" : operand_name(known.operand);
            throw UserError(Diagnostic{"index '" + var_name(l.name) + "' has size " + std::to_string(known.size) +
                                           " in " + first + " but " + std::to_string(shape[d]) + " in " +
                                           operand_name(static_cast<int>(i)),
                                       {known.where, l.where}, {}});
        }
    }

    ir::Extents extents;
    for (const auto &[name, where] : anywhere) {
        auto it = sizes.find(name);
        if (it == sizes.end())
            throw UserError(Diagnostic{"no size for index '" + var_name(name) + "': give --dims " + var_name(name) +
                                           "=N or the shape of an operand that uses it",
                                       {where}, {}});
        extents[var_name(name)] = it->second.size;
    }
    return extents;
}

Shape einsum_operand_shape(const EinsumAst &ast, int operand, const ir::Extents &extents) {
    const std::vector<Label> labels = operand < 0 ? output_labels(ast) : ast.operands.at(operand).labels;
    Shape shape;
    for (const auto &l : labels) shape.push_back(extents.at(var_name(l.name)));
    return shape;
}

} // namespace einfuse::frontend
