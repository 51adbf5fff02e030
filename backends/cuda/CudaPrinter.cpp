#include "backends/cuda/CudaPrinter.h"

#include "backends/cuda/CudaGemm.h"
#include "backends/cuda/CudaInternal.h"
#include "passes/GpuLaunchRules.h"
#include "support/Error.h"

#include <algorithm>

namespace einfuse::cuda_backend {

namespace detail {

namespace {

class StmtPrinter {
  public:
    StmtPrinter(const KernelNames &names, std::string &out) : names_(names), out_(out) {}

    void print(const ir::Stmt &s, int depth) {
        std::string pad(4 * depth, ' ');
        if (const auto *f = s.as<ir::For>()) {
            // A parallel loop below a serial one has independent iterations: running them in
            // order is correct, and the passes put parallel loops outermost anyway.
            // An unrolled loop has its trip count as a constant, so the compiler unrolls it and
            // keeps the accumulators and loaded values in registers.
            const std::string &v = names_.var(f->var);
            bool unrolled = f->loop_kind == ir::LoopKind::Unrolled;
            std::string bound = unrolled ? std::to_string(f->fixed_extent) : names_.extent(f->var);
            if (unrolled) out_ += pad + "#pragma unroll\n";
            out_ += pad + "for (long long " + v + " = 0; " + v + " < " + bound + "; ++" + v + ") {\n";
            print_body(f->body, depth + 1);
            out_ += pad + "}\n";
        } else if (s.as<ir::Block>()) {
            out_ += pad + "{\n"; // a nested block scopes its scalars, as in the IR
            print_body(s, depth + 1);
            out_ += pad + "}\n";
        } else if (const auto *st = s.as<ir::Store>()) {
            out_ += pad + print_access(st->tensor, st->indices, names_) + " = " + print_expr(st->value, names_) + ";\n";
        } else if (const auto *d = s.as<ir::DeclareScalar>()) {
            out_ += pad + c_type(d->type) + " " + names_.scalar(d->name) + " = " + print_expr(d->init, names_) + ";\n";
        } else if (const auto *a = s.as<ir::AssignScalar>()) {
            out_ += pad + names_.scalar(a->name) + " = " + print_expr(a->value, names_) + ";\n";
        }
    }

    /** The statements of s without braces of their own (the enclosing loop has them). */
    void print_body(const ir::Stmt &s, int depth) {
        if (const auto *b = s.as<ir::Block>()) {
            for (const auto &x : b->stmts)
                print(x, depth);
        } else {
            print(s, depth);
        }
    }

