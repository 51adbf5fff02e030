// From input shapes and --dims to the size of every index variable. A variable has one size in
// the whole program: every read of an input, every read of a defined tensor (whose shape its
// left-hand side gives) and --dims must agree; no size-1 broadcasting in this form.
//   C[i,k] = A[i,j] * B[j,k]   with A 2x3, B 4x5: "index 'j' has size 3 in A but 4 in B"
#include "frontend/Program.h"
#include "frontend/ProgramAnalysis.h"
#include "support/Checked.h"

namespace einfuse::frontend {

namespace {

[[noreturn]] void fail(std::string message, std::vector<SourceRange> ranges, std::vector<std::string> notes = {}) {
    throw UserError(Diagnostic{std::move(message), std::move(ranges), std::move(notes)});
}

/** Where a variable got its size, for a diagnostic that names both places. */
struct SizeSource {
    int64_t size;
    std::string from; // a tensor's name or "--dims"
    SourceRange where;
};

class Binder {
  public:
    Binder(const ProgramAst &ast, const ProgramAnalysis &a, bool partial) : ast_(ast), a_(a), partial_(partial) {}

    ir::Extents bind(const std::map<std::string, Shape> &shapes, const ir::Extents &dims) {
        for (const auto &[name, size] : dims) {
            auto use = a_.var_use.find(name);
            if (use == a_.var_use.end()) fail("--dims names '" + name + "', which the program does not use", {});
            if (size < 0) fail("--dims " + name + "=" + std::to_string(size) + ": a size cannot be negative", {});
            sizes_[name] = {size, "--dims", use->second};
        }
        for (const auto &[name, shape] : shapes)
            if (!a_.input_use.count(name))
                fail(a_.last_definition.count(name)
                         ? "a shape is given for '" + name + "', which the program computes"
                         : "a shape is given for '" + name + "', which the program does not read",
                     {}, {"only the inputs of a program take --shape"});
        // Inputs first: their shapes are what the user gave.
        for (const auto &st : a_.statements)
            for (const auto &r : st.reads) {
                auto shape = shapes.find(r.tensor);
                if (!r.input || shape == shapes.end()) continue;
                if (shape->second.size() != r.indices.size())
                    fail("input '" + r.tensor + "' has rank " + std::to_string(shape->second.size()) +
                             " but the program reads it with " + std::to_string(r.indices.size()) + " indices",
                         {r.where});
                for (std::size_t d = 0; d < r.indices.size(); ++d)
                    unify(r.indices[d], shape->second[d], r.tensor);
            }
        // Then the statements in order: a defined tensor's shape is its left-hand side's sizes.
        for (std::size_t s = 0; s < a_.statements.size(); ++s) {
            const StatementInfo &info = a_.statements[s];
            const StatementAst &st = ast_.statements[s];
            for (const auto &r : info.reads) {
                if (r.input) continue;
                Shape shape = defined_shape(r.version);
                for (std::size_t d = 0; d < r.indices.size(); ++d)
                    if (shape[d] >= 0) unify(r.indices[d], shape[d], r.tensor);
            }
            for (const auto &v : st.indices)
                require(v, "on the left of '" + st.tensor + "'");
            for (const auto &v : info.implicit)
                require(v, "summed over the right-hand side");
            for (const auto &v : info.reduced)
                require(v, "reduced");
            for (const auto &r : info.reads)
                for (const auto &v : r.indices)
                    require(v, "read");
            defined_[info.version] = s;
        }
        ir::Extents extents;
        for (const auto &v : a_.vars)
            if (auto it = sizes_.find(v); it != sizes_.end()) extents[v] = it->second.size;
        for (const auto &st : ast_.statements)
            check_size(st.indices, "'" + st.tensor + "'", st.lhs_where);
        for (const auto &info : a_.statements)
            for (const auto &r : info.reads)
                if (r.input) check_size(r.indices, "input '" + r.tensor + "'", r.where);
        return extents;
    }

  private:
    void unify(const IndexAst &v, int64_t size, const std::string &from) {
        auto [it, fresh] = sizes_.emplace(v.var, SizeSource{size, from, v.where});
        if (fresh || it->second.size == size) return;
        fail("index '" + v.var + "' has size " + std::to_string(it->second.size) + " in " + it->second.from + " but " +
                 std::to_string(size) + " in " + from,
             {it->second.where, v.where});
    }

    /** A tensor whose byte count would not fit 64 bits (8 bytes an element, the widest type) is
     * refused here, before anything is allocated: o[i,j] with i = j = 2^31. */
    void check_size(const std::vector<IndexAst> &indices, const std::string &what, SourceRange where) {
        Shape sizes;
        for (const auto &v : indices)
            if (auto it = sizes_.find(v.var); it != sizes_.end()) sizes.push_back(it->second.size); // partial: the known
        if (!bytes_fit(sizes, 8))
            fail(what + " would have " + shape_product(sizes) + " elements: its byte count does not fit 64 bits",
                 {where});
    }

    void require(const IndexAst &v, const std::string &role) {
        if (!sizes_.count(v.var) && !partial_)
            fail("no size for index '" + v.var + "' (" + role + "): no input with a shape uses it", {v.where},
                 {"give --dims " + v.var + "=N"});
    }

    /** -1 where a size is not known (partial). */
    Shape defined_shape(const std::string &version) {
        Shape shape;
        for (const auto &v : ast_.statements[defined_.at(version)].indices) {
            auto it = sizes_.find(v.var);
            shape.push_back(it == sizes_.end() ? -1 : it->second.size);
        }
        return shape;
    }

    const ProgramAst &ast_;
    const ProgramAnalysis &a_;
    bool partial_;
    std::map<std::string, SizeSource> sizes_;
    std::map<std::string, std::size_t> defined_; // version -> its statement
};

} // namespace

ir::Extents bind_program_extents(const ProgramAst &ast, const std::map<std::string, Shape> &shapes,
                                 const ir::Extents &dims, bool partial) {
    ProgramAnalysis a = analyze_program(ast);
    return Binder(ast, a, partial).bind(shapes, dims);
}

Shape program_tensor_shape(const ProgramAst &ast, const std::string &tensor, const ir::Extents &extents) {
    ProgramAnalysis a = analyze_program(ast);
    const std::vector<IndexAst> *indices = nullptr;
    if (auto d = a.last_definition.find(tensor); d != a.last_definition.end())
        indices = &ast.statements[d->second].indices;
    for (const auto &st : a.statements)
        for (const auto &r : st.reads)
            if (!indices && r.input && r.tensor == tensor) indices = &r.indices;
    if (!indices) throw UserError("'" + tensor + "' is not a tensor of the program");
    Shape shape;
    for (const auto &v : *indices) {
        auto it = extents.find(v.var);
        if (it == extents.end()) throw UserError("no size given for index '" + v.var + "'");
        shape.push_back(it->second);
    }
    return shape;
}

} // namespace einfuse::frontend
