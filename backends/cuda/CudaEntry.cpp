// The names of an emitted file and its entry point: every exported symbol carries one prefix
// (`einfuse compile --name`), so that files of different expressions, or of one expression at
// two sizes, link into one program; `<name>_launch_with_workspace` runs the kernels in order,
// with the temporaries and the split reductions' parts in the caller's workspace.
//
//   --name gauss: kernels gauss_out, gauss_out_tiled, gauss_out_combine; launchers
//   gauss_out_launch; entry gauss_launch_with_workspace, gauss_workspace_bytes, gauss_error_string.
#include "backends/cuda/CudaInternal.h"
#include "backends/cuda/CudaPrinter.h"
#include "passes/Pipeline.h"

#include "support/Error.h"

#include <algorithm>
#include <cctype>
#include <set>

namespace einfuse::cuda_backend {

namespace {

using ir::lit;
using ir::SizeExpr;

/** Every name a kernel named `base` exports or defines at file scope. */
std::vector<std::string> kernel_symbols(const ir::Kernel &k, const std::string &base) {
    std::vector<std::string> out{base, base + "_launch", base + "_run", base + "_combine", base + "_gemm_body"};
    for (const auto &v : k.launch) {
        if (!v.suffix.empty()) out.push_back(base + v.suffix);
        if (v.code) out.push_back(base + v.code->name.substr(k.name.size())); // a specialisation's plain kernel
        if (v.code && v.combine) out.push_back(out.back() + "_combine");
    }
    return out;
}

std::vector<std::string> entry_symbols(const std::string &entry) {
    return {entry + "_launch_with_workspace", entry + "_workspace_bytes", entry + "_error_string", entry + "_layout"};
}

bool is_identifier(const std::string &s) {
    if (s.empty() || std::isdigit(static_cast<unsigned char>(s[0]))) return false;
    return std::all_of(s.begin(), s.end(), [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; });
}

std::string join(const std::vector<std::string> &items, const std::string &sep) {
    std::string out;
    for (std::size_t i = 0; i < items.size(); ++i) out += (i ? sep : "") + items[i];
    return out;
}

/** The entry point's names for the facts its rules read: sizes[] in the program's order. */
class EntryNames : public ir::LaunchNames {
  public:
    explicit EntryNames(const std::vector<std::string> &vars) : vars_(vars) {}
    std::string size(const std::string &var) const override { return "sizes[" + std::to_string(index(var)) + "]"; }
    std::string stride(const std::string &t, int) const override { return unavailable("stride", t); }
    std::string address(const std::string &t) const override { return unavailable("address", t); }
    std::string dense(const std::string &t, const std::vector<std::string> &) const override {
        return unavailable("dense", t);
    }
    std::string device(const std::string &f) const override { return unavailable("device", f); }
    int index(const std::string &var) const {
        auto it = std::find(vars_.begin(), vars_.end(), var);
        EINFUSE_ASSERT(it != vars_.end(), "a workspace rule reads a size of the program's variables");
        return static_cast<int>(it - vars_.begin());
    }

