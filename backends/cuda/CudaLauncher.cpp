// The host half of the emitted file: the ABI comment, the shared types and helpers, and one
// launcher per kernel that validates its arguments before it launches.
#include "backends/cuda/CudaGemm.h"
#include "backends/cuda/CudaInternal.h"
#include "ir/Walk.h"

#include "support/Error.h"

namespace einfuse::cuda_backend::detail {

std::string abi_comment() {
    return R"(//
// Standalone CUDA C: `nvcc -arch=sm_90 -c` compiles it, and it needs nothing from einfuse. NVRTC
// compiles the same text, kernels only: the host code is guarded by __CUDACC_RTC__.
//
// Each kernel K below comes with a host launcher
//   extern "C" int K_launch(const einfuse_tensor *inputs, int num_inputs, const einfuse_tensor *output,
//                           const int64_t *sizes, int num_sizes, cudaStream_t stream);
//   inputs  the kernel's input tensors, in the order listed above the launcher
//   output  its output tensor (an array, in the listed order, if it has several)
//   sizes   the size of every index variable, in the order listed above the launcher
//   stream  the stream to launch on (0: the default stream)
// A tensor is { data (device pointer), ndim, shape[ndim], strides[ndim] in elements }; data holds
// elements of the type listed above the launcher: f16 __half (IEEE binary16), bf16 __nv_bfloat16,
// f32 float, f64 double, i32 int (32-bit), i64 long long (64-bit). Dimension d of a tensor indexed
// by variable v needs shape[d] == sizes[v]; an input may instead broadcast it with shape[d] == 1
// and strides[d] == 0. Any other strides are allowed (negative ones with data at element 0, as
// DLPack has it; overlapping inputs), except that an output with elements needs a nonzero stride
// wherever its size exceeds 1 (a tensor without elements may have any strides). Outputs must not
// overlap inputs or each other. The launch is asynchronous, like any kernel launch.
//
// A kernel computing a matrix product (strategy gemm) also comes as K_gemm, K_gemm_m64 and/or
// K_gemm_m32: the same product tiled through shared memory (tensor cores for f16, bf16 and, where
// allowed, tf32), one kernel per tile shape, with K's parameters; K_launch picks one by the sizes
// of M and N (the rule is in its code) and launches only that. Tensor cores from sm_80 on; for
// sm_75 the same kernels compute on CUDA cores.
//
// The launcher returns 0 after queueing the kernel (or when there is nothing to compute), else:
//   EINFUSE_ERR_NULL_POINTER  1  inputs, output, sizes, a shape or strides is NULL, or data is
//                                NULL for a tensor with elements
//   EINFUSE_ERR_ARG_COUNT     2  num_inputs or num_sizes is not the kernel's
//   EINFUSE_ERR_NDIM          3  a tensor's ndim is not its rank
//   EINFUSE_ERR_SHAPE         4  a shape differs from the size of the variable indexing it
//   EINFUSE_ERR_SIZE          5  a size is negative, or the number of threads overflows int64
//   EINFUSE_ERR_OUTPUT_STRIDE 6  an output with elements has stride 0 over a size > 1 (its
//                                writes would race)
//   EINFUSE_ERR_LAUNCH        7  a launch failed: cudaLaunchKernel's own result, so an error that
//                                earlier CUDA calls of the caller's left pending is neither
//                                reported nor cleared (cudaGetLastError() then names this one)
//   EINFUSE_ERR_WORKSPACE     8  (entry point) workspace is NULL or smaller than its query says
// Nothing is launched when an error other than EINFUSE_ERR_LAUNCH is returned; <name>_error_string
// gives each code's text.
)";
}

