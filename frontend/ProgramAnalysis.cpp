// The checks that need neither shapes nor types, in one walk over the statements in order, and
// what the lowering and the binder need from that walk (SSA names, implicit sums, inputs).
//   C[i] = A[i,j]          j: implicit sum; A: input of rank 2; C: version "C_v0"
//   C[i] += B[i]           previous "C_v0"; this version keeps the name "C"
#include "frontend/ProgramAnalysis.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <set>

namespace einfuse::frontend {

namespace {

[[noreturn]] void fail(std::string message, std::vector<SourceRange> ranges, std::vector<std::string> notes = {}) {
    throw UserError(Diagnostic{std::move(message), std::move(ranges), std::move(notes)});
}

/** One-argument functions; the others are max, min, pow (two) and where (three). */
const std::set<std::string> kUnaryFunctions = {"exp",  "log",  "sqrt", "rsqrt", "abs",   "tanh", "sigmoid", "relu",
                                               "gelu", "sin",  "cos",  "floor", "ceil", "sign", "conj",    "real", "imag"};
/** Functions that keep integers integers (numpy gives floats for the rest). */
const std::set<std::string> kIntegerFunctions = {"abs", "relu", "sign", "max", "min", "where", "conj", "real", "imag"};

int arity(const std::string &function) {
    if (kUnaryFunctions.count(function)) return 1;
    if (function == "max" || function == "min" || function == "pow") return 2;
    if (function == "where") return 3;
    return -1;
}

/** The first of list[0, count) that uses var (count: the whole list by default), pointing into
 * list itself, never into a copy. */
const IndexAst *find_var(const std::vector<IndexAst> &list, const std::string &var, std::size_t count = SIZE_MAX) {
    for (std::size_t i = 0; i < std::min(count, list.size()); ++i)
        if (list[i].var == var) return &list[i];
    return nullptr;
}

class Analyzer {
  public:
    explicit Analyzer(const ProgramAst &ast) : ast_(ast) {}

    ProgramAnalysis run() {
        for (std::size_t s = 0; s < ast_.statements.size(); ++s)
            statement(static_cast<int>(s));
        name_versions();
        return std::move(a_);
    }

  private:
    void statement(int s) {
        const StatementAst &st = ast_.statements[s];
        StatementInfo info;
        for (std::size_t i = 0; i < st.indices.size(); ++i) {
            const IndexAst &v = st.indices[i];
            if (const IndexAst *first = find_var(st.indices, v.var, i))
                fail("index '" + v.var + "' appears twice on the left of '" + st.tensor + "'", {first->where, v.where},
                     {"a diagonal is read on the right: d[i] = A[i,i]"});
            info.lhs.push_back(v.var);
            use_var(v);
        }
        lhs_ = &st.indices;
        info_ = &info;
        std::vector<const IndexAst *> bound;
        expr(*st.rhs, bound);
        // A variable bound by an explicit reduction and also used outside it would be reduced twice.
        for (const auto &r : info.reduced)
            if (const IndexAst *outer = find_var(info.implicit, r.var))
                fail("reduction variable '" + r.var +
                         "' is also used outside its reduction, where it is summed over the whole right-hand side",
                     {r.where, outer->where}, {"rename one of them"});

        auto defined = a_.last_definition.find(st.tensor);
        if (!st.accumulate && defined != a_.last_definition.end())
            fail("tensor '" + st.tensor + "' is defined twice",
                 {ast_.statements[defined->second].lhs_where, st.lhs_where},
                 {"to add to it, write " + st.tensor + "[...] += ..."});
        if (st.accumulate && defined == a_.last_definition.end())
            fail("'+=' adds to '" + st.tensor + "', which no earlier statement defines", {st.lhs_where, st.op_where},
                 {"define it first with " + st.tensor + "[...] = ..."});
        if (auto read = a_.input_use.find(st.tensor); read != a_.input_use.end())
            fail("tensor '" + st.tensor + "' is read before it is defined", {read->second, st.lhs_where},
                 {"statements run in order; define a tensor before the statements that read it"});
        check_rank(st.tensor, static_cast<int>(st.indices.size()), st.lhs_where);
        if (st.accumulate) info.previous = "#" + st.tensor; // named once every version is known
        a_.last_definition[st.tensor] = s;
        a_.statements.push_back(std::move(info));
    }

