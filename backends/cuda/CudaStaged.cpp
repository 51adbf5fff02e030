// The shared-memory staged variant of an unrolled kernel (ir::Staging). A block takes
// `batch_per_block` consecutive batch elements; its threads first copy every input's slices of
// them into shared memory with 16-byte loads (one contiguous run per input, so the loads are
// coalesced), then compute a thread per output element from shared memory, exactly as the plain
// kernel does from global memory. The body is the plain kernel's, printed in a scope where each
// input's name means its batch element's slice in shared memory:
//
//   const float *__restrict__ in0 = in0_stage + tile_b * 9;   // was the global tensor
//   const long long in0_s0 = 0, in0_s1 = 3, in0_s2 = 1;      // was its runtime strides
#include "backends/cuda/CudaInternal.h"
#include "backends/cuda/CudaPrinter.h"
#include "ir/Walk.h"
#include "support/Error.h"

namespace einfuse::cuda_backend {

namespace detail {

namespace {

constexpr int64_t kVectorBytes = 16; // one uint4 load

/** An input as the staged kernel sees it: its slice of one batch element, stored densely. */
struct StagedInput {
    const ir::TensorInfo *info;
    std::vector<std::string> indices; // as first accessed: the batch variable, then the rest
    int64_t slice = 1;                // elements per batch element
    std::vector<int64_t> strides;     // dense strides of its dimensions after the first
};

std::vector<StagedInput> staged_inputs(const ir::Kernel &k) {
    auto accesses = tensor_accesses(k);
    std::vector<StagedInput> out;
    for (int p = 0; p < k.num_inputs; ++p) {
        StagedInput in{&k.params[p], accesses.at(k.params[p].name).front(), 1, {}};
        for (std::size_t d = in.indices.size(); d-- > 1;) {
            in.strides.insert(in.strides.begin(), in.slice);
            in.slice *= k.staging->extents.at(in.indices[d]);
        }
        out.push_back(std::move(in));
    }
    return out;
}

std::string ll(int64_t v) { return std::to_string(v) + "LL"; }

/** The copy of one tile of every input into shared memory. The 16-byte path loads everything
 * into registers before storing anything, so that all of a thread's loads are in flight at once;
 * a partial last tile or a misaligned input takes the element-by-element path. Plain read-only
 * loads (__ldg): the evict-first hint (__ldcs) cost 8-9% of the bandwidth on an H200 (D=4: 99%
 * of copy against 92%, D=8: 100% against 91%). */
std::string print_tile_copy(const std::vector<StagedInput> &inputs, const KernelNames &names, int64_t tile,
                            int64_t block) {
    std::string aligned, out;
    for (const auto &in : inputs)
        aligned += std::string(aligned.empty() ? "" : " | ") + "(unsigned long long)" + names.tensor(in.info->name) +
                   "_tile";
    out += "        const bool tile_fast = tile_n == " + std::to_string(tile) + " && ((" + aligned + ") & 15) == 0;\n";
    out += "        if (tile_fast) {\n";
    std::string stores;
    for (const auto &in : inputs) {
        const std::string t = names.tensor(in.info->name);
        int64_t vectors = tile * in.slice * static_cast<int64_t>(dtype_size(in.info->dtype)) / kVectorBytes;
        int64_t per_thread = (vectors + block - 1) / block;
        std::string guard = vectors % block == 0 ? "" : "if (r * " + std::to_string(block) + " + (int)threadIdx.x < " +
                                                            std::to_string(vectors) + ") ";
        std::string at = "r * " + std::to_string(block) + " + threadIdx.x";
        out += "            uint4 " + t + "_v[" + std::to_string(per_thread) + "];\n";
        out += "#pragma unroll\n            for (int r = 0; r < " + std::to_string(per_thread) + "; ++r) " + guard +
               t + "_v[r] = __ldg((const uint4 *)" + t + "_tile + " + at + ");\n";
        stores += "#pragma unroll\n            for (int r = 0; r < " + std::to_string(per_thread) + "; ++r) " + guard +
                  "((uint4 *)" + t + "_stage)[" + at + "] = " + t + "_v[r];\n";
    }
    out += stores + "        } else {\n";
    for (const auto &in : inputs) {
        const std::string t = names.tensor(in.info->name);
        out += "            for (int e = threadIdx.x; e < tile_n * " + std::to_string(in.slice) + "; e += " +
               std::to_string(block) + ") " + t + "_stage[e] = " + t + "_tile[e];\n";
    }
    return out + "        }\n";
}

} // namespace

std::string print_staged_kernel(const ir::Kernel &k, const KernelNames &names) {
    EINFUSE_ASSERT(k.staging.has_value(), "a staged kernel has a staging");
    const ir::Staging &st = *k.staging;
    const int64_t tile = st.batch_per_block, block = constant_rule(launch_variant(k, ir::VariantKind::Staged).block);
    auto inputs = staged_inputs(k);
    std::vector<std::string> par = ir::parallel_vars(k);
    EINFUSE_ASSERT(!par.empty() && par.front() == st.batch_var, "the batch variable is the outermost parallel one");
    int64_t per_element = 1; // output elements per batch element: threads' work per batch element
    for (std::size_t i = 1; i < par.size(); ++i) per_element *= st.extents.at(par[i]);

    std::string out = "// " + k.name + " with its inputs staged through shared memory, " + std::to_string(tile) +
                      " batch elements per block; for dense inputs only (the launcher checks).\n";
    out += kernel_signature(k, names, "__launch_bounds__(" + std::to_string(block) + ") " + variant_kernel(k, ir::VariantKind::Staged)) +
           " {\n";
    for (const auto &in : inputs)
        out += "    __shared__ __align__(16) " + c_type(in.info->dtype) + " " + names.tensor(in.info->name) +
               "_stage[" + std::to_string(tile * in.slice) + "];\n";
    const std::string n_batch = names.extent(st.batch_var);
    out += "    for (long long tile0 = (long long)blockIdx.x * " + ll(tile) + "; tile0 < " + n_batch +
           "; tile0 += (long long)gridDim.x * " + ll(tile) + ") {\n";
    out += "        const int tile_n = (int)min(" + ll(tile) + ", " + n_batch + " - tile0);\n";
    for (const auto &in : inputs) {
        const std::string t = names.tensor(in.info->name), type = c_type(in.info->dtype);
        out += "        const " + type + " *" + t + "_tile = " + t + " + tile0 * " + ll(in.slice) + ";\n";
    }
    out += print_tile_copy(inputs, names, tile, block);
    out += "        __syncthreads();\n";
    // A thread computes `points` output elements of one batch element: rows i, i + n_i/points,
    // ... of the outermost output variable i, the others alike (D=16: rows i, i+4, i+8, i+12 of
    // column k), so that their shared reads of the other operand (B[j,k]) are one load.
    const int64_t points = st.points_per_thread, stride = per_element / points;
    const std::string &row = par.size() > 1 ? par[1] : st.batch_var;
    const int64_t row_step = par.size() > 1 ? st.extents.at(row) / points : 0;
    out += "        for (int tile_t = threadIdx.x; tile_t < tile_n * " + std::to_string(stride) + "; tile_t += " +
           std::to_string(block) + ") {\n";
    out += "            int rest = tile_t;\n";
    for (std::size_t i = par.size(); i-- > 1;) {
        std::string n = std::to_string(i == 1 ? row_step : st.extents.at(par[i]));
        out += "            const long long " + names.var(par[i]) + " = rest % " + n + "; rest /= " + n + ";\n";
    }
    out += "            const int tile_b = rest;\n";
    out += "            const long long " + names.var(st.batch_var) + " = tile0 + tile_b;\n";
    out += "            {\n";
    for (const auto &in : inputs) {
        const std::string t = names.tensor(in.info->name);
        out += "                const " + c_type(in.info->dtype) + " *__restrict__ " + t + " = " + t +
               "_stage + tile_b * " + std::to_string(in.slice) + ";\n";
        out += "                const long long " + names.stride(in.info->name, 0) + " = 0";
        for (std::size_t d = 0; d < in.strides.size(); ++d)
            out += ", " + names.stride(in.info->name, static_cast<int>(d + 1)) + " = " + std::to_string(in.strides[d]);
        out += ";\n";
    }
    ir::Stmt inner = ir::parallel_body(k);
    for (int64_t r = 0; r < points; ++r) {
        KernelNames point = r ? names.for_point(static_cast<int>(r), {row}) : names;
        out += "                {\n";
        if (r)
            out += "                    const long long " + point.var(row) + " = " + names.var(row) + " + " +
                   std::to_string(r * row_step) + ";\n";
        out += print_statements(inner, point, 5) + "                }\n";
    }
    out += "            }\n        }\n        __syncthreads();\n    }\n}\n";
    return out;
}

std::string staged_launcher_helpers() {
    return R"(#ifndef __CUDACC_RTC__
#ifndef EINFUSE_LAUNCHER_DENSE_1
#define EINFUSE_LAUNCHER_DENSE_1
// Whether t, indexed by variables dims, is stored densely in row-major order of the variables'
// sizes (dimensions of size 1 may have any stride): what a staged kernel needs of its inputs.
static inline int einfuse_is_dense(const einfuse_tensor *t, const int *dims, const int64_t *sizes) {
    int64_t expected = 1;
    for (int d = t->ndim - 1; d >= 0; --d) {
        int64_t n = sizes[dims[d]];
        if (n > 1 && (t->shape[d] != n || t->strides[d] != expected)) return 0;
        expected *= n;
    }
    return 1;
}
#endif // EINFUSE_LAUNCHER_DENSE_1
#endif // __CUDACC_RTC__
)";
}

} // namespace detail

} // namespace einfuse::cuda_backend
