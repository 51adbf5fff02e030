#include "backends/cuda/CudaInternal.h"

#include "support/Error.h"

#include <algorithm>
#include <cctype>
#include <functional>

namespace einfuse::cuda_backend::detail {

namespace {

// Words a name of ours must never be: C++ keywords, CUDA built-ins and the kernel's own locals
// (idx, rest, total). A user's index called `int` becomes `int_`.
const char *const kReserved[] = {
    "alignas",  "alignof",   "and",      "asm",      "auto",         "bool",          "break",       "case",
    "catch",    "char",      "class",    "const",    "constexpr",    "const_cast",    "continue",    "decltype",
    "default",  "delete",    "do",       "double",   "dynamic_cast", "else",          "enum",        "explicit",
    "export",   "extern",    "false",    "float",    "for",          "friend",        "goto",        "if",
    "inline",   "int",       "long",     "mutable",  "namespace",    "new",           "noexcept",    "not",
    "nullptr",  "operator",  "or",       "private",  "protected",    "public",        "register",    "reinterpret_cast",
    "return",   "short",     "signed",   "sizeof",   "static",       "static_assert", "static_cast", "struct",
    "switch",   "template",  "this",     "throw",    "true",         "try",           "typedef",     "typeid",
    "typename", "union",     "unsigned", "using",    "virtual",      "void",          "volatile",    "while",
    "xor",      "threadIdx", "blockIdx", "blockDim", "gridDim",      "warpSize",      "fmax",        "fmin",
    "fmaxf",    "fminf",     "NULL",     "idx",      "rest",         "total",         "main"};

std::vector<std::string> var_derived(const std::string &c, int) { return {"n_" + c}; }
std::vector<std::string> tensor_derived(const std::string &c, int rank) {
    std::vector<std::string> out;
    for (int d = 0; d < rank; ++d)
        out.push_back(c + "_s" + std::to_string(d));
    return out;
}
std::vector<std::string> no_derived(const std::string &, int) { return {}; }

void walk(const ir::Expr &e, const std::function<void(const ir::Access &)> &f) {
    if (const auto *a = e.as<ir::Access>())
        f(*a);
    else if (const auto *b = e.as<ir::Binary>()) {
        walk(b->a, f);
        walk(b->b, f);
    }
}

/** Calls on_access for every Access and Store (as tensor + indices) and on_decl for every scalar. */
void walk(const ir::Stmt &s,
          const std::function<void(const std::string &, const std::vector<std::string> &)> &on_access,
          const std::function<void(const ir::DeclareScalar &)> &on_decl) {
    auto access = [&](const ir::Access &a) { on_access(a.tensor, a.indices); };
    if (const auto *f = s.as<ir::For>())
        walk(f->body, on_access, on_decl);
    else if (const auto *b = s.as<ir::Block>()) {
        for (const auto &x : b->stmts)
            walk(x, on_access, on_decl);
    } else if (const auto *st = s.as<ir::Store>()) {
        walk(st->value, access);
        on_access(st->tensor, st->indices);
    } else if (const auto *d = s.as<ir::DeclareScalar>()) {
        walk(d->init, access);
        on_decl(*d);
    } else if (const auto *a = s.as<ir::AssignScalar>()) {
        walk(a->value, access);
    }
}

} // namespace

std::string KernelNames::pick(std::string c, std::vector<std::string> (*derived)(const std::string &, int), int n) {
    // Names the C preprocessor or the implementation own (__x, _X) get a prefix first.
    if (c.size() >= 2 && c[0] == '_' && (c[1] == '_' || std::isupper(static_cast<unsigned char>(c[1])))) c = "v" + c;
    auto free = [&](const std::string &x) {
        if (taken_.count(x)) return false;
        for (const auto &d : derived(x, n))
            if (taken_.count(d)) return false;
        return true;
    };
    while (!free(c))
        c += "_";
    taken_.insert(c);
    for (const auto &d : derived(c, n))
        taken_.insert(d);
    return c;
}

KernelNames::KernelNames(const ir::Kernel &k) : taken_(std::begin(kReserved), std::end(kReserved)) {
    taken_.insert(k.name);
    taken_.insert(k.name + "_launch");
    for (const auto &v : k.index_vars)
        vars_[v] = pick(v, var_derived, 0);
    for (const auto &t : k.params)
        tensors_[t.name] = pick(t.name, tensor_derived, t.rank);
    for (const auto &s : declared_scalars(k))
        if (!scalars_.count(s)) scalars_[s] = pick(s, no_derived, 0);
}

std::map<std::string, std::vector<std::vector<std::string>>> tensor_accesses(const ir::Kernel &k) {
    std::map<std::string, std::vector<std::vector<std::string>>> out;
    walk(
        k.body,
        [&](const std::string &t, const std::vector<std::string> &idx) {
            auto &seen = out[t];
            if (std::find(seen.begin(), seen.end(), idx) == seen.end()) seen.push_back(idx);
        },
        [](const ir::DeclareScalar &) {});
    return out;
}

std::vector<std::string> declared_scalars(const ir::Kernel &k) {
    std::vector<std::string> out;
    walk(
        k.body, [](const std::string &, const std::vector<std::string> &) {},
        [&](const ir::DeclareScalar &d) { out.push_back(d.name); });
    return out;
}

} // namespace einfuse::cuda_backend::detail
