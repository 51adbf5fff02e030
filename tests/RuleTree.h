#pragma once
// Evaluates a launch rule's JSON tree (einfuse::EmbeddedRule::tree, docs/api.md) as a host that
// embeds einfuse's source without its runtime would: from the tree alone.
#include <nlohmann/json.hpp>

#include <cstdint>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

namespace einfuse::test {

/** What a launch knows: sizes, strides in elements and data addresses per tensor. */
struct RuleFacts {
    std::map<std::string, std::int64_t> sizes;
    std::map<std::string, std::vector<std::int64_t>> strides;
    std::map<std::string, std::uint64_t> addresses;
};

inline std::int64_t eval_tree(const nlohmann::json &t, const RuleFacts &f) {
    if (t.is_number_integer()) return t.get<std::int64_t>();
    const std::string op = t.at(0).get<std::string>();
    if (op == "size") return f.sizes.at(t.at(1).get<std::string>());
    if (op == "stride") return f.strides.at(t.at(1).get<std::string>()).at(t.at(2).get<std::size_t>());
    if (op == "aligned") return f.addresses.at(t.at(1).get<std::string>()) % t.at(2).get<std::uint64_t>() == 0;
    if (op == "dense") { // row-major in those sizes; a size-1 dimension may have any stride
        const auto &s = f.strides.at(t.at(1).get<std::string>());
        const auto dims = t.at(2).get<std::vector<std::string>>();
        std::int64_t expected = 1;
        for (std::size_t d = dims.size(); d-- > 0;) {
            std::int64_t n = f.sizes.at(dims[d]);
            if (n > 1 && s.at(d) != expected) return 0;
            expected *= n;
        }
        return 1;
    }
    if (op == "?:") return eval_tree(t.at(1), f) ? eval_tree(t.at(2), f) : eval_tree(t.at(3), f);
    if (op == "&&") return eval_tree(t.at(1), f) && eval_tree(t.at(2), f);
    if (op == "||") return eval_tree(t.at(1), f) || eval_tree(t.at(2), f);
    const std::int64_t a = eval_tree(t.at(1), f), b = eval_tree(t.at(2), f);
    if (op == "+") return a + b;
    if (op == "-") return a - b;
    if (op == "*") return a * b;
    if (op == "/") return a / b;
    if (op == "ceil_div") return (a + b - 1) / b;
    if (op == "min") return a < b ? a : b;
    if (op == "max") return a > b ? a : b;
    if (op == "<") return a < b;
    if (op == "<=") return a <= b;
    if (op == ">") return a > b;
    if (op == ">=") return a >= b;
    if (op == "==") return a == b;
    if (op == "!=") return a != b;
    throw std::runtime_error("unknown launch-rule operator " + op);
}

inline std::int64_t eval_tree(const std::string &tree, const RuleFacts &f) { return eval_tree(nlohmann::json::parse(tree), f); }

} // namespace einfuse::test
