// The emitted tiled GEMM of a kernel with k.gemm (ir::Gemm). The kernel's body stays the plain
// loop nest; this file reads three things out of it and prints them as lambdas that the shared
// templates (CudaGemmDevice.cpp) call:
//   where an operand element is, per index group (a group of several variables is split by
//   div/mod, "ijk,ikl->jl" has K = {i, k}):   auto gemm_a_k = [=](long long gemm_c) -> long long {...};
//   the multiply-add of the K loop, on CUDA cores: auto gemm_update = [](float acc, float x, float y) ...
//   the statements after the K loop, per output element, with the group coordinates split back
//   into the index variables and `acc` bound to its accumulator:
//       auto gemm_epilogue = [=](long long idx, long long idx_p1, long long idx_p2, float gemm_acc) {
//           const long long i = idx_p1; const long long k = idx_p2;
//           float acc = 0.0f; acc = gemm_acc;
//           D[i * D_s0 + k * D_s1] = fmaxf(acc + bias[k * bias_s0], 0.0f);
//       };
// Each tile configuration is an `extern "C" __global__` of its own taking exactly the plain
// kernel's parameters, so a runtime launches it with the same argument block.
#include "backends/cuda/CudaGemm.h"
#include "backends/cuda/CudaPrinter.h"
#include "ir/IRMutator.h"
#include "ir/Walk.h"
#include "support/Error.h"

#include <algorithm>
#include <array>

