// The grammar of index-notation programs in Spirit X3. Semantic actions build the AST on two
// stacks (expressions and indices) as the rules finish, so every node knows where it was written.
// Backtracking never crosses an action that pushed: each alternative either fails on its first
// token or commits with '>' (an expectation), which also puts a syntax error's caret at the
// furthest point read.
#include "frontend/Program.h"
#include "frontend/Limits.h"
#include "frontend/ProgramAnalysis.h"

#include <boost/spirit/home/x3.hpp>

#include <cctype>
#include <cstdlib>
#include <map>

namespace einfuse::frontend {

namespace x3 = boost::spirit::x3;

namespace {

using Range = boost::iterator_range<const char *>;
using ExprPtr = std::shared_ptr<ExprAst>;

/** A name-led primary being read: A[i], sum[j](e) or exp(e). Nested ones stack up. */
struct Frame {
    std::string name;
    SourceRange name_where;
    std::size_t index_base, expr_base;
    bool brackets = false, parens = false;
};

struct Builder {
    const char *begin;
    ProgramAst *ast;
    std::vector<ExprPtr> exprs;
    std::vector<IndexAst> indices;
    std::vector<Frame> frames;
    StatementAst statement;
    bool after_statement = false; // nothing but blanks read since the last statement ended
    int depth = 0;                // rules entered through `nested`, now open
    std::map<std::string, int> inlined_depth; // each tensor's depth with what it reads inlined

