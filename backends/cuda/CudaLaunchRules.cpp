// The launch section of a standalone launcher, printed from k.launch (passes/GpuLaunchRules):
// each variant's guard, grid, block and split count are launch rules (ir/LaunchRule.h) that
// the in-process executor evaluates; here they become C over the launcher's arguments. A
// variant whose guard may fail is printed as `if (guard) { launch; return; }`; the first one
// that always runs ends the list. cuBLASLt (Library) runs in-process only and is not printed.
//
//   if (einfuse_is_dense(&inputs[0], in0_dims, sizes) && ... && sizes[1] == 3) { // ...staged variant
//       const int64_t grid = einfuse_min(einfuse_ceil_div(sizes[0], 256), 524280);
//       bmm_staged<<<(unsigned)grid, 256, 0, stream>>>(...);
//       return cudaGetLastError() == cudaSuccess ? EINFUSE_OK : EINFUSE_ERR_LAUNCH;
//   }
#include "backends/cuda/CudaInternal.h"
#include "support/Error.h"

namespace einfuse::cuda_backend::detail {

namespace {

/** The launcher's names for the facts a rule reads: its sizes[] and the einfuse_tensor arrays. */
class LauncherNames : public ir::LaunchNames {
  public:
    LauncherNames(const ir::Kernel &k, const KernelNames &names) : k_(k), names_(names), accesses_(tensor_accesses(k)) {}

    std::string size(const std::string &var) const override {
        int i = k_.var_index(var);
        EINFUSE_ASSERT(i >= 0, "a launch rule reads a size of the kernel's variables");
        return "sizes[" + std::to_string(i) + "]";
    }
    std::string stride(const std::string &tensor, int dim) const override {
        return ref(tensor) + ".strides[" + std::to_string(dim) + "]";
    }
    std::string address(const std::string &tensor) const override { return ref(tensor) + ".data"; }
    std::string dense(const std::string &tensor, const std::vector<std::string> &dims) const override {
        // The launcher declared `<tensor>_dims` for the tensor's first index list.
        auto it = accesses_.find(tensor);
        EINFUSE_ASSERT(it != accesses_.end() && it->second.front() == dims, "dense() over the tensor's first index list");
        return "einfuse_is_dense(&" + ref(tensor) + ", " + names_.tensor(tensor) + "_dims, sizes)";
    }
    std::string device(const std::string &fact) const override {
        throw InternalError("the standalone launcher has no device fact '" + fact + "'");
    }