    void expr(const ExprAst &e, std::vector<const IndexAst *> &bound) {
        switch (e.kind) {
        case ExprAstKind::Number:
            // A literal that is not a whole number, or that i32 cannot hold, makes an integer
            // program compute in f64: every integer constant then fits its type.
            if (!(std::abs(e.number) < 0x1p31) || e.number != std::trunc(e.number)) a_.needs_float = true;
            return;
        case ExprAstKind::Read:
            return read(e, bound);
        case ExprAstKind::Negate:
            return expr(*e.args[0], bound);
        case ExprAstKind::Binary:
            if (e.op == "/" || e.op == "^") a_.needs_float = true;
            expr(*e.args[0], bound);
            return expr(*e.args[1], bound);
        case ExprAstKind::Call: {
            int n = arity(e.name);
            if (n < 0) {
                std::vector<std::string> notes = {"the functions are exp log sqrt rsqrt abs tanh sigmoid relu gelu sin "
                                                  "cos floor ceil sign conj real imag, max(a,b) min(a,b) pow(a,b) where(c,a,b)"};
                if (e.name == "sum" || e.name == "prod")
                    notes.push_back("a reduction is written " + e.name + "[j](...)");
                fail("unknown function '" + e.name + "'", {e.name_where}, notes);
            }
            if (static_cast<int>(e.args.size()) != n)
                fail("function '" + e.name + "' takes " + std::to_string(n) + (n == 1 ? " argument" : " arguments") +
                         " but is given " + std::to_string(e.args.size()),
                     {e.where});
            if (!kIntegerFunctions.count(e.name)) a_.needs_float = true;
            for (const auto &arg : e.args)
                expr(*arg, bound);
            return;
        }
        case ExprAstKind::Reduction: {
            std::size_t depth = bound.size();
            for (const auto &v : e.indices) {
                if (const IndexAst *left = find_var(*lhs_, v.var))
                    fail("reduction variable '" + v.var + "' is also on the left of '='", {v.where, left->where},
                         {"a variable on the left is kept, not reduced"});
                for (const IndexAst *outer : bound)
                    if (outer->var == v.var)
                        fail("reduction variable '" + v.var + "' shadows an enclosing reduction over '" + v.var + "'",
                             {outer->where, v.where}, {"give the inner variable another name"});
                bound.push_back(&v);
                info_->reduced.push_back(v);
                use_var(v);
            }
            expr(*e.args[0], bound);
            bound.resize(depth);
            return;
        }
        }
    }

    void read(const ExprAst &e, const std::vector<const IndexAst *> &bound) {
        check_rank(e.name, static_cast<int>(e.indices.size()), e.where);
        ReadInfo r{e.name, e.name, false, e.indices, e.where};
        if (a_.last_definition.count(e.name)) {
            r.version = "#" + e.name; // the version current now: named later
            versions_read_.push_back({static_cast<int>(a_.statements.size()), info_->reads.size()});
        } else {
            r.input = true;
            if (a_.input_use.emplace(e.name, e.where).second)
                a_.inputs.emplace_back(e.name, static_cast<int>(e.indices.size()));
        }
        for (const auto &v : e.indices) {
            use_var(v);
            bool is_bound = find_var(*lhs_, v.var) ||
                            std::any_of(bound.begin(), bound.end(), [&](const IndexAst *b) { return b->var == v.var; });
            if (!is_bound && !find_var(info_->implicit, v.var)) info_->implicit.push_back(v);
        }
        info_->reads.push_back(std::move(r));
    }

    void use_var(const IndexAst &v) {
        if (a_.var_use.emplace(v.var, v.where).second) a_.vars.push_back(v.var);
    }

    void check_rank(const std::string &tensor, int rank, SourceRange where) {
        auto [it, fresh] = ranks_.emplace(tensor, std::make_pair(rank, where));
        if (!fresh && it->second.first != rank)
            fail("tensor '" + tensor + "' is used with rank " + std::to_string(it->second.first) + " and with rank " +
                     std::to_string(rank),
                 {it->second.second, where});
    }

    /** SSA: each '=' or '+=' of a tensor is a version; all but the last get fresh C identifiers
     * (C_v0, C_v1, ...; backends print names into C), the last keeps the user's name. */
    void name_versions() {
        std::set<std::string> taken;
        for (const auto &[name, use] : a_.input_use)
            taken.insert(name);
        for (const auto &st : ast_.statements)
            taken.insert(st.tensor);
        std::map<std::string, std::string> current; // user name -> version as of the statement
        std::map<std::string, int> counter;
        std::size_t next_read = 0;
        for (std::size_t s = 0; s < a_.statements.size(); ++s) {
            const std::string &tensor = ast_.statements[s].tensor;
            StatementInfo &info = a_.statements[s];
            for (; next_read < versions_read_.size() && versions_read_[next_read].statement == static_cast<int>(s);
                 ++next_read) {
                ReadInfo &r = info.reads[versions_read_[next_read].position];
                r.version = current.at(r.tensor);
            }
            if (!info.previous.empty()) info.previous = current.at(tensor);
            if (a_.last_definition.at(tensor) == static_cast<int>(s)) {
                info.version = tensor;
            } else {
                std::string fresh;
                do
                    fresh = tensor + "_v" + std::to_string(counter[tensor]++);
                while (taken.count(fresh));
                taken.insert(fresh);
                info.version = fresh;
            }
            current[tensor] = info.version;
        }
    }

    /** A read of a defined tensor, whose version is named once all versions are known. */
    struct PendingRead {
        int statement;
        std::size_t position; // in that statement's reads
    };

    const ProgramAst &ast_;
    ProgramAnalysis a_;
    const std::vector<IndexAst> *lhs_ = nullptr;
    StatementInfo *info_ = nullptr;
    std::map<std::string, std::pair<int, SourceRange>> ranks_;
    std::vector<PendingRead> versions_read_;
};

} // namespace

ProgramAnalysis analyze_program(const ProgramAst &ast) { return Analyzer(ast).run(); }

} // namespace einfuse::frontend
