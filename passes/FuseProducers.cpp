#include "passes/FuseProducers.h"

#include "ir/IRMutator.h"
#include "ir/IRVisitor.h"
#include "ir/Walk.h"
#include "support/Error.h"

#include <algorithm>
#include <map>
#include <set>

namespace einfuse::passes {

namespace {

using VarSet = std::set<std::string>;

/** One read of a tensor: its indices and the variables of the loops around it. */
struct Read {
    std::vector<ir::Index> indices;
    VarSet enclosing;
};

/** Every read of `tensor` in an expression, with the variables bound around it. */
class FindReads : public ir::IRVisitor {
public:
    FindReads(const std::string &tensor, VarSet bound, std::vector<Read> &reads)
        : tensor_(tensor), bound_(std::move(bound)), reads_(reads) {}

    using ir::IRVisitor::visit;
    void visit(const ir::Access &a) override {
        if (a.tensor == tensor_) reads_.push_back({a.indices, bound_});
    }
    void visit(const ir::Reduce &r) override {
        VarSet outer = bound_;
        bound_.insert(r.reduce_vars.begin(), r.reduce_vars.end());
        ir::IRVisitor::visit(r);
        bound_ = std::move(outer);
    }

private:
    const std::string &tensor_;
    VarSet bound_;
    std::vector<Read> &reads_;
};

/** The variables a definition's value binds itself (its reductions'). */
VarSet bound_inside(const ir::Expr &e) {
    std::vector<std::string> vars = ir::reduced_vars(e);
    return VarSet(vars.begin(), vars.end());
}

bool has_reduction(const ir::Definition &d) { return !bound_inside(d.value).empty(); }

/** The value of producer d read at `indices`: its definition with its index variables renamed.
 * "C[b,i,k] = sum[j](A[b,i,j] * B[b,j,k])" read as C[x,y,z] is sum[j](A[x,y,j] * B[x,j,z]). */
ir::Expr value_at(const ir::Definition &d, const std::vector<std::string> &indices) {
    /** Renames d's index variables in every read. */
    struct Rename : ir::IRMutator {
        std::map<std::string, std::string> to;
        using ir::IRMutator::visit;
        ir::Expr visit(const ir::Access &a, const ir::Expr &self) override {
            std::vector<ir::Index> renamed;
            for (const auto &i : a.indices) renamed.push_back(i.renamed(to));
            return renamed == a.indices ? self : ir::Access::make(a.type, a.tensor, renamed);
        }
    } rename;
    for (std::size_t k = 0; k < d.indices.size(); ++k) rename.to.emplace(d.indices[k], indices[k]);
    const auto *r = d.value.as<ir::Reduce>();
    EINFUSE_ASSERT(r != nullptr, "a definition's value is a Reduce");
    ir::Expr body = rename.mutate(r->body);
    return r->reduce_vars.empty() ? body : ir::Reduce::make({}, r->reduce_vars, r->op, body);
}

/** e with every read of d's tensor replaced by d's value there. */
ir::Expr inline_reads(const ir::Expr &e, const ir::Definition &d) {
    struct Inline : ir::IRMutator {
        const ir::Definition &d;
        explicit Inline(const ir::Definition &def) : d(def) {}
        using ir::IRMutator::visit;
        ir::Expr visit(const ir::Access &a, const ir::Expr &self) override {
            // why_materialise refused reads at anything but plain variables.
            return a.tensor == d.tensor ? value_at(d, ir::expect_vars(a.tensor, a.indices)) : self;
        }
    };
    return Inline(d).mutate(e);
}

std::string join(const std::vector<std::string> &v) {
    std::string s;
    for (const auto &x : v) s += (s.empty() ? "" : ",") + x;
    return s;
}

/** Why d cannot be fused into its readers, or "" if it can. */
std::string why_materialise(const ir::Definition &d, const std::vector<Read> &reads, const std::vector<std::string> &readers) {
    VarSet inside = bound_inside(d.value);
    for (std::size_t i = 0; i < reads.size(); ++i) {
        // Fusing renames the producer's variables to the read's; x[h + r] is not a variable.
        std::string why;
        if (!ir::plain_vars(d.tensor, reads[i].indices, &why)) return readers[i] + " reads it: " + why;
    }
    for (std::size_t i = 0; i < reads.size(); ++i) {
        const std::vector<std::string> read_vars = ir::expect_vars(d.tensor, reads[i].indices);
        // An elementwise producer costs no more to recompute than to load, so it fuses into any
        // read (a prologue: relu(A) read inside a matmul's loops); a reduction must not repeat.
        for (const auto &v : reads[i].enclosing)
            if (!inside.empty() && std::find(read_vars.begin(), read_vars.end(), v) == read_vars.end())
                return readers[i] + " reads it inside a loop over '" + v + "', which " + d.tensor +
                       " does not depend on: fusing would recompute its reduction for every " + v;
        for (const auto &v : read_vars)
            if (inside.count(v)) return readers[i] + " reads it with variable '" + v + "', which its reduction binds";
        for (const auto &v : reads[i].enclosing)
            if (inside.count(v)) return "its reduction variable '" + v + "' is also bound where " + readers[i] + " reads it";
    }
    if (has_reduction(d) && reads.size() > 1)
        return "it holds a reduction and is read " + std::to_string(reads.size()) + " times: fusing would compute it each time";
    return "";
}

} // namespace

ir::Program fuse_producers(const ir::Program &p, std::vector<std::string> &notes) {
    ir::Program q = p;
    for (std::size_t i = 0; i < q.definitions.size();) {
        const ir::Definition d = q.definitions[i];
        bool is_temporary = std::any_of(q.temporaries.begin(), q.temporaries.end(),
                                        [&](const ir::TensorInfo &t) { return t.name == d.tensor; });
        if (!is_temporary) {
            ++i;
            continue;
        }
        std::vector<Read> reads;
        std::vector<std::string> readers;
        for (std::size_t c = i + 1; c < q.definitions.size(); ++c) {
            const ir::Definition &consumer = q.definitions[c];
            FindReads(d.tensor, VarSet(consumer.indices.begin(), consumer.indices.end()), reads).walk(consumer.value);
            readers.resize(reads.size(), consumer.tensor);
        }
        std::string why = reads.empty() ? "nothing reads it" : why_materialise(d, reads, readers);
        if (!why.empty()) {
            notes.push_back("materialised: " + d.tensor + "[" + join(d.indices) + "]: " + why);
            ++i;
            continue;
        }
        std::vector<std::string> into;
        for (std::size_t c = i + 1; c < q.definitions.size(); ++c) {
            ir::Definition &consumer = q.definitions[c];
            ir::Expr fused = inline_reads(consumer.value, d);
            if (!fused.same_as(consumer.value) && std::find(into.begin(), into.end(), consumer.tensor) == into.end())
                into.push_back(consumer.tensor);
            consumer.value = fused;
        }
        notes.push_back("fused: " + d.tensor + "[" + join(d.indices) + "] into " + join(into) +
                        " (never written to memory)");
        q.definitions.erase(q.definitions.begin() + static_cast<std::ptrdiff_t>(i));
        q.temporaries.erase(std::remove_if(q.temporaries.begin(), q.temporaries.end(),
                                           [&](const ir::TensorInfo &t) { return t.name == d.tensor; }),
                            q.temporaries.end());
    }
    ir::verify(q);
    return q;
}

} // namespace einfuse::passes