  private:
    std::string ref(const std::string &tensor) const {
        int p = k_.param_index(tensor);
        EINFUSE_ASSERT(p >= 0, "a launch rule reads one of the kernel's tensors");
        return p < k_.num_inputs ? "inputs[" + std::to_string(p) + "]" : "output[" + std::to_string(p - k_.num_inputs) + "]";
    }
    const ir::Kernel &k_;
    const KernelNames &names_;
    std::map<std::string, std::vector<std::vector<std::string>>> accesses_;
};

std::string join(const std::vector<std::string> &items, const std::string &sep) {
    std::string out;
    for (std::size_t i = 0; i < items.size(); ++i) out += (i ? sep : "") + items[i];
    return out;
}

std::string block_text(const ir::SizeExpr &block, const ir::LaunchNames &names) {
    int64_t n = 0;
    return block.is_const(&n) ? std::to_string(n) : "(unsigned)(" + block.print_c(names) + ")";
}

const char *kReturn = "return cudaGetLastError() == cudaSuccess ? EINFUSE_OK : EINFUSE_ERR_LAUNCH;\n";

/** One variant's launch and return, each line indented by `pad`. */
std::string print_launch(const ir::Kernel &k, const ir::LaunchVariant &v, const ir::LaunchNames &names,
                         const std::vector<std::string> &args, const std::string &pad) {
    std::string out = pad + "const int64_t grid = " + v.grid.unnamed().print_c(names) + ";\n";
    const std::string shared = std::to_string(v.shared_bytes), block = block_text(v.block, names);
    int64_t one = 0;
    if (!v.combine) {
        EINFUSE_ASSERT(v.splits.is_const(&one) && one == 1, "only a split reduction has splits");
        out += pad + v.entry(k.name) + "<<<(unsigned)grid, " + block + ", " + shared + ", stream>>>(\n" + pad + "    " +
               join(args, ",\n" + pad + "    ") + ");\n";
        return out + pad + kReturn;
    }
    // The split reduction: its parts in memory of their own (none: run unsplit), then the combine.
    const ir::CombineLaunch &c = *v.combine;
    const std::string acc = c_type(c.partial);
    out += pad + "int64_t einfuse_splits = " + v.splits.print_c(names) + ";\n";
    out += pad + acc + " *einfuse_partial = NULL;\n";
    out += pad + "if (einfuse_splits > 1 && cudaMallocAsync((void **)&einfuse_partial, (size_t)(einfuse_splits * total) * "
                 "sizeof(" + acc + "), stream) != cudaSuccess) {\n";
    out += pad + "    (void)cudaGetLastError(); // no memory for the parts: run unsplit\n";
    out += pad + "    einfuse_splits = 1;\n" + pad + "    einfuse_partial = NULL;\n" + pad + "}\n";
    out += pad + v.entry(k.name) + "<<<dim3((unsigned)grid, (unsigned)einfuse_splits), " + block + ", " + shared +
           ", stream>>>(\n" + pad + "    " + join(args, ",\n" + pad + "    ") + ",\n" + pad + "    einfuse_partial);\n";
    // The combine kernel's arguments: k's inputs, the parts [split, parallel...] densely, k's
    // outputs, k's sizes and the split count.
    std::string part = "(const " + acc + " *)einfuse_partial";
    for (const auto &a : c.part_args) part += ", " + a.print_c(names);
    std::vector<std::string> combine_args(args.begin(), args.begin() + k.num_inputs);
    combine_args.push_back(part);
    combine_args.insert(combine_args.end(), args.begin() + k.num_inputs, args.end());
    combine_args.back() += ", einfuse_splits";
    out += pad + "if (einfuse_splits > 1) {\n";
    out += pad + "    const int64_t combine_grid = " + c.grid.print_c(names) + ";\n";
    out += pad + "    " + c.kernel + "<<<(unsigned)combine_grid, " + block_text(c.block, names) + ", 0, stream>>>(\n" +
           pad + "        " + join(combine_args, ",\n" + pad + "        ") + ");\n";
    out += pad + "    cudaFreeAsync(einfuse_partial, stream);\n" + pad + "}\n";
    return out + pad + kReturn;
}

} // namespace

const ir::LaunchVariant &launch_variant(const ir::Kernel &k, ir::VariantKind kind) {
    for (const auto &v : k.launch)
        if (v.kind == kind) return v;
    throw InternalError("kernel " + k.name + " has no " + std::string(ir::variant_kind_name(kind)) + " launch variant");
}

std::string variant_kernel(const ir::Kernel &k, ir::VariantKind kind) { return launch_variant(k, kind).entry(k.name); }

int64_t constant_rule(const ir::SizeExpr &e) {
    int64_t n = 0;
    EINFUSE_ASSERT(e.is_const(&n), "a launch rule the kernel is compiled for is a constant");
    return n;
}

bool launch_uses_dense(const ir::Kernel &k) {
    for (const auto &v : k.launch)
        if (v.kind != ir::VariantKind::Library && v.guard.contains(ir::SizeOp::Dense)) return true;
    return false;
}

std::string print_launch_variants(const ir::Kernel &k, const KernelNames &names, const std::vector<std::string> &args) {
    EINFUSE_ASSERT(!k.launch.empty(), "kernel " + k.name + " has its launch variants (passes::gpu_launch_rules)");
    LauncherNames facts(k, names);
    std::string out;
    for (const auto &v : k.launch) {
        if (v.kind == ir::VariantKind::Library) continue; // in-process only
        int64_t always = 0;
        if (v.guard.is_const(&always) && always) return out + "    // " + v.note + "\n" + print_launch(k, v, facts, args, "    ");
        if (v.guard.is_const(&always)) continue; // never
        out += "    if (" + v.guard.print_c(facts) + ") { // " + v.note + "\n";
        out += print_launch(k, v, facts, args, "        ") + "    }\n";
    }
    throw InternalError("kernel " + k.name + "'s launch variants end with one that always runs");
}

} // namespace einfuse::cuda_backend::detail