namespace einfuse::cuda_backend {

namespace detail {

namespace {

const GemmVariant kSimt4[] = {{"_gemm", false, 128, 128, 16, 8, 8, 2, 2},
                              {"_gemm_m64", false, 64, 64, 64, 8, 2, 4, 1},
                              {"_gemm_m32", false, 32, 32, 32, 4, 1, 8, 1}};
const GemmVariant kSimt8[] = {{"_gemm", false, 64, 64, 16, 4, 4, 1, 2}, {"_gemm_m32", false, 32, 32, 32, 4, 1, 4, 1}};
const GemmVariant kMma16[] = {{"_gemm", true, 128, 128, 32, 2, 4, 2, 2}, {"_gemm_m64", true, 64, 64, 32, 2, 2, 4, 2}};
const GemmVariant kMmaTf32[] = {{"_gemm", true, 128, 128, 16, 2, 4, 2, 2}, {"_gemm_m64", true, 64, 64, 32, 2, 2, 4, 2}};

/** What the printer needs of a GEMM kernel's body. */
struct GemmParts {
    const ir::Kernel &k;
    const ir::Gemm &g;
    ir::AroundLoop around;
    const ir::AssignScalar *update = nullptr; // acc = acc + a * b, inside the K loops
    DType acc_type = DType::F32;
    const ir::TensorInfo *a = nullptr, *b = nullptr;
    std::vector<std::string> a_idx, b_idx; // the operands' index lists
};

const ir::AssignScalar *find_update(const ir::Stmt &s) {
    if (const auto *a = s.as<ir::AssignScalar>()) return a;
    if (const auto *f = s.as<ir::For>()) return find_update(f->body);
    if (const auto *b = s.as<ir::Block>()) {
        EINFUSE_ASSERT(b->stmts.size() == 1, "a GEMM's K loop holds one statement");
        return find_update(b->stmts[0]);
    }
    throw InternalError("a GEMM's K loop only accumulates");
}

GemmParts parts(const ir::Kernel &k) {
    EINFUSE_ASSERT(k.gemm.has_value(), "a GEMM kernel has k.gemm");
    GemmParts p{k, *k.gemm, ir::around_first_loop(k), nullptr, DType::F32, nullptr, nullptr, {}, {}};
    EINFUSE_ASSERT(p.around.loop != nullptr, "a GEMM kernel has its K loop");
    p.update = find_update(p.around.loop->body);
    for (const auto &s : p.around.before)
        if (const auto *d = s.as<ir::DeclareScalar>(); d && d->name == p.update->name) p.acc_type = d->type;
    auto accesses = tensor_accesses(k);
    p.a = &k.params.at(k.param_index(p.g.a));
    p.b = &k.params.at(k.param_index(p.g.b));
    p.a_idx = accesses.at(p.g.a).front();
    p.b_idx = accesses.at(p.g.b).front();
    return p;
}

bool has(const std::vector<std::string> &v, const std::string &x) {
    return std::find(v.begin(), v.end(), x) != v.end();
}

/** The product of the group's extents: "n_b * n_i", or "1LL". */
std::string group_size(const std::vector<std::string> &group, const KernelNames &names) {
    std::string out;
    for (const auto &v : group)
        out += (out.empty() ? "" : " * ") + names.extent(v);
    return out.empty() ? "1LL" : out;
}

/** The stride of tensor t's dimension indexed by v ("" when t has no such dimension). */
std::string stride_of(const std::string &t, const std::vector<std::string> &idx, const std::string &v,
                      const KernelNames &names) {
    auto it = std::find(idx.begin(), idx.end(), v);
    return it == idx.end() ? "" : names.stride(t, static_cast<int>(it - idx.begin()));
}

/** auto gemm_<op>_<role> = [=](long long gemm_c) -> long long { ... }: the offset of the
 * operand's elements at coordinate gemm_c of the group. */
std::string print_offset(const std::string &lambda, const std::string &t, const std::vector<std::string> &idx,
                         const std::vector<std::string> &group, const KernelNames &names) {
    std::string sum;
    for (const auto &v : group)
        if (std::string s = stride_of(t, idx, v, names); !s.empty())
            sum += (sum.empty() ? "" : " + ") + (group.size() == 1 ? std::string("gemm_c") : names.var(v)) + " * " + s;
    std::string out = "    auto " + lambda + " = [=](long long gemm_c) -> long long {";
    if (sum.empty()) return out + " return 0 * gemm_c; };\n";
    if (group.size() == 1) return out + " return " + sum + "; };\n";
    return out + "\n" + print_index_split(group, names, 2, "gemm_c", "rest") + "        return " + sum + ";\n    };\n";
}

/** Whether 16-byte loads of operand t along `fast` fit: one variable with stride 1, its size a
 * multiple of the vector, every other stride too, and the pointer aligned. */
std::string vec_condition(const ir::TensorInfo &t, const std::vector<std::string> &idx,
                          const std::vector<std::string> &fast, const std::vector<std::vector<std::string>> &others,
                          const KernelNames &names) {
    if (fast.size() != 1 || stride_of(t.name, idx, fast[0], names).empty()) return "false";
    const std::string vec = std::to_string(16 / dtype_size(t.dtype));
    std::string out =
        stride_of(t.name, idx, fast[0], names) + " == 1 && " + names.extent(fast[0]) + " % " + vec + " == 0";
    for (const auto &group : others)
        for (const auto &v : group)
            if (std::string s = stride_of(t.name, idx, v, names); !s.empty()) out += " && " + s + " % " + vec + " == 0";
    return out;
}

/** The operand: its offsets along batch, rows (M or N) and K, which way is contiguous, and
 * whether 16-byte loads fit. */
std::string print_operand(const GemmParts &p, const char *op, const ir::TensorInfo &t,
                          const std::vector<std::string> &idx, const std::vector<std::string> &rows,
                          const KernelNames &names) {
    const std::string pre = std::string("gemm_") + op, tensor = names.tensor(t.name);
    std::string out = print_offset(pre + "_t", t.name, idx, p.g.batch, names);
    out += print_offset(pre + "_r", t.name, idx, rows, names);
    out += print_offset(pre + "_k", t.name, idx, p.g.k, names);
    std::string k_unit = p.g.k.empty() ? "" : stride_of(t.name, idx, p.g.k.back(), names);
    out += "    const bool " + pre + "_kfast = " + (k_unit.empty() ? std::string("false") : k_unit + " == 1") + ";\n";
    out += "    const bool " + pre + "_vec = ((unsigned long long)" + tensor + " & 15) == 0 && (" + pre + "_kfast ? " +
           vec_condition(t, idx, p.g.k, {p.g.batch, rows}, names) + " : " +
           vec_condition(t, idx, rows, {p.g.batch, p.g.k}, names) + ");\n";
    return out + "    const auto " + pre + " = einfuse_gemm_make_operand(" + tensor + ", " + pre + "_t, " + pre +
           "_r, " + pre + "_k, " + pre + "_kfast, " + pre + "_vec);\n";
}

/** The K loop's multiply-add as a lambda of (acc, x, y): the assignment's value with the two
 * operands' reads replaced by x and y, printed by the expression printer (so f16 reads convert,
 * integers wrap). */
std::string print_update(const GemmParts &p) {
    ir::Kernel scope = p.k; // names for the lambda's own scalars
    scope.body = ir::Block::make({ir::DeclareScalar::make(p.update->name, p.acc_type, ir::Const::make(p.acc_type, 0)),
                                  ir::DeclareScalar::make("x", p.a->dtype, ir::Const::make(p.a->dtype, 0)),
                                  ir::DeclareScalar::make("y", p.b->dtype, ir::Const::make(p.b->dtype, 0))});
    KernelNames names(scope);
    struct Operands : ir::IRMutator {
        const ir::Gemm &g;
        explicit Operands(const ir::Gemm &gemm) : g(gemm) {}
        using ir::IRMutator::visit;
        ir::Expr visit(const ir::Access &a, const ir::Expr &self) override {
            if (a.tensor != g.a && a.tensor != g.b) return self;
            return ir::ScalarRef::make(a.type, a.tensor == g.a ? "x" : "y");
        }
    } operands(p.g);
    return "    auto gemm_update = [](" + c_type(p.acc_type) + " " + names.scalar(p.update->name) + ", " +
           c_type(p.a->dtype) + " " + names.scalar("x") + ", " + c_type(p.b->dtype) + " " + names.scalar("y") +
           ") -> " + c_type(p.acc_type) + " { return " + print_expr(operands.mutate(p.update->value), names) + "; };\n";
}

/** The statements after the K loop for one output element (batch, m, n) = (idx, idx_p1, idx_p2). */
std::string print_epilogue(const GemmParts &p, const KernelNames &names) {
    std::string out = "    auto gemm_epilogue = [=](long long idx, long long idx_p1, long long idx_p2, " +
                      c_type(p.acc_type) + " gemm_acc) {\n";
    out += print_index_split(p.g.batch, names, 2, "idx", "rest");
    out += print_index_split(p.g.m, names, 2, "idx_p1", "rest_p1");
    out += print_index_split(p.g.n, names, 2, "idx_p2", "rest_p2");
    for (const auto &v : ir::parallel_vars(p.k)) // size-1 variables the groups left out
        if (!has(p.g.batch, v) && !has(p.g.m, v) && !has(p.g.n, v))
            out += "        const long long " + names.var(v) + " = 0;\n";
    if (p.g.batch.empty()) out += "        (void)idx;\n";
    if (p.g.m.empty()) out += "        (void)idx_p1;\n";
    if (p.g.n.empty()) out += "        (void)idx_p2;\n";
    if (!p.around.before.empty()) out += print_statements(ir::Block::make(p.around.before), names, 2);
    out += "        " + names.scalar(p.update->name) + " = gemm_acc;\n";
    if (!p.around.after.empty()) out += print_statements(ir::Block::make(p.around.after), names, 2);
    return out + "    };\n";
}

std::string variant_config(const GemmVariant &v) {
    auto n = [](int x) { return std::to_string(x); };
    return std::string(v.mma ? "einfuse_mma_cfg<" : "einfuse_simt_cfg<") + n(v.bm) + ", " + n(v.bn) + ", " + n(v.bk) +
           ", " + n(v.tm) + ", " + n(v.tn) + ", " + n(v.stages) + ">";
}

std::string ceil_div(const std::string &x, int d) {
    return "((" + x + " + " + std::to_string(d - 1) + ") / " + std::to_string(d) + ")";
}

} // namespace

std::string print_gemm_lambdas(const ir::Kernel &k, const KernelNames &names) {
    GemmParts p = parts(k);
    return print_update(p) + print_epilogue(p, names);
}

std::optional<DType> gemm_mma_type(const ir::Kernel &k) {
    GemmParts p = parts(k);
    if (p.a->dtype != p.b->dtype || p.acc_type != DType::F32) return std::nullopt;
    // acc = acc + x * y, the reads maybe widened to f32: exactly what the instruction computes.
    const auto *add = p.update->value.as<ir::Binary>();
    const auto *mul = add && add->op == ir::BinaryOp::Add ? add->b.as<ir::Binary>() : nullptr;
    const auto *acc = add ? add->a.as<ir::ScalarRef>() : nullptr;
    if (!mul || mul->op != ir::BinaryOp::Mul || !acc || acc->name != p.update->name) return std::nullopt;
    for (const ir::Expr &x : {mul->a, mul->b}) {
        const ir::Expr &read = x.as<ir::Cast>() ? x.as<ir::Cast>()->value : x;
        if (!read.as<ir::Access>()) return std::nullopt;
    }
    if (p.a->dtype == DType::F16 || p.a->dtype == DType::BF16) return p.a->dtype;
    if (p.a->dtype == DType::F32 && p.g.allow_tf32) return DType::F32;
    return std::nullopt;
}

std::vector<GemmVariant> gemm_variants(const ir::Kernel &k) {
    auto list = [](const auto &table) { return std::vector<GemmVariant>(std::begin(table), std::end(table)); };
    if (auto t = gemm_mma_type(k)) return *t == DType::F32 ? list(kMmaTf32) : list(kMma16);
    GemmParts p = parts(k);
    std::size_t widest = std::max({dtype_size(p.acc_type), dtype_size(p.a->dtype), dtype_size(p.b->dtype)});
    return widest == 8 ? list(kSimt8) : list(kSimt4);
}

std::size_t choose_gemm_variant(const std::vector<GemmVariant> &v, int64_t batch, int64_t m, int64_t n) {
    auto find = [&](const char *suffix) {
        for (std::size_t i = 0; i < v.size(); ++i)
            if (std::string(v[i].suffix) == suffix) return static_cast<int64_t>(i);
        return int64_t{-1};
    };
    int64_t m32 = find("_gemm_m32"), m64 = find("_gemm_m64");
    int64_t large_tiles = batch * ((m + 127) / 128) * ((n + 127) / 128);
    if (m <= 32 && n <= 32 && m32 >= 0) return m32;
    if ((std::min(m, n) <= 64 || large_tiles < kMinLargeTiles) && m64 >= 0) return m64;
    return static_cast<std::size_t>(find("_gemm"));
}

std::string print_gemm_kernels(const ir::Kernel &k, const KernelNames &names) {
    GemmParts p = parts(k);
    const bool mma = gemm_mma_type(k).has_value();
    std::string params;
    for (const auto &t : k.params) {
        params += (params.empty() ? "" : ", ") + names.tensor(t.name);
        for (int d = 0; d < t.rank; ++d)
            params += ", " + names.stride(t.name, d);
    }
    for (const auto &v : k.index_vars)
        params += ", " + names.extent(v);

    std::string sig = kernel_signature(k, names, k.name + "_gemm_body");
    const std::string plain = "extern \"C\" __global__ void ";
    sig.replace(0, plain.size(), "template <class Cfg> __device__ __forceinline__ void ");
    std::string out = "// " + k.name + " as a tiled GEMM (" + (mma ? "tensor cores" : "CUDA cores") + "): batch " +
                      group_size(p.g.batch, names) + ", M " + group_size(p.g.m, names) + ", N " +
                      group_size(p.g.n, names) + ", K " + group_size(p.g.k, names) + "; one kernel per tile shape.\n";
    out += sig + " {\n";
    out += print_operand(p, "a", *p.a, p.a_idx, p.g.m, names);
    out += print_operand(p, "b", *p.b, p.b_idx, p.g.n, names);
    if (!mma) out += print_update(p);
    out += print_epilogue(p, names);
    out += std::string("    ") +
           (mma ? "einfuse_gemm_mma<Cfg>" : "einfuse_gemm_simt<Cfg, " + c_type(p.acc_type) + ">") +
           "(gemm_a, gemm_b, " + group_size(p.g.batch, names) + ", " + group_size(p.g.m, names) + ", " +
           group_size(p.g.n, names) + ", " + group_size(p.g.k, names) + (mma ? "" : ", gemm_update") +
           ", gemm_epilogue);\n}\n";
    for (const auto &v : gemm_variants(k)) {
        out += kernel_signature(k, names,
                                "__launch_bounds__(" + std::to_string(v.threads()) + ", " +
                                    std::to_string(v.min_blocks) + ") " + k.name + v.suffix) +
               " {\n";
        out += "    " + k.name + "_gemm_body<" + variant_config(v) + ">(" + params + ");\n}\n";
    }
    if (gemm_small_config(k)) out += print_gemm_small_kernel(k, names);
    return out;
}

std::string print_gemm_launch(const ir::Kernel &k, const std::vector<std::string> &args) {
    const ir::Gemm &g = *k.gemm;
    auto size = [&](const std::vector<std::string> &group) {
        std::string out;
        for (const auto &v : group)
            out += (out.empty() ? "" : " * ") + std::string("sizes[") + std::to_string(k.var_index(v)) + "]";
        return out.empty() ? std::string("(int64_t)1") : out;
    };
    std::string joined;
    for (const auto &a : args)
        joined += (joined.empty() ? "" : ",\n            ") + a;
    std::string out = "    { // the tiled GEMM; the tile shape by the rule of cuda_gemm_launch_config\n";
    // A variable the kernel reads but the groups leave out (planned with size 1) is read at 0
    // only; variables the kernel does not use may have any size.
    for (const auto &v : k.index_vars)
        if (!has(g.batch, v) && !has(g.m, v) && !has(g.n, v) && !has(g.k, v) && ir::uses_var(k, v))
            out += "        if (sizes[" + std::to_string(k.var_index(v)) + "] != 1) return EINFUSE_ERR_SIZE; // " + v +
                   " was planned with size 1\n";
    if (gemm_small_config(k)) out += print_gemm_small_launch(k, joined);
    out += "        const int64_t gemm_batch = " + size(g.batch) + ", gemm_M = " + size(g.m) +
           ", gemm_N = " + size(g.n) + ";\n";
    std::vector<GemmVariant> variants = gemm_variants(k);
    bool m64 = std::any_of(variants.begin(), variants.end(),
                           [](const GemmVariant &v) { return std::string(v.suffix) == "_gemm_m64"; });
    if (m64)
        out += "        const int64_t gemm_tiles128 = gemm_batch * " + ceil_div("gemm_M", 128) + " * " +
               ceil_div("gemm_N", 128) + ";\n";
    out += "        int64_t grid = 0;\n";
    // The same decision as choose_gemm_variant, as a chain of conditions in its order.
    std::vector<std::pair<std::string, const GemmVariant *>> chain;
    for (const auto &v : variants) {
        std::string s = v.suffix;
        if (s == "_gemm_m32") chain.insert(chain.begin(), {"gemm_M <= 32 && gemm_N <= 32", &v});
        if (s == "_gemm_m64")
            chain.push_back({"gemm_M <= 64 || gemm_N <= 64 || gemm_tiles128 < " + std::to_string(kMinLargeTiles), &v});
    }
    for (const auto &v : variants)
        if (std::string(v.suffix) == "_gemm") chain.push_back({"", &v});
    for (std::size_t i = 0; i < chain.size(); ++i) {
        const GemmVariant &v = *chain[i].second;
        out += std::string(i == 0 ? "        " : " else ") +
               (chain[i].first.empty() ? "" : "if (" + chain[i].first + ") ") + "{\n";
        out += "            grid = gemm_batch * " + ceil_div("gemm_M", v.bm) + " * " + ceil_div("gemm_N", v.bn) + ";\n";
        out += "            if (grid > " + std::to_string(kMaxGrid) + ") grid = " + std::to_string(kMaxGrid) + ";\n";
        out += "            " + k.name + v.suffix + "<<<(unsigned)grid, " + std::to_string(v.threads()) +
               ", 0, stream>>>(\n            " + joined + ");\n        }";
    }
    return out + "\n        return cudaGetLastError() == cudaSuccess ? EINFUSE_OK : EINFUSE_ERR_LAUNCH;\n    }\n";
}

} // namespace detail

namespace {

/** The sizes of k's batch, M and N groups at these extents. */
std::array<int64_t, 3> batch_m_n(const ir::Kernel &k, const std::vector<int64_t> &extents) {
    EINFUSE_ASSERT(extents.size() == k.index_vars.size(), "one extent per index variable");
    auto product = [&](const std::vector<std::string> &group) {
        int64_t n = 1;
        for (const auto &x : group) n *= extents.at(static_cast<std::size_t>(k.var_index(x)));
        return n;
    };
    return {product(k.gemm->batch), product(k.gemm->m), product(k.gemm->n)};
}

} // namespace

std::string cuda_gemm_kernel_name(const ir::Kernel &k, const std::vector<int64_t> &extents) {
    auto v = detail::gemm_variants(k);
    auto [batch, m, n] = batch_m_n(k, extents);
    return k.name + v[detail::choose_gemm_variant(v, batch, m, n)].suffix;
}

CudaGemmLaunch cuda_gemm_launch_config(const ir::Kernel &k, const std::vector<int64_t> &extents) {
    auto v = detail::gemm_variants(k);
    auto [batch, m, n] = batch_m_n(k, extents);
    const detail::GemmVariant &c = v[detail::choose_gemm_variant(v, batch, m, n)];
    int64_t tiles = batch * ((m + c.bm - 1) / c.bm) * ((n + c.bn - 1) / c.bn);
    return {std::min(tiles, detail::kMaxGrid), 1, 1, c.threads(), 0};
}

} // namespace einfuse::cuda_backend