std::string launcher_preamble() {
    return R"(#ifndef __CUDACC_RTC__
#include <cuda_runtime.h>
#include <stdint.h>

// Shared by every file einfuse emits and its header (--emit h), so that several can be included
// in one translation unit.
#ifndef EINFUSE_TENSOR_ABI_1
#define EINFUSE_TENSOR_ABI_1
typedef struct einfuse_tensor {
    void *data;
    int ndim;
    const int64_t *shape;
    const int64_t *strides;
} einfuse_tensor;

#define EINFUSE_OK 0
#define EINFUSE_ERR_NULL_POINTER 1
#define EINFUSE_ERR_ARG_COUNT 2
#define EINFUSE_ERR_NDIM 3
#define EINFUSE_ERR_SHAPE 4
#define EINFUSE_ERR_SIZE 5
#define EINFUSE_ERR_OUTPUT_STRIDE 6
#define EINFUSE_ERR_LAUNCH 7
#define EINFUSE_ERR_WORKSPACE 8
#endif // EINFUSE_TENSOR_ABI_1

#ifndef EINFUSE_LAUNCHER_ABI_1
#define EINFUSE_LAUNCHER_ABI_1
// EINFUSE_OK if t can be read (is_output 0) or written (1) as t[v_0, ..., v_{ndim-1}] with
// dimension d indexed by variable dims[d] of size sizes[dims[d]].
static inline int einfuse_check_tensor(const einfuse_tensor *t, int ndim, const int *dims, const int64_t *sizes,
                                       int is_output) {
    if (t->ndim != ndim) return EINFUSE_ERR_NDIM;
    if (ndim > 0 && (t->shape == NULL || t->strides == NULL)) return EINFUSE_ERR_NULL_POINTER;
    int empty = 0;
    for (int d = 0; d < ndim; ++d)
        if (t->shape[d] == 0) empty = 1;
    for (int d = 0; d < ndim; ++d) {
        int64_t n = sizes[dims[d]];
        int broadcast = !is_output && t->shape[d] == 1 && t->strides[d] == 0;
        if (t->shape[d] != n && !broadcast) return EINFUSE_ERR_SHAPE;
        // Without elements any stride is fine (numpy and DLPack give a size-0 tensor stride 0).
        if (is_output && !empty && n > 1 && t->strides[d] == 0) return EINFUSE_ERR_OUTPUT_STRIDE;
    }
    return t->data == NULL && !empty ? EINFUSE_ERR_NULL_POINTER : EINFUSE_OK;
}

// The number of threads' worth of work, the product of the parallel variables' sizes, into *total.
static inline int einfuse_total_work(const int64_t *sizes, int num_sizes, const int *parallel, int num_parallel,
                                     int64_t *total) {
    for (int v = 0; v < num_sizes; ++v)
        if (sizes[v] < 0) return EINFUSE_ERR_SIZE;
    *total = 1;
    for (int p = 0; p < num_parallel; ++p) {
        int64_t n = sizes[parallel[p]];
        if (n != 0 && *total > INT64_MAX / n) return EINFUSE_ERR_SIZE;
        *total *= n;
    }
    return EINFUSE_OK;
}
#endif // EINFUSE_LAUNCHER_ABI_1

// The operations of the launch rules the launchers print (ir/LaunchRule.h), on int64_t; not
// static, so that a file whose rules leave one unused draws no warning.
#ifndef EINFUSE_LAUNCHER_RULES_1
#define EINFUSE_LAUNCHER_RULES_1
inline int64_t einfuse_min(int64_t a, int64_t b) { return a < b ? a : b; }
inline int64_t einfuse_max(int64_t a, int64_t b) { return a > b ? a : b; }
inline int64_t einfuse_ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }
#endif // EINFUSE_LAUNCHER_RULES_1
#endif // __CUDACC_RTC__
)";
}

namespace {

std::string join(const std::vector<std::string> &items, const std::string &sep) {
    std::string out;
    for (std::size_t i = 0; i < items.size(); ++i)
        out += (i ? sep : "") + items[i];
    return out;
}

/** "static const int in0_dims[] = {0, 1, 2}; // b, i, j", or "" with name NULL for no dims. */
std::string index_array(const ir::Kernel &k, const std::string &name, const std::vector<std::string> &vars,
                        std::string *expr) {
    if (vars.empty()) {
        *expr = "NULL";
        return "";
    }
    std::vector<std::string> nums;
    for (const auto &v : vars) {
        int i = k.var_index(v);
        EINFUSE_ASSERT(i >= 0, "variable '" + v + "' is one of the kernel's index_vars");
        nums.push_back(std::to_string(i));
    }
    *expr = name;
    return "    static const int " + name + "[] = {" + join(nums, ", ") + "}; // " + join(vars, ", ") + "\n";
}

} // namespace

