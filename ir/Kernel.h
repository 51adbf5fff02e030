#pragma once
// A kernel: one loop nest with its calling convention and, for the GPU, its variants and their
// launch rules (`launch`, filled by passes/GpuLaunchRules), as the passes decided them. Both
// backends print a Kernel; neither changes it; the CUDA executor evaluates its launch rules.
//
// Calling convention, shared by the CUDA and host backends: the tensors `params` (inputs first,
// then outputs), each as a data pointer and `rank` strides counted in elements; then one extent
// per entry of `index_vars`, in that order.
#include "ir/Gemm.h"
#include "ir/LaunchVariant.h"
#include "ir/Program.h"
#include "ir/Stmt.h"

#include <memory>
#include <optional>

namespace einfuse::ir {

enum class Strategy { Unrolled, BroadcastReduce, Gemm, Elementwise };
std::string_view strategy_name(Strategy s); // "unrolled", "broadcast-reduce", ...

/** How a GPU kernel stages its inputs through shared memory: a block copies the slices of
 * `batch_per_block` consecutive values of `batch_var` of every input with 16-byte loads, then
 * its threads compute from shared memory. Only for inputs stored contiguously with `batch_var`
 * outermost; the launcher checks that and otherwise runs the plain kernel. */
struct Staging {
    std::string batch_var;
    int64_t batch_per_block = 0;
    Extents extents;               // the fixed size of every other index variable
    int64_t points_per_thread = 1; // output elements per thread, of one batch element
};

struct Kernel;

/** How a GPU broadcast-reduce kernel tiles its reduction loop `reduce_var` through shared memory:
 * every tensor read inside it that depends on `reduce_var` and on no parallel variable (the
 * reduced operand: y[j,d] and w[j] in sum[j] exp(-|x[i]-y[j]|^2) * w[j]) is copied a tile of
 * rows at a time, and every thread of the block reads it from there. With `combine` the loop is
 * also split across blocks: each writes its partial accumulator, and `combine` (a kernel of its
 * own) folds the partials in a fixed order, so results do not depend on timing. */
struct Tiling {
    std::string reduce_var;
    std::vector<std::string> tensors;   // the reduced operands, staged per tile
    Extents extents;                    // the fixed sizes of their other indices
    std::string accumulator;            // the scalar the loop accumulates into
    std::string compensation;           // a compensated sum's error term (acc_c), else empty:
                                        // a split's part is then accumulator - compensation
    /** A compensated sum's tiled loop in blocks (passes/GpuTiling): `accumulate` (the loop's body
     * with Kahan's step replaced by `sum = sum + term`) adds `terms` rows plainly, in order, into
     * the block sum `sum`; then `flush` (Kahan's step of the block sum, and sum = 0) compensates
     * it into the accumulator, every `terms` rows and at each tile's end. */
    struct CompensatedBlocks {
        int64_t terms = 0;
        std::string sum; // declared with `type` and 0 before the loop
        DType type = DType::F32;
        Stmt accumulate, flush;
    };
    std::optional<CompensatedBlocks> blocks; // none: every term compensated
    int64_t points_per_thread = 1;      // output points per thread, sharing each row read
    int64_t rows = 0;                   // reduction rows per tile, one thread each (passes/GpuTiling)
    std::shared_ptr<const Kernel> combine; // null: not split (the loop does more than accumulate)
};

/** Host only: how the executor splits the kernel's outermost parallel loop (a packed GEMM: its
 * rows, in whole micro-tile strips) across worker threads, as passes/HostSplit decided:
 * parts = min(threads, the loop's trip count), and with fewer_when_small also at most
 * (iterations of the whole nest) / min_iterations_per_part + 1, as waking a worker costs ~10 us.
 * Every element is computed by the same code whatever the split. */
struct HostSplit {
    int threads = 1;
    bool fewer_when_small = false;
    int64_t min_iterations_per_part = 32 * 1024;
};

/** How the host backend vectorises a kernel (passes/HostVectors decides it per CPU; the LLVM
 * backend prints it as function attributes). "bij,bjk->bik" at D=4 on an AVX-512 CPU: bits 256,
 * no_gathers: LLVM loads each batch element's contiguous slice as whole vectors and rearranges
 * it with shuffles (interleaved groups, or SLP rows) instead of masked gathers and scatters. */
struct HostVectors {
    int bits = 0;              // the widest vectors LLVM's vectorisers and the lane loops use
    bool narrowed_isa = false; // the user narrowed the target: no instruction wider than bits either
    bool no_gathers = false;   // masked gathers/scatters are not worth it: LLVM must not choose them
    std::string why;           // for --emit plan

