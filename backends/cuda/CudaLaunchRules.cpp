// The launch section of a standalone launcher, printed from k.launch (passes/GpuLaunchRules):
// each variant's guard, grid, block and split count are launch rules (ir/LaunchRule.h) that
// the in-process executor evaluates; here they become C over the launcher's arguments. A
// variant whose guard may fail is printed as `if (guard) { launch; return; }`; the first one
// that always runs ends the list. cuBLASLt (Library) runs in-process only and is not printed.
//
//   if (einfuse_is_dense(&inputs[0], in0_dims, sizes) && ... && sizes[1] == 3) { // ...staged variant
//       const int64_t grid = einfuse_min(einfuse_ceil_div(sizes[0], 256), 524280);
//       err = cudaLaunchKernel(bmm_staged, dim3((unsigned)grid), dim3(256), einfuse_args, 0, stream) == ...;
//       return err;
// einfuse_args holds the addresses of locals with the kernel's arguments, declared once above.
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

std::string block_text(const ir::SizeExpr &block, const ir::LaunchNames &names) {
    int64_t n = 0;
    return block.is_const(&n) ? std::to_string(n) : "(unsigned)(" + block.print_c(names) + ")";
}

/** Locals `<prefix>0`, `<prefix>1`, ... holding `args`, each line indented by `pad`; their
 * names go to `refs` (cudaLaunchKernel takes the arguments' addresses). */
std::string declare_args(const std::vector<LaunchArg> &args, const std::string &prefix, const std::string &pad,
                         std::vector<std::string> &refs) {
    std::string out;
    for (std::size_t i = 0; i < args.size(); ++i) {
        const std::string a = prefix + std::to_string(i), &type = args[i].type;
        out += pad + type + (type.back() == '*' ? "" : " ") + a + " = " + args[i].value + ";\n";
        refs.push_back("&" + a);
    }
    return out;
}

std::string arg_array(const std::string &name, const std::vector<std::string> &refs, const std::string &pad) {
    std::string out = pad + "void *" + name + "[] = {";
    for (std::size_t i = 0; i < refs.size(); ++i) out += (i ? ", " : "") + refs[i];
    return out + "};\n";
}

/** `kernel` launched with cudaLaunchKernel, whose return value is this launch's own error (an
 * error that the caller's earlier CUDA calls left pending is neither reported nor cleared, as
 * cudaGetLastError() after a <<<>>> launch would do). Sets `err`. */
std::string launch_call(const std::string &kernel, const std::string &grid, const std::string &block,
                        const std::string &shared, const std::string &arg_array, const std::string &pad) {
    return pad + "err = cudaLaunchKernel(" + kernel + ", " + grid + ", " + block + ", " + arg_array + ", " + shared +
           ", stream) == cudaSuccess ? EINFUSE_OK : EINFUSE_ERR_LAUNCH;\n";
}

/** One variant's launch and return, each line indented by `pad`; the kernel's arguments are in
 * einfuse_args (`refs`: their locals' addresses). */