    SourceRange range(const Range &r) const {
        return {static_cast<int>(r.begin() - begin), static_cast<int>(r.end() - begin)};
    }
    ExprPtr pop() {
        ExprPtr e = exprs.back();
        exprs.pop_back();
        return e;
    }
};

struct builder_tag;

template <class Ctx> Builder &builder(Ctx &ctx) { return *x3::get<builder_tag>(ctx); }
template <class Ctx> SourceRange where(Ctx &ctx) { return builder(ctx).range(x3::_attr(ctx)); }
template <class Ctx> std::string text(Ctx &ctx) { return std::string(x3::_attr(ctx).begin(), x3::_attr(ctx).end()); }

[[noreturn]] void fail(std::string message, std::vector<SourceRange> ranges, std::vector<std::string> notes = {}) {
    throw UserError(Diagnostic{std::move(message), std::move(ranges), std::move(notes)});
}

bool is_identifier(const std::string &s) {
    if (s.empty() || !(std::isalpha(static_cast<unsigned char>(s[0])) || s[0] == '_')) return false;
    for (char c : s)
        if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_')) return false;
    return true;
}

// ---- actions ----

/** A node's tree depth, refused past the limit with a caret at its operator or name: the walks
 * after parsing recurse over the tree, and a + b + c + ... is as deep as it has terms. */
void set_depth(ExprAst &e) {
    e.depth = 1;
    for (const auto &a : e.args) e.depth = std::max(e.depth, a->depth + 1);
    if (e.depth > kMaxExpressionDepth)
        fail("the expression is more than " + std::to_string(kMaxExpressionDepth) + " levels deep", {e.name_where},
             {"a chain such as a + b + c counts one level per operator; split it into statements"});
}

auto const on_number = [](auto &ctx) {
    auto e = std::make_shared<ExprAst>();
    e->kind = ExprAstKind::Number;
    e->where = where(ctx);
    e->number = std::strtod(text(ctx).c_str(), nullptr);
    builder(ctx).exprs.push_back(e);
};

/** An index is read loosely (sums, products, nested reads) so that what comes later is named
 * rather than reported as a stray character: "x[n, h+kh]" says affine indices are not supported. */
auto const on_index = [](auto &ctx) {
    std::string t = text(ctx);
    SourceRange w = where(ctx);
    if (is_identifier(t)) {
        builder(ctx).indices.push_back({t, w});
        return;
    }
    if (t.find('[') != std::string::npos)
        fail("gathers (an index that reads a tensor, such as Q[n]) are not supported yet", {w});
    if (std::isdigit(static_cast<unsigned char>(t[0])) && t.find_first_of("+-*") == std::string::npos)
        fail("constant indices are not supported yet; an index is a variable", {w});
    fail("affine indices (such as h+kh) are not supported yet; an index is a variable", {w});
};

/** A tensor of more than kMaxRank dimensions, or a reduction over more variables. */
void check_rank(const std::vector<IndexAst> &indices, SourceRange name) {
    if (indices.size() > static_cast<std::size_t>(kMaxRank))
        fail(std::to_string(indices.size()) + " indices; einfuse takes at most " + std::to_string(kMaxRank), {name});
}

auto const on_binary = [](auto &ctx) {
    Builder &b = builder(ctx);
    auto rhs = b.pop(), lhs = b.pop();
    auto e = std::make_shared<ExprAst>();
    e->kind = ExprAstKind::Binary;
    e->op = text(ctx);
    e->name_where = where(ctx);
    e->where = {lhs->where.begin, rhs->where.end};
    e->args = {lhs, rhs};
    set_depth(*e);
    b.exprs.push_back(e);
};

bool is_comparison(const ExprAst &e) {
    static const char *const ops[] = {"<", "<=", ">", ">=", "==", "!="};
    if (e.kind != ExprAstKind::Binary || e.parens) return false;
    for (const char *op : ops)
        if (e.op == op) return true;
    return false;
}

auto const on_compare = [](auto &ctx) {
    on_binary(ctx);
    const ExprAst &e = *builder(ctx).exprs.back();
    if (is_comparison(*e.args[0]))
        fail("comparisons do not chain", {e.args[0]->name_where, e.name_where},
             {"write (a < b) * (b < c) for 'both', or parenthesise the comparison you mean"});
};

auto const on_negate = [](auto &ctx) {
    Builder &b = builder(ctx);
    auto a = b.pop();
    auto e = std::make_shared<ExprAst>();
    e->kind = ExprAstKind::Negate;
    e->op = "-";
    e->name_where = where(ctx);
    e->where = {e->name_where.begin, a->where.end};
    e->args = {a};
    set_depth(*e);
    b.exprs.push_back(e);
};

auto const on_paren = [](auto &ctx) {
    ExprAst &e = *builder(ctx).exprs.back();
    e.parens = true;
    e.where = where(ctx);
};

auto const on_name = [](auto &ctx) {
    Builder &b = builder(ctx);
    b.frames.push_back({text(ctx), where(ctx), b.indices.size(), b.exprs.size()});
};
auto const on_bracket = [](auto &ctx) { builder(ctx).frames.back().brackets = true; };
auto const on_call = [](auto &ctx) { builder(ctx).frames.back().parens = true; };

/** Decides what a name-led primary was: the bracket and the parenthesis decide between a read
 * A[i], a reduction max[j](e) and a call max(a, b). */
auto const on_name_end = [](auto &ctx) {
    Builder &b = builder(ctx);
    Frame f = b.frames.back();
    b.frames.pop_back();
    auto e = std::make_shared<ExprAst>();
    e->where = where(ctx);
    e->name = f.name;
    e->name_where = f.name_where;
    e->indices.assign(b.indices.begin() + f.index_base, b.indices.end());
    e->args.assign(b.exprs.begin() + f.expr_base, b.exprs.end());
    b.indices.resize(f.index_base);
    b.exprs.resize(f.expr_base);
    check_rank(e->indices, f.name_where);
    if (f.brackets && f.parens) {
        e->kind = ExprAstKind::Reduction;
        if (f.name != "sum" && f.name != "max" && f.name != "min" && f.name != "prod")
            fail("unknown reduction '" + f.name + "'", {f.name_where}, {"the reductions are sum, max, min and prod"});
        if (e->indices.empty()) fail("a reduction needs at least one variable: " + f.name + "[j](...)", {e->where});
    } else if (f.brackets) {
        e->kind = ExprAstKind::Read;
    } else if (f.parens) {
        e->kind = ExprAstKind::Call;
    } else {
        fail("'" + f.name + "' alone is not an expression; read a tensor as " + f.name + "[i, ...] (a scalar as " +
                 f.name + "[])",
             {f.name_where});
    }
    set_depth(*e);
    b.exprs.push_back(e);
};

auto const on_statement_name = [](auto &ctx) {
    Builder &b = builder(ctx);
    b.statement = {};
    b.statement.tensor = text(ctx);
    b.statement.tensor_where = where(ctx);
};
auto const on_lhs = [](auto &ctx) {
    Builder &b = builder(ctx);
    b.statement.lhs_where = where(ctx);
    b.statement.indices = std::move(b.indices);
    b.indices.clear();
    check_rank(b.statement.indices, b.statement.tensor_where);
};
auto const on_assign = [](auto &ctx) {
    Builder &b = builder(ctx);
    b.statement.accumulate = text(ctx) == "+=";
    b.statement.op_where = where(ctx);
};
/** The depth e reaches, at `level`, once fusion inlines the definitions it reads (each counted
 * by its own inlined depth); *at receives the read that reaches deepest. Recurses at most
 * kMaxExpressionDepth levels: set_depth refused anything deeper. */
int inlined_depth(const ExprAst &e, int level, const std::map<std::string, int> &defined, const ExprAst **at) {
    int deepest = level;
    if (e.kind == ExprAstKind::Read)
        if (auto it = defined.find(e.name); it != defined.end() && level + it->second - 1 > deepest)
            deepest = level + it->second - 1, *at = &e;
    for (const auto &a : e.args) deepest = std::max(deepest, inlined_depth(*a, level + 1, defined, at));
    return deepest;
}

/** Fusion puts a statement's right-hand side in place of its reads, so the depth that later walks
 * meet is the depth through the statements read: t1 = t0 + 1 + ... over 100 statements is one
 * tree 100 times deeper. It is held to the same limit, at the read that passes it. */
void check_inlined_depth(Builder &b) {
    const StatementAst &st = b.statement;
    const ExprAst *at = nullptr;
    int depth = inlined_depth(*st.rhs, 1, b.inlined_depth, &at);
    if (auto it = b.inlined_depth.find(st.tensor); st.accumulate && it != b.inlined_depth.end())
        depth = std::max(depth, it->second) + 1;
    if (depth > kMaxExpressionDepth)
        fail("reading '" + (at ? at->name : st.tensor) + "' here makes the expression more than " +
                 std::to_string(kMaxExpressionDepth) + " levels deep once its definition is fused in",
             {at ? at->name_where : st.tensor_where},
             {"statements are fused into the ones that read them; a chain of statements counts as one expression"});
    b.inlined_depth[st.tensor] = depth;
}

auto const on_statement = [](auto &ctx) {
    Builder &b = builder(ctx);
    b.statement.rhs = b.pop();
    b.statement.where = where(ctx);
    check_inlined_depth(b);
    b.ast->statements.push_back(std::move(b.statement));
    b.after_statement = true;
};
auto const on_separator = [](auto &ctx) { builder(ctx).after_statement = false; };

// ---- grammar ----

/** nested[p]: p, counted as one level of nesting while it runs, refused past the limit with a
 * caret where the level begins. Every recursion of the grammar passes through a nested rule,
 * so the parser's own stack stays bounded whatever the input. */
template <class Subject> struct nested_parser : x3::unary_parser<Subject, nested_parser<Subject>> {
    using base = x3::unary_parser<Subject, nested_parser<Subject>>;
    static bool const is_pass_through_unary = true;
    constexpr nested_parser(Subject const &subject) : base(subject) {}
    template <class It, class Ctx, class RCtx, class Attr>
    bool parse(It &first, It const &last, Ctx const &ctx, RCtx &rctx, Attr &attr) const {
        Builder &b = builder(ctx);
        if (b.depth >= kMaxNesting) {
            It at = first;
            x3::skip_over(at, last, ctx);
            int pos = static_cast<int>(at - b.begin);
            fail("the expression nests more than " + std::to_string(kMaxNesting) + " levels deep", {{pos, pos + 1}},
                 {"parentheses, calls, reductions, unary minus and '^' each open a level"});
        }
        struct Level {
            int &depth;
            ~Level() { --depth; }
        } level{++b.depth};
        return this->subject.parse(first, last, ctx, rctx, attr);
    }
};
struct nested_gen {
    template <class Subject> constexpr nested_parser<typename x3::extension::as_parser<Subject>::value_type>
    operator[](Subject const &subject) const {
        return {x3::as_parser(subject)};
    }
};
constexpr nested_gen nested{};

/** Unsigned reals without "nan" and "inf", which would take tensors of those names. */
struct NumberPolicies : x3::ureal_policies<double> {
    template <class It, class Attr> static bool parse_nan(It &, It const &, Attr &) { return false; }
    template <class It, class Attr> static bool parse_inf(It &, It const &, Attr &) { return false; }
};
x3::real_parser<double, NumberPolicies> const number;

// name ::= ( letter | '_' ) ( letter | digit | '_' )*
auto const name = x3::lexeme[(x3::alpha | x3::char_('_')) >> *(x3::alnum | x3::char_('_'))];

x3::rule<class program_class> const program = "a program";
x3::rule<class statement_class> const statement = "a statement";
x3::rule<class index_list_class> const index_list = "an index variable or ']'";
x3::rule<class index_close_class> const index_close = "',' or ']'";
x3::rule<class index_class> const index = "an index variable";
x3::rule<class index_syntax_class> const index_syntax = "an index variable";
x3::rule<class index_term_class> const index_term = "an index variable";
x3::rule<class expr_class> const expr = "an expression";
x3::rule<class additive_class> const additive = "an expression";
x3::rule<class term_class> const term = "an expression";
x3::rule<class unary_class> const unary = "an expression";
x3::rule<class power_class> const power = "an expression";
x3::rule<class primary_class> const primary = "an expression";
x3::rule<class name_tail_class> const name_tail = "'[' or '('";
x3::rule<class arg_close_class> const arg_close = "',' or ')'";

// program    ::= sep* ( statement ( sep+ statement )* sep* )? EOF
// sep        ::= ';' | newline            -- blanks and '#' comments are skipped everywhere
auto const sep = (x3::lit(';') | x3::eol)[on_separator];
auto const program_def = *sep >> -(statement % +sep) >> *sep > x3::eoi;

// statement  ::= name '[' index_list ']' ( '=' | '+=' ) expr
auto const statement_def = x3::raw[x3::raw[x3::raw[name][on_statement_name] > '[' > index_list][on_lhs] >
                                   x3::raw[x3::lit("+=") | x3::lit('=')][on_assign] > expr][on_statement];

// index_list ::= ']' | index ( ',' index )* ']'
auto const index_list_def = x3::lit(']') | (index % ',' > index_close);
auto const index_close_def = x3::lit(']');

// index      ::= name                    -- today; read loosely as the future form below and
//                                           rejected with "not supported yet":
//   index_syntax ::= '-'? index_term ( ( '+' | '-' ) index_term )*
//   index_term   ::= integer ( '*' name )? | name ( '*' integer | '[' index_syntax ( ',' index_syntax )* ']' )?
auto const index_def = x3::raw[index_syntax][on_index];
auto const index_syntax_def = -x3::lit('-') >> index_term >> *(x3::char_("+-") >> index_term);
auto const index_term_def = nested[
    (x3::uint_ >> -('*' >> name)) | (name >> -(('*' >> x3::uint_) | ('[' >> (index_syntax % ',') >> ']')))];

// expr       ::= additive ( ( '<' | '<=' | '>' | '>=' | '==' | '!=' ) additive )?   -- non-associative
auto const comparison = x3::lit("<=") | x3::lit(">=") | x3::lit("==") | x3::lit("!=") | x3::lit('<') | x3::lit('>');
auto const expr_def = additive >> *(x3::raw[comparison] > additive)[on_compare];

// additive   ::= term ( ( '+' | '-' ) term )*
auto const additive_def = term >> *(x3::raw[x3::char_("+-")] > term)[on_binary];

// term       ::= unary ( ( '*' | '/' ) unary )*
auto const term_def = unary >> *(x3::raw[x3::char_("*/")] > unary)[on_binary];

// unary      ::= '-' unary | power        -- so -x^2 is -(x^2)
// Every recursion of expressions passes through unary: one level of nesting.
auto const unary_def = nested[(x3::raw[x3::lit('-')] > unary)[on_negate] | power];

// power      ::= primary ( '^' unary )?  -- right-associative; 2^-1 reads as 2^(-1)
auto const power_def = primary >> -(x3::raw[x3::lit('^')] > unary)[on_binary];

// primary    ::= number | '(' expr ')' | name name_tail
auto const primary_def = x3::raw[number][on_number] | x3::raw[x3::lit('(') > expr > ')'][on_paren] |
                         x3::raw[x3::raw[name][on_name] >> name_tail][on_name_end];

// name_tail  ::= '[' index_list ( '(' expr ')' )?      -- a read A[i], or a reduction sum[j](e)
//              | '(' expr ( ',' expr )* ')'            -- a call exp(e), max(a, b)
//              | (nothing: reported as a name without brackets)
auto const name_tail_def = (x3::lit('[')[on_bracket] > index_list >> -(x3::lit('(')[on_call] > expr > ')')) |
                           (x3::lit('(')[on_call] > (expr % ',') > arg_close) | x3::eps;
auto const arg_close_def = x3::lit(')');

BOOST_SPIRIT_DEFINE(program, statement, index_list, index_close, index, index_syntax, index_term, expr, additive, term,
                    unary, power, primary, name_tail, arg_close)

// Blanks and comments; newlines are separators, so they are not skipped.
auto const skipper = x3::blank | x3::lexeme['#' >> *(x3::char_ - x3::eol)];

std::string describe(std::string_view src, std::size_t pos) {
    if (pos >= src.size()) return "end of program";
    unsigned char c = static_cast<unsigned char>(src[pos]);
    if (c == '\n' || c == '\r') return "end of line";
    if (c >= 0x20 && c < 0x7f) return std::string("'") + src[pos] + "'";
    char hex[8];
    std::snprintf(hex, sizeof hex, "0x%02x", c);
    return std::string("byte ") + hex;
}

} // namespace

bool is_program(std::string_view text) { return text.find_first_of("[=") != std::string_view::npos; }

ProgramAst parse_program(std::string_view source) {
    ProgramAst ast;
    ast.source = std::string(source);
    const char *const begin = ast.source.data();
    const char *first = begin;
    Builder b{begin, &ast, {}, {}, {}, {}, false, 0, {}};
    try {
        x3::phrase_parse(first, begin + ast.source.size(), x3::with<builder_tag>(&b)[program], skipper);
    } catch (const x3::expectation_failure<const char *> &e) {
        std::size_t pos = static_cast<std::size_t>(e.where() - begin);
        std::string expected = e.which();
        if (expected == "eoi")
            expected = b.after_statement ? "an operator, ';' or a newline" : "a statement such as C[i] = A[i]";
        int at = static_cast<int>(pos);
        fail("unexpected " + describe(ast.source, pos) + "; expected " + expected, {{at, at + 1}});
    }
    if (ast.statements.empty())
        fail("the program has no statements", {}, {"a statement looks like C[i,k] = A[i,j] * B[j,k]"});
    analyze_program(ast); // the checks that need no shapes: report them now
    return ast;
}

} // namespace einfuse::frontend