    /** Lanes along a sum instead of across the output (passes/ReductionLanes decides it): the
     * serial loop over `var` runs `registers` vectors of its terms at a time, added pairwise into
     * one, each lane then with its own running sum of `accumulator` (and of Kahan's
     * `compensation`, when it has one), folded pairwise into the running sum after the loop;
     * the rest of the loop runs one vector at a time, then one term at a time. "ijk,k->ij" (a
     * gemv): in0[i,j,k] and in1[k] loaded as whole vectors along k, no gathers. */
    struct ReductionLanes {
        std::string var;
        std::string accumulator;
        std::string compensation; // empty: a plain running sum
        int registers = 1;
        // The tensors read along var as whole vectors (indexed by var in their last dimension;
        // the loop checks their stride is 1, else runs one term at a time); other reads that
        // var moves are gathered.
        std::vector<std::string> contiguous;
        // Reads that var moves by S elements (S of 2..kMaxDeinterleave) whose last index is an
        // unrolled variable of extent S, the dimension before it indexed by var alone
        // ("...lmn,lmno->...o"'s in1[l,m,n,o], o in 3): each vector step loads the rows' S*W
        // elements whole and picks its lanes with a shuffle (the loop checks the strides are S
        // and 1, else runs one term at a time), instead of gathering them. Tensor and S.
        std::vector<std::pair<std::string, int>> deinterleaved;
        // With rows > 1, the loop over rows_var (whose body is the sum's declarations, its loop
        // and what uses it; a parallel loop, or an unrolled one of extent 2..8) runs `rows`
        // outputs at a time through one loop over var: each output its own partial sums, the
        // reads that do not depend on rows_var loaded once for all ("ijk,k->ij": in1[k..k+L)
        // once for 8 values of j, 8 rows of in0 streamed at once; "...lmn,lmno->...o": the 3
        // values of o, in0 loaded once).
        std::string rows_var;
        int rows = 1;
    };
    std::optional<ReductionLanes> reduction_lanes;
};

struct Kernel {
    std::string name;                    // a C identifier, unique per program
    std::string comment;                 // the statement it computes, in the user's words
    std::vector<TensorInfo> params;      // inputs, then outputs
    int num_inputs = 0;
    std::vector<std::string> index_vars; // extents are passed in this order
    Stmt body;                           // parallel loops outermost, then serial ones
    Strategy strategy = Strategy::BroadcastReduce;
    std::string strategy_detail;         // how the chosen strategy was applied, for --emit plan
    std::vector<std::string> rejected;   // "gemm: ..." for each strategy not chosen, with the reason
    std::optional<Staging> staging;      // GPU only: a shared-memory staged variant, when it pays
    std::optional<Tiling> tiling;        // GPU only: the tiled (and split) broadcast-reduce variant
    std::optional<Gemm> gemm;            // the GEMM strategy's matrix product
    std::optional<HostVectors> host_vectors; // host only: vector width and variant (passes/HostVectors)
    std::vector<LaunchVariant> launch;   // GPU only: its variants, guards and launch rules, in priority order
    Extents pinned;                      // GPU only: sizes given while others stay free; the launcher refuses others
    std::string specialised;             // GPU only, sizes not all known: the size-specialised variants and why
    std::optional<HostSplit> host_split; // host only: its split across threads

    int param_index(const std::string &tensor) const; // -1 when absent
    int var_index(const std::string &var) const;      // -1 when absent
};

/** Whether any tensor the kernel reads or writes is indexed by `var` (a kernel's index_vars may
 * list variables of the program that it does not use). */
bool uses_var(const Kernel &k, const std::string &var);

/** k named `name`, the kernels its variants launch following: its combine kernel
 * `<name>_combine`, a specialisation's code `<name><tag>` (LaunchVariant::code) and its combine. */
Kernel renamed(Kernel k, const std::string &name);

/** The parallel loop variables that enclose everything else, outermost first. */
std::vector<std::string> parallel_vars(const Kernel &k);

/** The statement inside those parallel loops (the whole body when there are none). */
Stmt parallel_body(const Kernel &k);

/** The statements inside the parallel loops split at the first loop among them: a reduction's
 * accumulator declarations, its loop, and what uses its result. `loop` is null when there is no
 * loop there. */
struct AroundLoop {
    std::vector<Stmt> before, after;
    const For *loop = nullptr;
};
AroundLoop around_first_loop(const Kernel &k);

} // namespace einfuse::ir