  private:
    static std::string unavailable(const char *what, const std::string &of) {
        throw InternalError(std::string("the workspace rules read sizes only, not the ") + what + " of " + of);
    }
    const std::vector<std::string> &vars_;
};

std::string var_list(const std::vector<std::string> &vars, const EntryNames &names, const std::string &array) {
    std::vector<std::string> nums;
    for (const auto &v : vars) nums.push_back(std::to_string(names.index(v)));
    return "static const int " + array + "[] = {" + join(nums, ", ") + "}; // " + join(vars, ", ");
}

const char *const kErrorTexts[][2] = {
    {"EINFUSE_OK", "ok"},
    {"EINFUSE_ERR_NULL_POINTER", "a NULL pointer: inputs, outputs, sizes, a shape or strides, or the data of a tensor "
                                 "with elements"},
    {"EINFUSE_ERR_ARG_COUNT", "num_inputs, num_outputs or num_sizes is not the expression's"},
    {"EINFUSE_ERR_NDIM", "a tensor's ndim is not its rank"},
    {"EINFUSE_ERR_SHAPE", "a shape differs from the size of the variable indexing it"},
    {"EINFUSE_ERR_SIZE", "a size is negative or unsupported (an unrolled or planned size), or the work overflows int64"},
    {"EINFUSE_ERR_OUTPUT_STRIDE", "an output with elements has stride 0 over a size > 1"},
    {"EINFUSE_ERR_LAUNCH", "a kernel launch failed (cudaGetLastError() names the CUDA error)"},
    {"EINFUSE_ERR_WORKSPACE", "the workspace is NULL or smaller than <name>_workspace_bytes says"},
};

} // namespace

CudaNaming cuda_naming(const passes::Plan &plan, std::string_view name) {
    std::string prefix(name);
    if (!prefix.empty() && (!is_identifier(prefix) || prefix.size() > 100 || prefix.rfind("__", 0) == 0 ||
                            (prefix[0] == '_' && prefix.size() > 1 && std::isupper(static_cast<unsigned char>(prefix[1])))))
        throw UserError("--name " + prefix +
                        ": expected a C identifier of at most 100 characters (letters, digits, _; not starting with a "
                        "digit, __ or _ and a capital)");
    CudaNaming out;
    const ir::Program &p = plan.program;
    EINFUSE_ASSERT(!p.outputs.empty(), "a program has an output");
    out.entry = !prefix.empty() ? prefix : "einfuse_" + (p.name.empty() ? p.outputs.front().name : p.name);
    std::set<std::string> taken;
    for (const auto &s : entry_symbols(out.entry)) taken.insert(s);
    for (const auto &k : plan.kernels) {
        EINFUSE_ASSERT(k.num_inputs < static_cast<int>(k.params.size()), "a kernel writes a tensor");
        std::string base = prefix.empty() ? k.name : prefix + "_" + k.params[static_cast<std::size_t>(k.num_inputs)].name;
        // A tensor called `out_run` or `launch_with_workspace` would name a kernel like a symbol of
        // another: such names get a trailing _ until all of the kernel's are free.
        auto free = [&](const std::string &b) {
            for (const auto &s : kernel_symbols(k, b))
                if (taken.count(s)) return false;
            return true;
        };
        while (!free(base)) base += "_";
        for (const auto &s : kernel_symbols(k, base)) taken.insert(s);
        out.kernels.push_back(base == k.name ? k : ir::renamed(k, base));
    }
    return out;
}

namespace detail {

std::string print_entry(const passes::Plan &plan, const CudaNaming &naming) {
    const ir::Program &p = plan.program;
    const std::string &e = naming.entry;
    const std::vector<std::string> &vars = p.index_vars;
    EntryNames names(vars);
    const passes::WorkspaceLayout &layout = plan.workspace;
    auto tensor_line = [&](const ir::TensorInfo &t) {
        const ir::Definition *def = nullptr;
        for (const auto &d : p.definitions)
            if (d.tensor == t.name) def = &d;
        std::string dims;
        if (def) dims = join(def->indices, ", ");
        else
            for (const auto &k : naming.kernels) {
                auto acc = tensor_accesses(k);
                if (auto it = acc.find(t.name); it != acc.end()) {
                    dims = join(it->second.front(), ", ");
                    break;
                }
            }
        return t.name + "[" + dims + "] " + std::string(dtype_name(t.dtype)) + " (" + c_type(t.dtype) + ")";
    };
    std::vector<std::string> ins, outs, temps;
    for (const auto &t : p.inputs) ins.push_back(tensor_line(t));
    for (const auto &t : p.outputs) outs.push_back(tensor_line(t));
    for (const auto &t : p.temporaries) temps.push_back(tensor_line(t));
    std::vector<std::string> kernel_names;
    for (const auto &k : naming.kernels) kernel_names.push_back(k.name);

    std::string out = "\n#ifndef __CUDACC_RTC__\n";
    out += "// The expression as one call. " + e + "_launch_with_workspace checks every kernel's arguments, then\n";
    out += "// runs them in order on `stream` (" + join(kernel_names, ", ") + "); temporaries and the parts of\n";
    out += "// split reductions live in `workspace`: device memory of at least " + e + "_workspace_bytes(sizes)\n";
    out += "// bytes (0 needs none: NULL is fine), 256-byte aligned (cudaMalloc's are), not used by another\n";
    out += "// launch until this one's kernels finish. " + e + "_error_string(code) is a return code's text.\n";
    out += "//   inputs:  " + (ins.empty() ? std::string("none") : join(ins, ", ")) + "\n";
    out += "//   outputs: " + join(outs, ", ") + "\n";
    if (!temps.empty()) out += "//   temporaries (in the workspace): " + join(temps, ", ") + "\n";
    out += "//   sizes:   " + (vars.empty() ? std::string("none") : join(vars, ", ")) +
           " (num_sizes = " + std::to_string(vars.size()) + ")\n";

    // error_string
    out += "extern \"C\" const char *" + e + "_error_string(int code) {\n    switch (code) {\n";
    for (const auto &t : kErrorTexts) out += "    case " + std::string(t[0]) + ": return \"" + t[1] + "\";\n";
    out += "    default: return \"not an einfuse launcher's return code\";\n    }\n}\n\n";

    // layout: offsets[t] of each temporary, offsets[T] of the parts, *bytes the total
    const std::size_t T = layout.temporaries.size();
    out += "// Byte offsets in the workspace: each temporary (dense, row-major), then the parts.\n";
    out += "static int " + e + "_layout(const int64_t *sizes, int num_sizes, int64_t *offsets, int64_t *bytes) {\n";
    out += "    if (sizes == NULL && num_sizes > 0) return EINFUSE_ERR_NULL_POINTER;\n";
    out += "    if (num_sizes != " + std::to_string(vars.size()) + ") return EINFUSE_ERR_ARG_COUNT;\n";
    out += "    int64_t at = 0, parts = 0;\n";
    if (std::any_of(layout.temporaries.begin(), layout.temporaries.end(), [](const auto &t) { return !t.dims.empty(); }))
        out += "    int64_t count = 0;\n";
    out += "    for (int v = 0; v < num_sizes; ++v)\n        if (sizes[v] < 0) return EINFUSE_ERR_SIZE;\n";
    for (std::size_t i = 0; i < T; ++i) {
        const auto &t = layout.temporaries[i];
        const std::string dims = t.name + "_dims";
        if (!t.dims.empty()) {
            out += "    {\n        " + var_list(t.dims, names, "dims") + "\n";
            // Each below 2^56 bytes: the sums of a few cannot overflow.
            out += "        if (einfuse_total_work(sizes, num_sizes, dims, " + std::to_string(t.dims.size()) +
                   ", &count) != EINFUSE_OK || count > (1LL << 56) / " + std::to_string(dtype_size(t.dtype)) +
                   ") return EINFUSE_ERR_SIZE;\n    }\n";
        }
        out += "    offsets[" + std::to_string(i) + "] = at; // " + t.name + "\n";
        out += "    at += " + t.bytes.print_c(names) + ";\n";
    }
    for (const auto &part : layout.parts) {
        out += "    { // the parts of " + naming.kernels.at(part.kernel).name + "'s split reduction\n";
        if (part.parallel.empty()) {
            out += "        const int64_t total = 1;\n";
        } else {
            out += "        " + var_list(part.parallel, names, "parallel") + "\n";
            out += "        int64_t total = 0;\n";
            out += "        if (einfuse_total_work(sizes, num_sizes, parallel, " + std::to_string(part.parallel.size()) +
                   ", &total) != EINFUSE_OK) return EINFUSE_ERR_SIZE;\n";
        }
        out += "        const int64_t grid = " + part.grid.unnamed().print_c(names) + ";\n";
        out += "        const int64_t einfuse_splits = " + part.splits.unnamed().print_c(names) + ";\n";
        out += "        const int64_t need = total > 0 ? " + part.bytes.print_c(names) + " : 0;\n";
        out += "        if (need > parts) parts = need;\n    }\n";
    }
    out += "    offsets[" + std::to_string(T) + "] = at; // the parts\n";
    out += "    *bytes = at + parts;\n    return EINFUSE_OK;\n}\n\n";

    // workspace_bytes
    out += "extern \"C\" int " + e + "_workspace_bytes(const int64_t *sizes, int num_sizes, size_t *bytes) {\n";
    out += "    int64_t offsets[" + std::to_string(T + 1) + "], total = 0;\n";
    out += "    if (bytes == NULL) return EINFUSE_ERR_NULL_POINTER;\n";
    out += "    int err = " + e + "_layout(sizes, num_sizes, offsets, &total);\n";
    out += "    if (err == EINFUSE_OK) *bytes = (size_t)total;\n    return err;\n}\n\n";

    // launch_with_workspace
    out += "extern \"C\" int " + e +
           "_launch_with_workspace(const einfuse_tensor *inputs, int num_inputs, const einfuse_tensor *outputs,\n"
           "    int num_outputs, const int64_t *sizes, int num_sizes, void *workspace, size_t workspace_bytes,\n"
           "    cudaStream_t stream) {\n";
    out += "    if ((inputs == NULL && num_inputs > 0) || outputs == NULL) return EINFUSE_ERR_NULL_POINTER;\n";
    out += "    if (num_inputs != " + std::to_string(p.inputs.size()) + " || num_outputs != " +
           std::to_string(p.outputs.size()) + ") return EINFUSE_ERR_ARG_COUNT;\n";
    out += "    int64_t offsets[" + std::to_string(T + 1) + "], needed = 0;\n";
    out += "    int err = " + e + "_layout(sizes, num_sizes, offsets, &needed);\n";
    out += "    if (err != EINFUSE_OK) return err;\n";
    out += "    if ((uint64_t)needed > (uint64_t)workspace_bytes || (needed > 0 && workspace == NULL)) return "
           "EINFUSE_ERR_WORKSPACE;\n";
    out += "    char *ws = (char *)workspace;\n";
    out += "    void *parts = needed > offsets[" + std::to_string(T) + "] ? ws + offsets[" + std::to_string(T) +
           "] : NULL;\n";
    // Where each tensor is: the caller's arrays or a temporary made here.
    std::map<std::string, std::string> ref;
    for (std::size_t i = 0; i < p.inputs.size(); ++i) ref[p.inputs[i].name] = "inputs[" + std::to_string(i) + "]";
    for (std::size_t i = 0; i < p.outputs.size(); ++i) ref[p.outputs[i].name] = "outputs[" + std::to_string(i) + "]";
    for (std::size_t i = 0; i < T; ++i) {
        const auto &t = layout.temporaries[i];
        const std::string n = "temporary" + std::to_string(i);
        const int rank = static_cast<int>(t.dims.size());
        if (rank > 0) {
            std::vector<std::string> shape, strides;
            for (int d = 0; d < rank; ++d) {
                shape.push_back(names.size(t.dims[static_cast<std::size_t>(d)]));
                std::string s;
                for (int r = d + 1; r < rank; ++r) s += (s.empty() ? "" : " * ") + names.size(t.dims[static_cast<std::size_t>(r)]);
                strides.push_back(s.empty() ? "1" : s);
            }
            out += "    const int64_t " + n + "_shape[] = {" + join(shape, ", ") + "}, " + n + "_strides[] = {" +
                   join(strides, ", ") + "};\n";
        }
        out += "    const einfuse_tensor " + n + " = {ws + offsets[" + std::to_string(i) + "], " + std::to_string(rank) +
               ", " + (rank ? n + "_shape, " + n + "_strides" : std::string("NULL, NULL")) + "}; // " + t.name + "\n";
        ref[t.name] = n;
    }
    std::vector<std::string> calls;
    for (std::size_t ki = 0; ki < naming.kernels.size(); ++ki) {
        const ir::Kernel &k = naming.kernels[ki];
        const std::string kn = "k" + std::to_string(ki);
        std::vector<std::string> kin, kout;
        for (std::size_t q = 0; q < k.params.size(); ++q) {
            auto it = ref.find(k.params[q].name);
            EINFUSE_ASSERT(it != ref.end(), "a kernel's tensor is an input, output or temporary of the program");
            (static_cast<int>(q) < k.num_inputs ? kin : kout).push_back(it->second);
        }
        std::string in_arg = "NULL", size_arg = "sizes";
        if (!kin.empty()) {
            out += "    const einfuse_tensor " + kn + "_in[] = {" + join(kin, ", ") + "};\n";
            in_arg = kn + "_in";
        }
        out += "    const einfuse_tensor " + kn + "_out[] = {" + join(kout, ", ") + "};\n";
        if (k.index_vars != vars) { // the kernel's own order of sizes
            std::vector<std::string> ks;
            for (const auto &v : k.index_vars) ks.push_back(names.size(v));
            out += "    const int64_t " + kn + "_sizes[] = {" + (ks.empty() ? std::string("0") : join(ks, ", ")) + "};\n";
            size_arg = kn + "_sizes";
        }
        calls.push_back(k.name + "_run(" + in_arg + ", " + std::to_string(k.num_inputs) + ", " + kn + "_out, " + size_arg +
                        ", " + std::to_string(k.index_vars.size()) + ", parts, check, stream)");
    }
    out += "    // Every kernel's arguments are checked before the first launches.\n";
    out += "    for (int check = 1; check >= 0; --check) {\n";
    for (const auto &c : calls) out += "        if ((err = " + c + ") != EINFUSE_OK) return err;\n";
    out += "    }\n    return EINFUSE_OK;\n}\n#endif\n";
    return out;
}

} // namespace detail

std::string emit_cuda(const passes::Plan &plan, std::string_view einfuse_version, std::string_view name) {
    CudaNaming naming = cuda_naming(plan, name);
    return emit_cuda(naming.kernels, einfuse_version) + detail::print_entry(plan, naming);
}

std::string emit_cuda_header(const passes::Plan &plan, std::string_view einfuse_version, std::string_view name) {
    CudaNaming naming = cuda_naming(plan, name);
    const std::string &e = naming.entry;
    std::string guard;
    for (char c : e) guard += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    guard += "_H";
    std::string out = "// Generated by einfuse " + std::string(einfuse_version) + ". Do not edit.\n";
    out += "// The declarations of the .cu that `einfuse compile` writes for \"" + plan.program.source + "\"";
    out += (name.empty() ? std::string() : " with --name " + std::string(name)) + " (its comments have the details).\n";
    out += "#ifndef " + guard + "\n#define " + guard + "\n\n";
    out += "#include <cuda_runtime_api.h>\n#include <stddef.h>\n#include <stdint.h>\n\n";
    // The same block as the .cu's, under the same guard; an older file's EINFUSE_LAUNCHER_ABI_1
    // block defines it too.
    std::string abi = detail::launcher_preamble();
    std::size_t begin = abi.find("#ifndef EINFUSE_TENSOR_ABI_1"), end = abi.find("#endif // EINFUSE_TENSOR_ABI_1");
    EINFUSE_ASSERT(begin != std::string::npos && end != std::string::npos, "the preamble defines the tensor ABI");
    std::string block = abi.substr(begin, end - begin);
    block.replace(0, std::string("#ifndef EINFUSE_TENSOR_ABI_1").size(),
                  "#if !defined(EINFUSE_TENSOR_ABI_1) && !defined(EINFUSE_LAUNCHER_ABI_1)");
    out += block + "#endif // EINFUSE_TENSOR_ABI_1\n\n";
    out += "#ifdef __cplusplus\nextern \"C\" {\n#endif\n\n";
    out += "// The expression: its kernels in order, temporaries in the workspace.\n";
    out += "int " + e + "_workspace_bytes(const int64_t *sizes, int num_sizes, size_t *bytes);\n";
    out += "int " + e +
           "_launch_with_workspace(const einfuse_tensor *inputs, int num_inputs, const einfuse_tensor *outputs,\n"
           "    int num_outputs, const int64_t *sizes, int num_sizes, void *workspace, size_t workspace_bytes,\n"
           "    cudaStream_t stream);\n";
    out += "const char *" + e + "_error_string(int code);\n\n";
    out += "// Each kernel alone (a split reduction's parts in memory of its own).\n";
    for (const auto &k : naming.kernels)
        out += "int " + k.name +
               "_launch(const einfuse_tensor *inputs, int num_inputs, const einfuse_tensor *output, const int64_t *sizes,\n"
               "    int num_sizes, cudaStream_t stream);\n";
    out += "\n#ifdef __cplusplus\n} // extern \"C\"\n#endif\n\n#endif // " + guard + "\n";
    return out;
}

} // namespace einfuse::cuda_backend
