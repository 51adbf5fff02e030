// The einsum grammar in Spirit X3. Positions are kept for every label and operand, so later
// diagnostics (size mismatches, unknown output labels) can put a caret under the right letter.
#include "frontend/Einsum.h"
#include "frontend/Limits.h"

#include <boost/spirit/home/x3.hpp>

namespace einfuse::frontend {

namespace x3 = boost::spirit::x3;

namespace {

/** Describes the character at `pos` for an error message. */
std::string describe(std::string_view src, std::size_t pos) {
    if (pos >= src.size()) return "end of subscripts";
    unsigned char c = static_cast<unsigned char>(src[pos]);
    if (c >= 0x20 && c < 0x7f) return std::string("'") + src[pos] + "'";
    char hex[8];
    std::snprintf(hex, sizeof hex, "0x%02x", c);
    return std::string("byte ") + hex;
}

} // namespace

EinsumAst parse_einsum(std::string_view source) {
    EinsumAst ast;
    ast.source = std::string(source);
    const char *const begin = ast.source.data();
    const char *const end = begin + ast.source.size();
    auto offset = [begin](const char *it) { return static_cast<int>(it - begin); };

    // Actions fill `current` while an operand is being read, then move it to its place.
    EinsumOperand current;
    bool in_output = false;
    auto on_label = [&](auto &ctx) {
        auto range = x3::_attr(ctx);
        current.labels.push_back({*range.begin(), {offset(range.begin()), offset(range.end())}});
    };
    auto on_ellipsis = [&](auto &ctx) {
        auto range = x3::_attr(ctx);
        SourceRange where{offset(range.begin()), offset(range.end())};
        if (current.ellipsis)
            throw UserError(Diagnostic{"an operand may hold '...' only once", {*current.ellipsis, where}, {}});
        current.ellipsis = where;
        current.ellipsis_at = current.labels.size();
    };
    auto on_operand = [&](auto &ctx) {
        auto range = x3::_attr(ctx);
        current.where = {offset(range.begin()), offset(range.end())};
        if (current.labels.size() > static_cast<std::size_t>(kMaxRank))
            throw UserError(Diagnostic{"an operand has " + std::to_string(current.labels.size()) +
                                           " labels; einfuse takes at most " + std::to_string(kMaxRank) + " dimensions",
                                       {current.where}, {}});
        if (!in_output && ast.operands.size() >= static_cast<std::size_t>(kMaxOperands))
            throw UserError(Diagnostic{"more than " + std::to_string(kMaxOperands) + " operands", {current.where}, {}});
        if (in_output) ast.output = std::move(current);
        else ast.operands.push_back(std::move(current));
        current = {};
    };
    auto on_arrow = [&](auto &) { in_output = true; };

    // label      ::= 'a'..'z' | 'A'..'Z'
    // operand    ::= ( label | '...' )*
    // subscripts ::= operand ( ',' operand )* ( '->' operand )?
    // Spaces are ignored anywhere.
    auto const label = x3::raw[x3::char_("a-zA-Z")][on_label];
    auto const ellipsis = x3::raw[x3::lit("...")][on_ellipsis];
    auto const operand = x3::raw[*(label | ellipsis)][on_operand];
    auto const subscripts = operand % ',' > -(x3::lit("->")[on_arrow] > operand) > x3::eoi;

    const char *first = begin;
    try {
        if (!x3::phrase_parse(first, end, subscripts, x3::ascii::space))
            throw UserError(Diagnostic{"malformed einsum subscripts", {{offset(first), offset(first) + 1}}, {}});
    } catch (const x3::expectation_failure<const char *> &e) {
        std::size_t pos = static_cast<std::size_t>(e.where() - begin);
        std::string what = describe(ast.source, pos);
        std::string expected = in_output ? "a letter" : "a letter, '...', ',' or '->'";
        std::vector<std::string> notes;
        if (in_output && pos < ast.source.size() && (ast.source[pos] == '-' || ast.source[pos] == ','))
            notes.push_back("the output comes last: one '->' followed by one operand");
        throw UserError(Diagnostic{"unexpected " + what + " in einsum subscripts; expected " + expected,
                                   {{static_cast<int>(pos), static_cast<int>(pos) + 1}},
                                   std::move(notes)});
    }
    return ast;
}

} // namespace einfuse::frontend