  private:
    const KernelNames &names_;
    std::string &out_;
};

} // namespace

std::string kernel_signature(const ir::Kernel &k, const KernelNames &names, const std::string &name,
                             const std::string &extra) {
    std::vector<std::string> params;
    for (std::size_t p = 0; p < k.params.size(); ++p) {
        const auto &t = k.params[p];
        bool input = static_cast<int>(p) < k.num_inputs;
        std::string line =
            std::string(input ? "const " : "") + c_type(t.dtype) + " *__restrict__ " + names.tensor(t.name);
        for (int d = 0; d < t.rank; ++d)
            line += ", long long " + names.stride(t.name, d);
        params.push_back(line);
    }
    std::string extents;
    for (const auto &v : k.index_vars)
        extents += (extents.empty() ? "long long " : ", long long ") + names.extent(v);
    if (!extents.empty()) params.push_back(extents);
    if (!extra.empty()) params.push_back(extra);

    std::string out = "extern \"C\" __global__ void " + name + "(";
    for (std::size_t i = 0; i < params.size(); ++i)
        out += (i ? ",\n    " : "\n    ") + params[i];
    return out + ")";
}

std::string print_statements(const ir::Stmt &s, const KernelNames &names, int depth) {
    std::string out;
    StmtPrinter(names, out).print_body(s, depth);
    return out;
}

std::string print_index_split(const std::vector<std::string> &par, const KernelNames &names, int depth,
                              const std::string &idx, const std::string &rest) {
    std::string pad(4 * depth, ' '), out;
    if (par.size() == 1) {
        out += pad + "const long long " + names.var(par[0]) + " = " + idx + ";\n";
    } else if (par.size() > 1) {
        out += pad + "long long " + rest + " = " + idx + ";\n";
        for (std::size_t i = par.size(); i-- > 1;)
            out += pad + "const long long " + names.var(par[i]) + " = " + rest + " % " + names.extent(par[i]) + "; " +
                   rest + " /= " + names.extent(par[i]) + ";\n";
        out += pad + "const long long " + names.var(par[0]) + " = " + rest + ";\n";
    }
    return out;
}

std::string print_parallel_total(const std::vector<std::string> &par, const KernelNames &names) {
    std::string total;
    for (const auto &v : par)
        total += (total.empty() ? "" : " * ") + names.extent(v);
    return "    const long long total = " + (total.empty() ? std::string("1") : total) + ";\n";
}

std::string print_kernel(const ir::Kernel &k, const KernelNames &names) {
    std::vector<std::string> par = ir::parallel_vars(k);
    ir::Stmt inner = ir::parallel_body(k);

    std::string out = kernel_signature(k, names, k.name) + " {\n";
    // The parallel loops become one 64-bit linear index, last variable fastest, so that
    // neighbouring threads touch neighbouring output elements. Before: parallel for b, i, k.
    // After: for idx in [0, n_b*n_i*n_k) step grid size { k = idx % n_k; i = idx / n_k % n_i; ... }
    out += print_parallel_total(par, names);
    out += "    for (long long idx = (long long)blockIdx.x * blockDim.x + threadIdx.x; idx < total;\n"
           "         idx += (long long)gridDim.x * blockDim.x) {\n";
    out += print_index_split(par, names, 2);
    return out + print_statements(inner, names, 2) + "    }\n}\n";
}

} // namespace detail

namespace {

/** "// " before every line of a possibly multi-line statement. A backslash at the end of a line
 * would splice the next line of code into the comment: "x \\" becomes "x \\.". */
std::string comment_lines(const std::string &text) {
    std::string out = "// ";
    for (std::size_t i = 0; i < text.size(); ++i) {
        out += text[i] == '\n' ? std::string("\n// ") : std::string(1, text[i]);
        if (text[i] == '\\' && (i + 1 == text.size() || text[i + 1] == '\n')) out += ".";
    }
    return out + "\n";
}

/** The code of k's size-specialised variants (passes/GpuSpecialise), each kernel once, with only
 * the variants its launcher can reach: "einfuse_bij_bjk_to_bik_at_3" and "..._at_3_staged". */
std::string print_specialisations(const ir::Kernel &k) {
    std::string out;
    std::set<const ir::Kernel *> done;
    for (const auto &v : k.launch) {
        if (!v.code || !done.insert(v.code.get()).second) continue;
        const ir::Kernel &code = *v.code;
        std::set<ir::VariantKind> kinds;
        for (const auto &w : k.launch)
            if (w.code == v.code) kinds.insert(w.kind);
        detail::KernelNames names(code);
        out += "\n" + comment_lines(v.note.substr(0, v.note.find(':')) + ": " + code.name);
        if (kinds.count(ir::VariantKind::Plain)) out += detail::print_kernel(code, names) + "\n";
        if (kinds.count(ir::VariantKind::Staged)) out += detail::print_staged_kernel(code, names) + "\n";
        if (kinds.count(ir::VariantKind::Tiled)) out += detail::print_tiled_kernels(code, names) + "\n";
        if (kinds.count(ir::VariantKind::GemmSmall)) out += detail::print_gemm_small_kernel(code, names) + "\n";
        EINFUSE_ASSERT(!kinds.count(ir::VariantKind::GemmTiled), "a specialisation launches the general kernel's tiles");
    }
    return out;
}

} // namespace

std::string emit_cuda(const std::vector<ir::Kernel> &kernels, std::string_view einfuse_version) {
    // The launch variants are the passes' decision, for the target they planned for: a kernel
    // without them (lowered for the host, or built by hand) is a caller's bug, not a default here.
    for (const auto &k : kernels)
        EINFUSE_ASSERT(!k.launch.empty(), "kernel " + k.name + " has its launch variants (passes::gpu_launch_rules)");
    std::string out = "// Generated by einfuse " + std::string(einfuse_version) + ". Do not edit.\n";
    std::set<DType> types;
    std::set<ir::UnaryOp> ops;
    for (const auto &k : kernels) {
        for (DType t : detail::kernel_dtypes(k))
            types.insert(t);
        for (ir::UnaryOp op : detail::kernel_unary_ops(k))
            ops.insert(op);
    }
    // Before the host part: its launchers cast data pointers to __half * as well.
    std::string prelude = detail::device_prelude(types, ops);
    out += detail::abi_comment() + "\n" + (prelude.empty() ? "" : prelude + "\n") + detail::launcher_preamble();
    auto small = [](const ir::Kernel &k) {
        if (k.gemm && detail::gemm_small_config(k).has_value()) return true;
        return std::any_of(k.launch.begin(), k.launch.end(),
                           [](const ir::LaunchVariant &v) { return v.code && v.kind == ir::VariantKind::GemmSmall; });
    };
    if (std::any_of(kernels.begin(), kernels.end(), detail::launch_uses_dense))
        out += detail::staged_launcher_helpers(); // einfuse_is_dense, for the guards that test density
    // The GEMM templates, once, with the tensor-core instructions of the types that use them.
    bool gemm = false, mma = false;
    std::set<DType> mma_types;
    for (const auto &k : kernels) {
        if (!k.gemm) continue;
        gemm = true;
        if (auto t = detail::gemm_mma_type(k)) {
            mma = true;
            mma_types.insert(*t);
        }
    }
    if (gemm) out += "\n" + detail::gemm_device_library(mma, mma_types, types);
    if (std::any_of(kernels.begin(), kernels.end(), small)) out += detail::gemm_small_library();
    for (const auto &k : kernels) {
        out += "\n" + comment_lines(k.comment.empty() ? k.name : k.comment);
        detail::KernelNames names(k);
        out += detail::print_kernel(k, names) + "\n";
        if (k.staging) out += detail::print_staged_kernel(k, names) + "\n";
        if (k.tiling) out += detail::print_tiled_kernels(k, names) + "\n";
        if (k.gemm) out += detail::print_gemm_kernels(k, names) + "\n";
        out += print_specialisations(k);
        out += detail::print_launcher(k, names);
    }
    return out;
}

CudaLaunchConfig cuda_launch_config(const ir::Kernel &k, const std::vector<int64_t> &extents) {
    EINFUSE_ASSERT(extents.size() == k.index_vars.size(), "one extent per index variable");
    ir::LaunchFacts facts;
    for (std::size_t v = 0; v < extents.size(); ++v) facts.sizes[k.index_vars[v]] = extents[v];
    ir::LaunchVariant plain = passes::plain_launch(k);
    return {plain.grid.evaluate(facts), plain.block.evaluate(facts)};
}

CudaLaunchRule cuda_launch_rule() { return {passes::kBlockSize, passes::kMaxGrid}; }

std::vector<std::vector<std::string>> cuda_param_indices(const ir::Kernel &k) {
    auto accesses = detail::tensor_accesses(k);
    std::vector<std::vector<std::string>> out;
    for (const auto &p : k.params) {
        auto it = accesses.find(p.name);
        out.push_back(it == accesses.end() ? std::vector<std::string>{} : it->second.front());
    }
    return out;
}

} // namespace einfuse::cuda_backend