std::string print_launch(const ir::Kernel &k, const ir::LaunchVariant &v, const ir::LaunchNames &names,
                         const std::vector<std::string> &refs, const std::string &pad) {
    // The launcher's locals (`total`: the product of k's parallel sizes) are k's own; a
    // specialisation's rules name its own kernel's values, which may differ ("bij,bjk->bik" at
    // D=2: total is b, not b*i*k), so they are written out in place.
    auto rule = [&](const ir::SizeExpr &e) { return (v.code ? e.inlined() : e).print_c(names); };
    std::string out = pad + "const int64_t grid = " + (v.code ? v.grid.inlined() : v.grid.unnamed()).print_c(names) + ";\n";
    const std::string shared = std::to_string(v.shared_bytes), block = "dim3(" + block_text(v.block, names) + ")";
    int64_t one = 0;
    if (!v.combine) {
        EINFUSE_ASSERT(v.splits.is_const(&one) && one == 1, "only a split reduction has splits");
        out += launch_call(v.entry(k.name), "dim3((unsigned)grid)", block, shared, "einfuse_args", pad);
        return out + pad + "return err;\n";
    }
    // The split reduction: its parts in the caller's workspace (einfuse_parts), else in memory of
    // their own (none: run unsplit), then the combine kernel.
    const ir::CombineLaunch &c = *v.combine;
    const std::string acc = c_type(c.partial);
    out += pad + "int64_t einfuse_splits = " + rule(v.splits) + ";\n";
    out += pad + acc + " *einfuse_partial = (" + acc + " *)einfuse_parts;\n";
    out += pad + "if (einfuse_splits > 1 && einfuse_partial == NULL && cudaMallocAsync((void **)&einfuse_partial, "
                 "(size_t)(einfuse_splits * total) * sizeof(" + acc + "), stream) != cudaSuccess) {\n";
    out += pad + "    (void)cudaGetLastError(); // no memory for the parts (the error is ours): run unsplit\n";
    out += pad + "    einfuse_splits = 1;\n" + pad + "    einfuse_partial = NULL;\n" + pad + "}\n";
    std::vector<std::string> tiled_refs = refs;
    out += declare_args({{acc + " *", "einfuse_splits > 1 ? einfuse_partial : NULL"}}, "einfuse_p", pad, tiled_refs);
    out += arg_array("einfuse_tiled_args", tiled_refs, pad);
    out += launch_call(v.entry(k.name), "dim3((unsigned)grid, (unsigned)einfuse_splits)", block, shared,
                       "einfuse_tiled_args", pad);
    // The combine kernel's arguments: k's inputs, the parts [split, parallel...] densely, k's
    // outputs, k's sizes and the split count.
    std::size_t input_args = 0;
    for (int p = 0; p < k.num_inputs; ++p) input_args += 1 + static_cast<std::size_t>(k.params[p].rank);
    std::vector<LaunchArg> parts{{"const " + acc + " *", "einfuse_partial"}};
    for (const auto &a : c.part_args) parts.push_back({"long long", rule(a)});
    parts.push_back({"long long", "einfuse_splits"});
    std::vector<std::string> part_refs, combine_refs(refs.begin(), refs.begin() + static_cast<std::ptrdiff_t>(input_args));
    out += pad + "if (einfuse_splits > 1) {\n";
    out += pad + "    const int64_t combine_grid = " + rule(c.grid) + ";\n";
    out += declare_args(parts, "einfuse_c", pad + "    ", part_refs);
    combine_refs.insert(combine_refs.end(), part_refs.begin(), part_refs.end() - 1);
    combine_refs.insert(combine_refs.end(), refs.begin() + static_cast<std::ptrdiff_t>(input_args), refs.end());
    combine_refs.push_back(part_refs.back());
    out += arg_array("einfuse_combine_args", combine_refs, pad + "    ");
    out += pad + "    if (err == EINFUSE_OK)\n";
    out += launch_call(c.kernel, "dim3((unsigned)combine_grid)", "dim3(" + block_text(c.block, names) + ")", "0",
                       "einfuse_combine_args", pad + "        ");
    out += pad + "    if (einfuse_parts == NULL) cudaFreeAsync(einfuse_partial, stream);\n" + pad + "}\n";
    return out + pad + "return err;\n";
}

} // namespace

const ir::LaunchVariant &launch_variant(const ir::Kernel &k, ir::VariantKind kind) {
    for (const auto &v : k.launch)
        if (v.kind == kind && !v.code) return v; // its own, not a specialisation's
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

std::string print_launch_variants(const ir::Kernel &k, const KernelNames &names, const std::vector<LaunchArg> &args) {
    EINFUSE_ASSERT(!k.launch.empty(), "kernel " + k.name + " has its launch variants (passes::gpu_launch_rules)");
    LauncherNames facts(k, names);
    // Every variant takes the kernel's arguments (a split reduction adds its parts).
    std::vector<std::string> refs;
    std::string out = declare_args(args, "einfuse_a", "    ", refs);
    bool plain_args = false; // whether a printed variant launches with einfuse_args as they are
    for (const auto &v : k.launch) {
        int64_t always = 0;
        if (v.kind == ir::VariantKind::Library || (v.guard.is_const(&always) && !always)) continue;
        plain_args = plain_args || !v.combine;
        if (v.guard.is_const(&always)) break;
    }
    if (plain_args) out += arg_array("einfuse_args", refs, "    ");
    for (const auto &v : k.launch) {
        if (v.kind == ir::VariantKind::Library) continue; // in-process only
        int64_t always = 0;
        if (v.guard.is_const(&always) && always)
            return out + "    // " + v.note + "\n" + print_launch(k, v, facts, refs, "    ");
        if (v.guard.is_const(&always)) continue; // never
        out += "    if (" + v.guard.print_c(facts) + ") { // " + v.note + "\n";
        out += print_launch(k, v, facts, refs, "        ") + "    }\n";
    }
    throw InternalError("kernel " + k.name + "'s launch variants end with one that always runs");
}

} // namespace einfuse::cuda_backend::detail