std::string print_launcher(const ir::Kernel &k, const KernelNames &names) {
    // Its shape checks compare each dimension with one size; x[i + r] has no such size yet.
    if (std::string why = ir::non_var_index(k.body); !why.empty())
        throw UserError("the CUDA launcher of " + k.name + " cannot check its tensors' shapes: " + why);
    auto accesses = tensor_accesses(k);
    int num_outputs = static_cast<int>(k.params.size()) - k.num_inputs;
    EINFUSE_ASSERT(num_outputs >= 1, "a kernel writes at least one tensor");

    // The header comment names what the caller passes, in order.
    std::vector<std::string> ins, outs;
    for (std::size_t p = 0; p < k.params.size(); ++p) {
        const auto &t = k.params[p];
        auto it = accesses.find(t.name);
        std::string dims = it == accesses.end() ? "" : join(it->second.front(), ", ");
        (static_cast<int>(p) < k.num_inputs ? ins : outs)
            .push_back(t.name + "[" + dims + "] " + std::string(dtype_name(t.dtype)) + " (" + c_type(t.dtype) + ")");
    }
    std::string out = "#ifndef __CUDACC_RTC__\n";
    out += "// " + k.name + "_launch\n";
    out += "//   inputs: " + (ins.empty() ? std::string("none") : join(ins, ", ")) + "\n";
    out += "//   output: " + join(outs, ", ") + "\n";
    out += "//   sizes:  " + (k.index_vars.empty() ? std::string("none") : join(k.index_vars, ", ")) +
           " (num_sizes = " + std::to_string(k.index_vars.size()) + ")\n";
    out += "static int " + k.name +
           "_run(const einfuse_tensor *inputs, int num_inputs, const einfuse_tensor *output,\n"
           "    const int64_t *sizes, int num_sizes, void *einfuse_parts, int einfuse_check_only, cudaStream_t stream) {\n";
    out += "    if ((inputs == NULL && num_inputs > 0) || output == NULL || (sizes == NULL && num_sizes > 0))\n"
           "        return EINFUSE_ERR_NULL_POINTER;\n";
    out += "    if (num_inputs != " + std::to_string(k.num_inputs) +
           " || num_sizes != " + std::to_string(k.index_vars.size()) + ") return EINFUSE_ERR_ARG_COUNT;\n";
    out += "    (void)einfuse_parts;\n";

    std::string parallel_expr;
    auto par = ir::parallel_vars(k);
    out += index_array(k, "parallel", par, &parallel_expr);
    out += "    int64_t total = 0;\n";
    out += "    int err = einfuse_total_work(sizes, num_sizes, " + parallel_expr + ", " + std::to_string(par.size()) +
           ", &total);\n";

    // Every tensor is checked against every index list it is used with: a diagonal in0[i,i]
    // needs both dimensions of size(i).
    for (std::size_t p = 0; p < k.params.size(); ++p) {
        const auto &t = k.params[p];
        bool input = static_cast<int>(p) < k.num_inputs;
        std::string ref =
            input ? "&inputs[" + std::to_string(p) + "]" : "&output[" + std::to_string(p - k.num_inputs) + "]";
        auto it = accesses.find(t.name);
        if (it == accesses.end()) { // never used: only its rank can be checked
            out += "    if (err == EINFUSE_OK && (" + ref + ")->ndim != " + std::to_string(t.rank) +
                   ") err = EINFUSE_ERR_NDIM;\n";
            continue;
        }
        for (std::size_t a = 0; a < it->second.size(); ++a) {
            EINFUSE_ASSERT(static_cast<int>(it->second[a].size()) == t.rank,
                           "tensor " + t.name + " is used with its rank");
            std::string name = names.tensor(t.name) + "_dims" + (a ? "_" + std::to_string(a) : "");
            std::string dims_expr;
            out += index_array(k, name, it->second[a], &dims_expr);
            out += "    if (err == EINFUSE_OK) err = einfuse_check_tensor(" + ref + ", " + std::to_string(t.rank) +
                   ", " + dims_expr + ", sizes, " + (input ? "0" : "1") + ");\n";
        }
    }
    // Unrolled loops were compiled for one trip count, and pinned sizes (given while others stay
    // free) were planned for: any other size is refused.
    std::set<std::string> checked;
    ir::for_each_loop(k.body, [&](const ir::For &f) {
        if (f.loop_kind == ir::LoopKind::Unrolled && checked.insert(f.var).second)
            out += "    if (err == EINFUSE_OK && sizes[" + std::to_string(k.var_index(f.var)) + "] != " +
                   std::to_string(f.fixed_extent) + ") err = EINFUSE_ERR_SIZE; // " + f.var +
                   " is unrolled for this size\n";
    });
    for (const auto &[v, n] : k.pinned)
        if (checked.insert(v).second)
            out += "    if (err == EINFUSE_OK && sizes[" + std::to_string(k.var_index(v)) + "] != " + std::to_string(n) +
                   ") err = EINFUSE_ERR_SIZE; // " + v + " is pinned to this size (einfuse compile --dims)\n";
    out += "    if (err != EINFUSE_OK) return err;\n";
    out += "    if (total == 0) return EINFUSE_OK;\n";

    std::vector<LaunchArg> args;
    for (std::size_t p = 0; p < k.params.size(); ++p) {
        const auto &t = k.params[p];
        bool input = static_cast<int>(p) < k.num_inputs;
        std::string ref =
            input ? "inputs[" + std::to_string(p) + "]" : "output[" + std::to_string(p - k.num_inputs) + "]";
        std::string type = std::string(input ? "const " : "") + c_type(t.dtype) + " *";
        args.push_back({type, "(" + type + ")" + ref + ".data"});
        for (int d = 0; d < t.rank; ++d) args.push_back({"long long", ref + ".strides[" + std::to_string(d) + "]"});
    }
    for (std::size_t v = 0; v < k.index_vars.size(); ++v) args.push_back({"long long", "sizes[" + std::to_string(v) + "]"});

    if (k.gemm) out += print_gemm_size_checks(k);
    out += "    if (einfuse_check_only) return EINFUSE_OK;\n\n";
    out += print_launch_variants(k, names, args) + "}\n";
    out += "extern \"C\" int " + k.name +
           "_launch(const einfuse_tensor *inputs, int num_inputs, const einfuse_tensor *output,\n"
           "    const int64_t *sizes, int num_sizes, cudaStream_t stream) {\n";
    out += "    return " + k.name + "_run(inputs, num_inputs, output, sizes, num_sizes, NULL, 0, stream);\n";
    return out + "}\n#endif\n";
}

} // namespace einfuse::cuda_backend::detail
