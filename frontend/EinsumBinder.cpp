// From operand shapes and --dims to index sizes. numpy's rule: a variable's sizes agree across
// operands, except that size 1 broadcasts; the repeated labels of one operand (a diagonal) must
// agree exactly.
#include "frontend/Einsum.h"

#include "support/Checked.h"

#include <map>

namespace einfuse::frontend {

namespace {

std::string operand_name(int i) { return "operand " + std::to_string(i); }

/** Where a variable was first given a size, for a diagnostic that names both places. */
struct SizeSource {
    int64_t size;
    int operand; // -1: --dims
    SourceRange where;
};

std::string describe(const SizeSource &s) { return s.operand < 0 ? "--dims" : operand_name(s.operand); }

/** A tensor whose byte count would not fit 64 bits (8 bytes an element, the widest type) is
 * refused here, with a caret, before anything is allocated: "i->i" with i = 2^62. */
void check_size(const std::vector<IndexUse> &uses, const ir::Extents &extents, const std::string &what,
                SourceRange whole) {
    Shape sizes;
    for (const auto &u : uses)
        if (auto it = extents.find(u.var); it != extents.end()) sizes.push_back(it->second); // partial: the known ones
    if (bytes_fit(sizes, 8)) return;
    SourceRange where = uses.empty() ? whole : SourceRange{uses.front().where.begin, uses.back().where.end};
    throw UserError(Diagnostic{
        what + " would have " + shape_product(sizes) + " elements: its byte count does not fit 64 bits", {where}, {}});
}

std::string show(const std::string &var) {
    return var.rfind("ell", 0) == 0 ? "broadcast dimension '...' #" + var.substr(3) : "index '" + var + "'";
}

} // namespace

ir::Extents bind_einsum_extents(const ResolvedEinsum &e, const std::vector<std::optional<Shape>> &shapes,
                                const ir::Extents &dims, bool partial) {
    SourceRange whole{0, static_cast<int>(e.source.size())};
    if (shapes.size() != e.operands.size())
        throw UserError(Diagnostic{"the subscripts name " + std::to_string(e.operands.size()) + " operands but " +
                                       std::to_string(shapes.size()) + " were given",
                                   {whole}, {}});
    std::map<std::string, SourceRange> anywhere; // a place each variable is used, for carets
    for (const auto &op : e.operands)
        for (const auto &use : op) anywhere.emplace(use.var, use.where);

    std::map<std::string, SizeSource> sizes;
    for (const auto &[name, size] : dims) {
        if (!anywhere.count(name) || name.size() != 1)
            throw UserError(Diagnostic{"--dims names '" + name + "', which the subscripts do not use", {whole}, {}});
        if (size < 0) throw UserError("--dims " + name + "=" + std::to_string(size) + ": a size cannot be negative");
        sizes[name] = {size, -1, anywhere[name]};
    }

    for (std::size_t i = 0; i < e.operands.size(); ++i) {
        if (!shapes[i]) continue;
        const auto &op = e.operands[i];
        const Shape &shape = *shapes[i];
        int me = static_cast<int>(i);
        if (shape.size() != op.size()) {
            SourceRange where = op.empty() ? whole : SourceRange{op.front().where.begin, op.back().where.end};
            throw UserError(Diagnostic{operand_name(me) + " has rank " + std::to_string(shape.size()) +
                                           " but its subscripts name " + std::to_string(op.size()) + " indices",
                                       {where}, {}});
        }
        std::map<std::string, std::size_t> within; // first dimension of each variable in this operand
        for (std::size_t d = 0; d < shape.size(); ++d) {
            const IndexUse &use = op[d];
            if (auto [it, fresh] = within.emplace(use.var, d); !fresh && shape[it->second] != shape[d])
                throw UserError(Diagnostic{show(use.var) + " takes a diagonal of " + operand_name(me) +
                                               ", whose dimensions " + std::to_string(it->second) + " and " +
                                               std::to_string(d) + " differ (" + std::to_string(shape[it->second]) +
                                               " and " + std::to_string(shape[d]) + ")",
                                           {op[it->second].where, use.where}, {}});
            auto it = sizes.find(use.var);
            if (it == sizes.end()) {
                sizes[use.var] = {shape[d], me, use.where};
                continue;
            }
            SizeSource &known = it->second;
            if (known.size == shape[d] || shape[d] == 1) continue;
            if (known.size == 1 && known.operand >= 0) { // the earlier operand broadcasts
                known = {shape[d], me, use.where};
                continue;
            }
            throw UserError(Diagnostic{show(use.var) + " has size " + std::to_string(known.size) + " in " +
                                           describe(known) + " but " + std::to_string(shape[d]) + " in " +
                                           operand_name(me),
                                       {known.where, use.where}, {}});
        }
    }

    ir::Extents extents;
    for (const auto &[name, where] : anywhere) {
        auto it = sizes.find(name);
        if (it == sizes.end() && partial) continue;
        if (it == sizes.end())
            throw UserError(Diagnostic{"no size for " + show(name) + ": give --dims " + name +
                                           "=N or the shape of an operand that uses it",
                                       {where}, {}});
        extents[name] = it->second.size;
    }
    for (std::size_t i = 0; i < e.operands.size(); ++i)
        check_size(e.operands[i], extents, operand_name(static_cast<int>(i)), whole);
    check_size(e.output, extents, "the output", whole);
    return extents;
}

Shape einsum_operand_shape(const ResolvedEinsum &e, int operand, const ir::Extents &extents) {
    const auto &uses = operand < 0 ? e.output : e.operands.at(operand);
    Shape shape;
    for (const auto &use : uses) shape.push_back(extents.at(use.var));
    return shape;
}

} // namespace einfuse::frontend
