#include "CliOptions.h"

#include <algorithm>
#include <cctype>
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

/** `text` without the spaces and tabs around it: "b=2, i=3" reads as "b=2,i=3". */
std::string trim(const std::string &text) {
    std::size_t begin = text.find_first_not_of(" \t");
    if (begin == std::string::npos) return "";
    return text.substr(begin, text.find_last_not_of(" \t") - begin + 1);
}

/** The parts of `text` between `sep`s, each trimmed. */
std::vector<std::string> split(const std::string &text, char sep) {
    std::vector<std::string> parts;
    std::size_t start = 0;
    while (true) {
        std::size_t pos = text.find(sep, start);
        parts.push_back(trim(text.substr(start, pos - start)));
        if (pos == std::string::npos) return parts;
        start = pos + 1;
    }
}

/** "NAME=VALUE" -> {NAME, VALUE}, both trimmed. */
std::pair<std::string, std::string> key_value(const std::string &text, const char *option) {
    auto eq = text.find('=');
    std::string name = eq == std::string::npos ? "" : trim(text.substr(0, eq));
    if (name.empty()) throw UsageError(std::string(option) + " " + text + ": expected NAME=VALUE");
    return {name, trim(text.substr(eq + 1))};
}

/** The input an option names, as an index into names. */
std::size_t name_index(const std::string &name, const std::vector<std::string> &names, const char *option) {
    auto it = std::find(names.begin(), names.end(), name);
    if (it != names.end()) return static_cast<std::size_t>(it - names.begin());
    std::string list;
    for (const auto &n : names) list += (list.empty() ? "" : ", ") + n;
    throw UsageError(std::string(option) + " names '" + name + "', which is not one of: " + (list.empty() ? "(none)" : list));
}

} // namespace

Sizes parse_dims(const std::vector<std::string> &specs) {
    Sizes dims;
    for (const auto &text : specs) {
        if (trim(text).empty()) continue;
        for (const auto &part : split(text, ',')) {
            if (part.empty()) throw UsageError("--dims " + text + ": an empty entry (expected i=2,j=3)");
            auto [name, value] = key_value(part, "--dims");
            int64_t size = parse_size(value, "--dims " + name);
            auto [it, fresh] = dims.emplace(name, size);
            if (!fresh && it->second != size)
                throw UsageError("--dims gives '" + name + "' twice, as " + std::to_string(it->second) + " and " +
                                 std::to_string(size));
        }
    }
    return dims;
}

void check_name(const std::string &name) {
    if (name.empty()) return;
    bool ok = name.size() <= 100 && !std::isdigit(static_cast<unsigned char>(name[0])) && name.rfind("__", 0) != 0 &&
              !(name[0] == '_' && name.size() > 1 && std::isupper(static_cast<unsigned char>(name[1])));
    for (char c : name) ok = ok && (std::isalnum(static_cast<unsigned char>(c)) || c == '_');
    if (!ok)
        throw UsageError("--name " + name +
                         ": expected a C identifier of at most 100 characters (letters, digits and _, not starting "
                         "with a digit, __ or _ and a capital), e.g. --name gauss_sum");
}

void check_arch(const std::string &arch) {
    if (arch.empty()) return;
    std::string_view rest = arch;
    bool ok = false;
    for (std::string_view prefix : {"sm_", "compute_"})
        if (rest.substr(0, prefix.size()) == prefix) {
            rest.remove_prefix(prefix.size());
            ok = true;
            break;
        }
    if (ok && !rest.empty() && (rest.back() == 'a' || rest.back() == 'f')) rest.remove_suffix(1);
    int number = 0;
    auto [end, ec] = std::from_chars(rest.data(), rest.data() + rest.size(), number);
    ok = ok && ec == std::errc() && end == rest.data() + rest.size() && rest.size() >= 2 && number >= 75;
    if (!ok)
        throw UsageError("--arch " + arch +
                         ": expected a CUDA architecture such as sm_90 (sm_NN, sm_NNa or compute_NN, NN >= 75: "
                         "what CUDA 13 builds for)");
}

