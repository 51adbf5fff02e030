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

GemmParts parts(const ir::Kernel &k) {
    EINFUSE_ASSERT(k.gemm.has_value(), "a GEMM kernel has k.gemm");
    passes::GemmUpdate u = passes::gemm_update(k);
    GemmParts p{k, *k.gemm, ir::around_first_loop(k), u.update, u.acc_type, nullptr, nullptr, {}, {}};
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

} // namespace

std::string print_gemm_lambdas(const ir::Kernel &k, const KernelNames &names) {
    GemmParts p = parts(k);
    return print_update(p) + print_epilogue(p, names);
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

std::string print_gemm_size_checks(const ir::Kernel &k) {
    const ir::Gemm &g = *k.gemm;
    // A variable the kernel reads but the groups leave out (planned with size 1) is read at 0
    // only; variables the kernel does not use may have any size.
    std::string out;
    for (const auto &v : k.index_vars)
        if (!has(g.batch, v) && !has(g.m, v) && !has(g.n, v) && !has(g.k, v) && ir::uses_var(k, v))
            out += "    if (sizes[" + std::to_string(k.var_index(v)) + "] != 1) return EINFUSE_ERR_SIZE; // " + v +
                   " was planned with size 1\n";
    return out;
}

} // namespace detail

} // namespace einfuse::cuda_backend
