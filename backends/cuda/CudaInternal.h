#pragma once
// Shared by the kernel and launcher printers of this folder; not a public header.
#include "backends/cuda/CudaPrinter.h"
#include "ir/Kernel.h"

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace einfuse::cuda_backend::detail {

/** The variant of kind `kind` among k.launch (passes/GpuLaunchRules), which k has. */
const ir::LaunchVariant &launch_variant(const ir::Kernel &k, ir::VariantKind kind);
/** Its kernel's name. */
std::string variant_kernel(const ir::Kernel &k, ir::VariantKind kind);
/** The value of a launch rule that is a constant (a block size the kernel is compiled for). */
int64_t constant_rule(const ir::SizeExpr &e);

/** C identifiers for the IR's names. A user may call an index `int`, `idx` or `n_b`; such names
 * get a trailing `_` until nothing collides, so the emitted text always compiles. */
class KernelNames {
  public:
    explicit KernelNames(const ir::Kernel &k);
    const std::string &var(const std::string &v) const { return vars_.at(v); }
    const std::string &tensor(const std::string &t) const { return tensors_.at(t); }
    const std::string &scalar(const std::string &s) const { return scalars_.at(s); }
    std::string extent(const std::string &v) const { return "n_" + base_vars_.at(v); }
    std::string stride(const std::string &t, int d) const { return tensor(t) + "_s" + std::to_string(d); }

    /** The names for a thread's point `r` > 0 of several (a tiled kernel's register blocking):
     * `vars` and every scalar get the suffix _p<r>; tensors, strides and extents stay. The
     * locals idx_p<r>, rest_p<r> and tile_active_p<r> (r < kMaxPoints) are reserved for it. */
    KernelNames for_point(int r, const std::vector<std::string> &vars) const;
    static constexpr int kMaxPoints = 8;

  private:
    /** `wanted`, or `wanted` with `_`s appended, such that it and the names derived from it are
     * all free; reserves them. */
    std::string pick(std::string wanted, std::vector<std::string> (*derived)(const std::string &, int), int n);
    std::set<std::string> taken_;
    std::map<std::string, std::string> vars_, tensors_, scalars_;
    std::map<std::string, std::string> base_vars_; // vars_ before for_point renamed them
};

/** Every distinct index list each tensor is read or written with, in order of appearance:
 * "ii->i" reads in0 as {i,i}; `x[i,d] * x[j,d]` reads x as {i,d} and {j,d}. An index that is not
 * a plain variable appears as its text ("i + r"); the strategies that use these lists only run
 * on kernels whose indices are all plain variables. */
std::map<std::string, std::vector<std::vector<std::string>>> tensor_accesses(const ir::Kernel &k);

/** The names of the scalars the kernel declares, in order of declaration (and a tiled
 * variant's block sum, ir::Tiling::blocks). */
std::vector<std::string> declared_scalars(const ir::Kernel &k);

/** Every element type the kernel touches: its tensors, scalars and expression nodes. */
std::set<DType> kernel_dtypes(const ir::Kernel &k);
/** Every unary operator the kernel applies (some need device helpers; see device_prelude). */
std::set<ir::UnaryOp> kernel_unary_ops(const ir::Kernel &k);

// Element types (CudaTypes.cpp).
/** The spelling of t in emitted code: __half, __nv_bfloat16, float, double, int, long long. */
std::string c_type(DType t);
/** A literal of exactly type t that reads back as v; ±inf of an integer type is its max/min. */
std::string literal(DType t, double v);
/** `value`, printed C of type `from`, converted to `to` with numpy's rounding; `infix` when value
 * is an infix expression (a + b) that a C cast would otherwise bind to its first operand only. */
std::string convert(DType from, DType to, const std::string &value, bool infix);
/** Device code that kernels of these types and unary operators need before them: the f16/bf16
 * headers, the wrapping integer helpers, and einfuse_sign/einfuse_gelu/einfuse_wrap_abs; "" for
 * f32 and f64 arithmetic without sign, gelu or abs. */
std::string device_prelude(const std::set<DType> &types, const std::set<ir::UnaryOp> &ops);

// Expressions (CudaExpr.cpp).
/** e as a C expression; throws InternalError for what the frontend never emits (a Reduce,
 * f16/bf16 arithmetic, integer division, exp or pow of an integer). */
std::string print_expr(const ir::Expr &e, const KernelNames &names);
/** tensor[i * tensor_s0 + j * tensor_s1], or tensor[0] for a scalar. */
std::string print_access(const std::string &tensor, const std::vector<ir::Index> &idx, const KernelNames &names);

/** `extern "C" __global__ void name(params)`: k's parameters, for its kernel and its variants. */
std::string kernel_signature(const ir::Kernel &k, const KernelNames &names, const std::string &name,
                             const std::string &extra = "");
/** `const long long total = n_b * n_i;`: the product of the parallel variables' extents. */
std::string print_parallel_total(const std::vector<std::string> &par, const KernelNames &names);
/** The parallel variables from the linear index `idx`, the last one fastest; `rest` is the
 * scratch variable's name. */
std::string print_index_split(const std::vector<std::string> &par, const KernelNames &names, int depth,
                              const std::string &idx = "idx", const std::string &rest = "rest");
/** The statements of s, indented `depth` levels, without braces of their own. */
std::string print_statements(const ir::Stmt &s, const KernelNames &names, int depth);
std::string print_kernel(const ir::Kernel &k, const KernelNames &names);

// The shared-memory staged variant of a kernel with k.staging (CudaStaged.cpp).
std::string print_staged_kernel(const ir::Kernel &k, const KernelNames &names);
/** The host helper einfuse_is_dense that launch rules with dense(tensor) call, guarded for
 * multiple inclusion. */
std::string staged_launcher_helpers();

// The tiled broadcast-reduce variant of a kernel with k.tiling, and its combine kernel
// (CudaTiled.cpp).
std::string print_tiled_kernels(const ir::Kernel &k, const KernelNames &names);
/** The types, error codes and helpers every launcher uses, guarded for multiple inclusion. */
std::string launcher_preamble();
/** The comment at the top of the file documenting the launcher ABI and the error codes. */
std::string abi_comment();
/** k's launcher: `static int <k>_run(inputs, num_inputs, output, sizes, num_sizes, parts,
 * check_only, stream)` validates and, unless check_only, launches (a split reduction's parts in
 * `parts` when it is not NULL: the entry point's workspace); `<k>_launch` calls it. */
std::string print_launcher(const ir::Kernel &k, const KernelNames &names);
/** The entry point's section of a plan's file (CudaEntry.cpp). */
std::string print_entry(const passes::Plan &plan, const CudaNaming &naming);
/** One scalar argument of a kernel launch: its C type and value. */
struct LaunchArg {
    std::string type, value;
};
/** Launcher lines that walk k.launch: the first variant whose guard holds is launched (CudaLaunchRules.cpp). */
std::string print_launch_variants(const ir::Kernel &k, const KernelNames &names, const std::vector<LaunchArg> &args);
/** Whether a printed guard of k calls einfuse_is_dense. */
bool launch_uses_dense(const ir::Kernel &k);

} // namespace einfuse::cuda_backend::detail