namespace einfuse::frontend {

std::string ast_to_string(const ExprAst &e) {
    auto list = [](const std::vector<IndexAst> &indices) {
        std::string s;
        for (std::size_t i = 0; i < indices.size(); ++i)
            s += (i ? "," : "") + indices[i].var;
        return s;
    };
    switch (e.kind) {
    case ExprAstKind::Number: {
        char buf[32];
        std::snprintf(buf, sizeof buf, "%g", e.number);
        return buf;
    }
    case ExprAstKind::Read:
        return e.name + "[" + list(e.indices) + "]";
    case ExprAstKind::Negate:
        return "(-" + ast_to_string(*e.args[0]) + ")";
    case ExprAstKind::Binary:
        return "(" + ast_to_string(*e.args[0]) + " " + e.op + " " + ast_to_string(*e.args[1]) + ")";
    case ExprAstKind::Call: {
        std::string s = e.name + "(";
        for (std::size_t i = 0; i < e.args.size(); ++i)
            s += (i ? ", " : "") + ast_to_string(*e.args[i]);
        return s + ")";
    }
    case ExprAstKind::Reduction:
        return e.name + "[" + list(e.indices) + "](" + ast_to_string(*e.args[0]) + ")";
    }
    return "?";
}

} // namespace einfuse::frontend
