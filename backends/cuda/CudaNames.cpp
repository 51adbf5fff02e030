#include "backends/cuda/CudaInternal.h"

#include "ir/IRVisitor.h"
#include "ir/Walk.h"
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
    "fmaxf",    "fminf",     "NULL",     "idx",      "rest",         "total",         "main",
    // The staged kernels' locals and types (CudaStaged.cpp).
    "tile0",    "tile_n",    "tile_t",   "tile_b",   "tile_fast",    "uint4",         "einfuse_is_dense",
    "tile_chunk", "tile_begin", "tile_end", "tile_base", "tile_active", "tile_j0", "tile_rows", "tile_jj",
    "tile_float", "tile_double", "tile_int", "tile_long_long", "tile_half", "tile_nv_bfloat16",
    "tile_e", "tile_c", "einfuse_partial", "einfuse_split", "einfuse_splits", "dim3",
    // The GEMM kernels' locals and templates (CudaGemm.cpp, CudaGemmDevice.cpp).
    "gemm_c", "gemm_acc", "gemm_update", "gemm_epilogue", "gemm_a", "gemm_b", "gemm_a_t", "gemm_a_r", "gemm_a_k",
    "gemm_a_kfast", "gemm_a_vec", "gemm_b_t", "gemm_b_r", "gemm_b_k", "gemm_b_kfast", "gemm_b_vec", "gemm_batch",
    "gemm_M", "gemm_N", "gemm_tiles128", "grid", "Cfg", "einfuse_gemm_make_operand", "einfuse_gemm_simt",
    "einfuse_gemm_mma", "einfuse_simt_cfg", "einfuse_mma_cfg", "einfuse_gemm_operand", "einfuse_gemm_load",
    "einfuse_gemm_tile", "einfuse_gemm_tile_at", "einfuse_mma", "make_uint4", "__ldg"};
// Functions and types the kernels name: a tensor called `max` would hide max() inside the kernel.
const char *const kCalled[] = {
    "max", "min", "half", "nv_bfloat16", "einfuse_wrap_add", "einfuse_wrap_sub", "einfuse_wrap_mul"};
// The math functions that Unary, pow and the device prelude call (CudaExpr.cpp, CudaTypes.cpp).
const char *const kMathCalled[] = {
    "exp",   "expf",  "log",   "logf", "sqrt", "sqrtf", "rsqrt",        "rsqrtf",       "fabs",
    "fabsf", "tanh",  "tanhf", "sin",  "sinf", "cos",   "cosf",         "floor",        "floorf",
    "ceil",  "ceilf", "pow",   "powf", "erfc", "erfcf", "einfuse_sign", "einfuse_gelu", "einfuse_wrap_abs", "einfuse_exp"};

std::vector<std::string> var_derived(const std::string &c, int) { return {"n_" + c}; }
std::vector<std::string> tensor_derived(const std::string &c, int rank) {
    std::vector<std::string> out;
    for (int d = 0; d < rank; ++d)
        out.push_back(c + "_s" + std::to_string(d));
    for (const char *staged : {"_stage", "_tile", "_v"}) out.push_back(c + staged); // CudaStaged.cpp
    return out;
}
std::vector<std::string> no_derived(const std::string &, int) { return {}; }

/** Calls on_expr for every expression node, on_access for every Access and Store (as tensor +
 * indices) and on_decl for every scalar declaration. Every kind of node is walked: an f16
 * kernel reads Cast(f32, in0[b,i,j]), and a missed Access would go unchecked by the launcher. */
struct Walker : ir::IRVisitor {
    std::function<void(const ir::Expr &)> on_expr = [](const ir::Expr &) {};
    std::function<void(const std::string &, const std::vector<ir::Index> &)> on_access =
        [](const std::string &, const std::vector<ir::Index> &) {};
    std::function<void(const ir::DeclareScalar &)> on_decl = [](const ir::DeclareScalar &) {};

    using ir::IRVisitor::walk;
    void walk(const ir::Expr &e) override {
        on_expr(e);
        ir::IRVisitor::walk(e);
    }

protected:
    using ir::IRVisitor::visit;
    void visit(const ir::Access &a) override { on_access(a.tensor, a.indices); }
    void visit(const ir::Store &st) override {
        ir::IRVisitor::visit(st);
        on_access(st.tensor, st.indices);
    }
    void visit(const ir::DeclareScalar &d) override {
        ir::IRVisitor::visit(d);
        on_decl(d);
    }
};

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
    taken_.insert(std::begin(kCalled), std::end(kCalled));
    taken_.insert(std::begin(kMathCalled), std::end(kMathCalled));
    taken_.insert(k.name);
    taken_.insert(k.name + "_launch");
    for (const char *gemm : {"_gemm", "_gemm_m64", "_gemm_m32", "_gemm_body"}) taken_.insert(k.name + gemm);
    for (int r = 1; r < kMaxPoints; ++r)
        for (const char *local : {"idx_p", "rest_p", "tile_active_p"}) taken_.insert(local + std::to_string(r));
    for (const auto &v : k.index_vars)
        vars_[v] = pick(v, var_derived, 0);
    base_vars_ = vars_;
    for (const auto &t : k.params)
        tensors_[t.name] = pick(t.name, tensor_derived, t.rank);
    for (const auto &s : declared_scalars(k))
        if (!scalars_.count(s)) scalars_[s] = pick(s, no_derived, 0);
}

KernelNames KernelNames::for_point(int r, const std::vector<std::string> &vars) const {
    KernelNames out(*this);
    const std::string suffix = "_p" + std::to_string(r);
    for (const auto &v : vars) out.vars_[v] = out.pick(vars_.at(v) + suffix, no_derived, 0);
    for (auto &[name, c] : out.scalars_) c = out.pick(c + suffix, no_derived, 0);
    return out;
}

std::map<std::string, std::vector<std::vector<std::string>>> tensor_accesses(const ir::Kernel &k) {
    std::map<std::string, std::vector<std::vector<std::string>>> out;
    Walker w;
    w.on_access = [&](const std::string &t, const std::vector<ir::Index> &index) {
        std::vector<std::string> idx; // a plain variable's name, or an affine index's text
        for (const auto &i : index) idx.push_back(ir::to_string(i));
        auto &seen = out[t];
        if (std::find(seen.begin(), seen.end(), idx) == seen.end()) seen.push_back(idx);
    };
    w.walk(k.body);
    return out;
}

std::vector<std::string> declared_scalars(const ir::Kernel &k) {
    std::vector<std::string> out;
    Walker w;
    w.on_decl = [&](const ir::DeclareScalar &d) { out.push_back(d.name); };
    w.walk(k.body);
    if (k.tiling && k.tiling->blocks) out.push_back(k.tiling->blocks->sum); // the tiled loop's block sum
    return out;
}

std::set<ir::UnaryOp> kernel_unary_ops(const ir::Kernel &k) {
    std::set<ir::UnaryOp> out;
    Walker w;
    w.on_expr = [&](const ir::Expr &e) {
        if (const auto *u = e.as<ir::Unary>()) out.insert(u->op);
    };
    w.walk(k.body);
    return out;
}

std::set<DType> kernel_dtypes(const ir::Kernel &k) {
    std::set<DType> out;
    for (const auto &t : k.params)
        out.insert(t.dtype);
    Walker w;
    w.on_expr = [&](const ir::Expr &e) { out.insert(e.type()); };
    w.on_decl = [&](const ir::DeclareScalar &d) { out.insert(d.type); };
    w.walk(k.body);
    return out;
}

} // namespace einfuse::cuda_backend::detail