std::vector<std::optional<Shape>> parse_shapes(const std::vector<std::string> &specs, const std::vector<std::string> &names) {
    std::vector<std::optional<Shape>> shapes(names.size());
    for (const auto &spec : specs) {
        auto [name, value] = key_value(spec, "--shape");
        std::size_t i = name_index(name, names, "--shape");
        Shape shape;
        if (!value.empty() && value != "scalar")
            for (const auto &s : split(value, 'x')) shape.push_back(parse_size(s, "--shape " + name));
        if (shapes[i] && *shapes[i] != shape) // no silent last-wins
            throw UsageError("--shape gives '" + name + "' twice, as " + shape_text(*shapes[i]) + " and " +
                             shape_text(shape));
        shapes[i] = shape;
    }
    return shapes;
}

std::vector<std::optional<ScalarType>> parse_dtypes(const std::vector<std::string> &specs, const std::vector<std::string> &names) {
    std::vector<std::optional<ScalarType>> dtypes(names.size());
    auto parse = [](const std::string &v) {
        for (ScalarType t : {ScalarType::F16, ScalarType::BF16, ScalarType::F32, ScalarType::F64, ScalarType::I32,
                             ScalarType::I64, ScalarType::Bool, ScalarType::I8, ScalarType::I16, ScalarType::U8,
                             ScalarType::U16, ScalarType::U32, ScalarType::U64, ScalarType::C64, ScalarType::C128})
            if (scalar_type_name(t) == v) return t;
        throw UsageError("--dtype " + v + ": expected f16, bf16, f32, f64, bool, i8, i16, i32, i64, u8, u16, u32, u64, c64 or c128");
    };
    for (const auto &spec : specs) {
        if (spec.find('=') == std::string::npos) {
            std::fill(dtypes.begin(), dtypes.end(), parse(trim(spec)));
            continue;
        }
        auto [name, value] = key_value(spec, "--dtype");
        dtypes[name_index(name, names, "--dtype")] = parse(value);
    }
    return dtypes;
}

namespace {
/** NAME=FILE options, at most one per name. */
std::vector<std::optional<std::string>> parse_files(const std::vector<std::string> &specs,
                                                    const std::vector<std::string> &names, const char *option) {
    std::vector<std::optional<std::string>> files(names.size());
    for (const auto &spec : specs) {
        auto [name, file] = key_value(spec, option);
        std::size_t i = name_index(name, names, option);
        if (file.empty()) throw UsageError(std::string(option) + " " + spec + ": expected NAME=FILE.npy");
        if (files[i]) throw UsageError(std::string(option) + " gives '" + name + "' twice");
        files[i] = file;
    }
    return files;
}
} // namespace

std::vector<std::optional<std::string>> parse_inputs(const std::vector<std::string> &specs, const std::vector<std::string> &names) {
    return parse_files(specs, names, "--input");
}

std::vector<std::optional<std::string>> parse_outputs(const std::vector<std::string> &specs, const std::vector<std::string> &names) {
    return parse_files(specs, names, "--output");
}

std::string shape_text(const Shape &s) {
    std::string out;
    for (auto d : s) out += (out.empty() ? "" : "x") + std::to_string(d);
    return out.empty() ? "scalar" : out;
}

DeviceKind parse_target(const std::string &text) {
    if (text == "host") return DeviceKind::Cpu;
    if (text == "cuda") return DeviceKind::Cuda;
    throw UsageError("--target " + text + ": expected host or cuda");
}

const char *target_text(DeviceKind target) { return target == DeviceKind::Cuda ? "cuda" : "host"; }

KernelOptions kernel_options(const Options &o) {
    KernelOptions k;
    check_arch(o.arch);
    k.arch = o.arch;
    k.threads = o.threads;
    k.allow_tf32 = o.tf32;
    const std::map<std::string, GemmPath> paths{{"auto", GemmPath::Auto},
                                                {"cublaslt", GemmPath::Library},
                                                {"emitted", GemmPath::Emitted},
                                                {"loops", GemmPath::Loops}};
    auto it = paths.find(o.gemm);
    if (it == paths.end()) throw UsageError("--gemm " + o.gemm + ": expected auto, cublaslt, emitted or loops");
    k.gemm = it->second;
    return k;
}

} // namespace einfuse::cli
