#include "tools/CliOptions.h"

#include <charconv>

namespace einfuse::cli {

namespace {

int64_t parse_size(std::string_view text, const std::string &context) {
    int64_t v = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (ec != std::errc() || end != text.data() + text.size() || text.empty() || v < 0)
        throw UsageError(context + ": '" + std::string(text) + "' is not a size (a non-negative integer)");
    return v;
}

std::vector<std::string> split(const std::string &text, char sep) {
    std::vector<std::string> parts;
    std::size_t start = 0;
    while (true) {
        std::size_t pos = text.find(sep, start);
        parts.push_back(text.substr(start, pos - start));
        if (pos == std::string::npos) return parts;
        start = pos + 1;
    }
}

/** "NAME=VALUE" -> {NAME, VALUE}. */
std::pair<std::string, std::string> key_value(const std::string &text, const char *option) {
    auto eq = text.find('=');
    if (eq == std::string::npos || eq == 0)
        throw UsageError(std::string(option) + " " + text + ": expected NAME=VALUE");
    return {text.substr(0, eq), text.substr(eq + 1)};
}

/** The operand an option names: "0", "1", ... for an einsum. */
std::size_t operand_index(const std::string &name, std::size_t operands, const char *option) {
    std::size_t i = 0;
    auto [end, ec] = std::from_chars(name.data(), name.data() + name.size(), i);
    if (ec != std::errc() || end != name.data() + name.size() || i >= operands)
        throw UsageError(std::string(option) + " names '" + name + "': an einsum's operands are 0.." +
                         std::to_string(operands == 0 ? 0 : operands - 1));
    return i;
}

} // namespace

ir::Extents parse_dims(const std::string &text) {
    ir::Extents dims;
    if (text.empty()) return dims;
    for (const auto &part : split(text, ',')) {
        auto [name, value] = key_value(part, "--dims");
        if (!dims.emplace(name, parse_size(value, "--dims " + name)).second)
            throw UsageError("--dims gives '" + name + "' twice");
    }
    return dims;
}

std::vector<std::optional<Shape>> parse_shapes(const std::vector<std::string> &specs, std::size_t operands) {
    std::vector<std::optional<Shape>> shapes(operands);
    for (const auto &spec : specs) {
        auto [name, value] = key_value(spec, "--shape");
        std::size_t i = operand_index(name, operands, "--shape");
        Shape shape;
        if (!value.empty() && value != "scalar")
            for (const auto &s : split(value, 'x')) shape.push_back(parse_size(s, "--shape " + name));
        shapes[i] = shape;
    }
    return shapes;
}

std::vector<std::optional<DType>> parse_dtypes(const std::vector<std::string> &specs, std::size_t operands) {
    std::vector<std::optional<DType>> dtypes(operands);
    auto parse = [](const std::string &v) {
        auto t = parse_dtype(v);
        if (!t) throw UsageError("--dtype " + v + ": expected f16, bf16, f32, f64, i32 or i64");
        return *t;
    };
    for (const auto &spec : specs) {
        if (spec.find('=') == std::string::npos) {
            std::fill(dtypes.begin(), dtypes.end(), parse(spec));
            continue;
        }
        auto [name, value] = key_value(spec, "--dtype");
        dtypes[operand_index(name, operands, "--dtype")] = parse(value);
    }
    return dtypes;
}

std::vector<std::optional<std::string>> parse_inputs(const std::vector<std::string> &specs, std::size_t operands) {
    std::vector<std::optional<std::string>> files(operands);
    for (const auto &spec : specs) {
        auto [name, file] = key_value(spec, "--input");
        std::size_t i = operand_index(name, operands, "--input");
        if (file.empty()) throw UsageError("--input " + spec + ": expected NAME=FILE.npy");
        if (files[i]) throw UsageError("--input gives operand " + name + " twice");
        files[i] = file;
    }
    return files;
}

std::optional<std::string> parse_einsum_output(const std::vector<std::string> &specs) {
    std::optional<std::string> file;
    for (const auto &spec : specs) {
        auto [name, value] = key_value(spec, "--output");
        if (name != "out") throw UsageError("--output names '" + name + "': an einsum's only result is named 'out'");
        if (value.empty()) throw UsageError("--output " + spec + ": expected out=FILE.npy");
        if (file) throw UsageError("--output gives 'out' twice");
        file = value;
    }
    return file;
}

Target parse_target(const std::string &text) {
    if (text == "host") return Target::Host;
    if (text == "cuda") return Target::Cuda;
    throw UsageError("--target " + text + ": expected host or cuda");
}

} // namespace einfuse::cli
