// The tiled broadcast-reduce variant of a kernel (ir::Tiling). A thread still owns an output
// point, but the block walks the reduction loop a tile of ir::Tiling::rows rows at a time (passes/GpuTiling chooses it): its threads
// copy the tile of the reduced operands into shared memory (one row per dtype, padded to 16
// bytes, so that a row is one 16-byte load), and every thread then reads the rows from there.
// gridDim.y splits the loop into parts; each block writes its partial accumulator and the
// combine kernel folds the parts in order. The loop body is the plain kernel's, printed in a
// scope where each reduced operand's name means its slot in the tile:
//
//   const long long j = tile_jj;                                      // the row in the tile
//   const float *__restrict__ y = tile_float + 0;                     // was the global tensor
//   const long long y_s0 = 4, y_s1 = 1;                               // row width, slot strides
#include "backends/cuda/CudaInternal.h"
#include "backends/cuda/CudaPrinter.h"
#include "ir/Walk.h"
#include "support/Error.h"

#include <algorithm>

namespace einfuse::cuda_backend {

namespace detail {

namespace {

/** The row loop's unrolling. H200, Gaussian sum at N=M=100k: unrolled 1, 2, 4, 8, 16 times took
 * 4.23, 3.70, 3.94, 3.56, 4.03 ms. */
constexpr int kTiledRowsUnrolled = 8;
/** The unrolling of the loop over whole compensated blocks (ir::Tiling::blocks). H100, the same
 * sum, blocks of 8 unrolled 1, 2, 4 times: 1.098, 1.056, 1.069x the running sum's 3.53 ms
 * (blocks of 4 unrolled 1, 2, 4, 8: 1.20, 1.11, 1.14, 1.19x; a test per row instead of the inner
 * loop: 1.17x). */
constexpr int kCompensatedBlocksUnrolled = 2;

/** Where a reduced operand lives in the tile: in the shared array of its type, `offset`
 * elements into each row of `width`; its other indices dense within its slot. */
struct Slot {
    const ir::TensorInfo *info;
    std::vector<std::string> indices; // as accessed: the reduction variable among the others
    std::string array;                // tile_float, tile_double, ...
    int64_t offset = 0, width = 0, size = 1;
    std::vector<int64_t> strides;     // per dimension; the reduction variable's is the row width
};

/** tile_float, tile_half, tile_nv_bfloat16, tile_long_long: no double underscore, which C++
 * reserves. */
std::string array_name(DType t) {
    std::string c = c_type(t);
    c.erase(0, c.find_first_not_of('_'));
    std::replace(c.begin(), c.end(), ' ', '_');
    return "tile_" + c;
}

std::vector<Slot> slots(const ir::Kernel &k) {
    const ir::Tiling &t = *k.tiling;
    auto accesses = tensor_accesses(k);
    std::vector<Slot> out;
    std::map<std::string, int64_t> used; // elements per row of each array so far
    for (const auto &name : t.tensors) {
        // Its index list along the reduction (the kernel may read it otherwise outside the loop).
        const auto &lists = accesses.at(name);
        auto along = std::find_if(lists.begin(), lists.end(), [&](const std::vector<std::string> &idx) {
            return std::find(idx.begin(), idx.end(), t.reduce_var) != idx.end();
        });
        EINFUSE_ASSERT(along != lists.end(), "a tiled operand is read along the reduction");
        const ir::TensorInfo &info = k.params.at(k.param_index(name));
        Slot s{&info, *along, array_name(info.dtype), 0, 0, 1, {}};
        s.strides.assign(s.indices.size(), 0);
        for (std::size_t d = s.indices.size(); d-- > 0;) {
            if (s.indices[d] == t.reduce_var) continue;
            s.strides[d] = s.size;
            s.size *= t.extents.at(s.indices[d]);
        }
        s.offset = used[s.array];
        used[s.array] += s.size;
        out.push_back(std::move(s));
    }
    for (auto &s : out) { // rows padded to 16 bytes
        int64_t per_vector = 16 / static_cast<int64_t>(dtype_size(s.info->dtype));
        s.width = (used[s.array] + per_vector - 1) / per_vector * per_vector;
        for (std::size_t d = 0; d < s.indices.size(); ++d)
            if (s.indices[d] == t.reduce_var) s.strides[d] = s.width;
    }
    return out;
}

/** The statements around the reduction loop that passes/GpuTiling checked. */
ir::AroundLoop around(const ir::Kernel &k) {
    ir::AroundLoop a = ir::around_first_loop(k);
    EINFUSE_ASSERT(a.loop && a.loop->var == k.tiling->reduce_var, "a tiled kernel has its reduction loop");
    return a;
}

std::string print_list(const std::vector<ir::Stmt> &stmts, const KernelNames &names, int depth) {
    return stmts.empty() ? "" : print_statements(ir::Block::make(stmts), names, depth);
}

/** The copy of rows [tile_j0, tile_j0 + tile_rows) of every reduced operand into the tile:
 * element tile_e of the copy is row tile_e / size, and tile_c = tile_e % size its place in the slot, split into the
 * operand's other indices (the last fastest) to find it in global memory. */
std::string print_tile_load(const std::vector<Slot> &slots, const KernelNames &names, const ir::Tiling &tiling) {
    std::string out;
    for (const auto &s : slots) {
        const std::string n = std::to_string(s.size);
        out += "            for (int tile_e = threadIdx.x; tile_e < tile_rows * " + n + "; tile_e += " +
               std::to_string(tiling.rows) + ") {\n";
        if (s.size > 1) out += "                long long tile_c = tile_e % " + n + ";\n";
        std::string at;
        for (std::size_t d = s.indices.size(); d-- > 0;) {
            std::string stride = names.stride(s.info->name, static_cast<int>(d));
            if (s.indices[d] == tiling.reduce_var) {
                at += " + (tile_j0 + tile_e / " + n + ") * " + stride;
                continue;
            }
            if (tiling.extents.at(s.indices[d]) == 1) continue; // its coordinate is 0 (and a 1-element slot has no tile_c)
            std::string extent = std::to_string(tiling.extents.at(s.indices[d])), c = "tile_c" + std::to_string(d);
            out += "                const long long " + c + " = tile_c % " + extent + "; tile_c /= " + extent + ";\n";
            at += " + " + c + " * " + stride;
        }
        out += "                " + s.array + "[(tile_e / " + n + ") * " + std::to_string(s.width) + " + " +
               std::to_string(s.offset) + " + tile_e % " + n + "] = " + names.tensor(s.info->name) + "[0" + at + "];\n";
        out += "            }\n";
    }
    return out;
}

/** What the parts of a tiled kernel's text share. */
struct TiledParts {
    const ir::Kernel &k;
    const ir::Tiling &tiling;
    std::vector<Slot> tile;
    ir::AroundLoop around;
    std::vector<std::string> par;
    std::vector<KernelNames> point_names; // point r of a thread: names with _p<r> (r > 0)
    bool split;
};

std::string suffix(int r) { return r ? "_p" + std::to_string(r) : std::string(); }

/** Per point: whether it exists, its index, its parallel variables and its accumulators. */
std::string print_points(const TiledParts &t) {
    std::string out;
    for (int r = 0; r < static_cast<int>(t.point_names.size()); ++r) {
        std::string at = "tile_base + threadIdx.x" + (r ? " + " + std::to_string(r * t.tiling.rows) : std::string());
        out += "        const bool tile_active" + suffix(r) + " = " + at + " < total;\n";
        out += "        const long long idx" + suffix(r) + " = min(" + at + ", total - 1);\n";
        out += print_index_split(t.par, t.point_names[r], 2, "idx" + suffix(r), "rest" + suffix(r));
        out += print_list(t.around.before, t.point_names[r], 2);
        if (const auto &b = t.tiling.blocks)
            out += print_statements(ir::DeclareScalar::make(b->sum, b->type, ir::Const::make(b->type, 0)), t.point_names[r], 2);
    }
    return out;
}

/** Every point's statements `s`, each point in a scope of its own. */
std::string print_for_points(const TiledParts &t, const ir::Stmt &s, int depth) {
    const std::string indent(static_cast<std::size_t>(depth) * 4, ' ');
    std::string out;
    for (const auto &point : t.point_names) out += indent + "{\n" + print_statements(s, point, depth + 1) + indent + "}\n";
    return out;
}

/** One row of the tile at `row` for every point: the reduction variable, the reduced operands'
 * names in the tile, then `body` per point. */
std::string print_row(const TiledParts &t, const KernelNames &names, const std::string &row, const ir::Stmt &body,
                      int depth) {
    const std::string indent(static_cast<std::size_t>(depth) * 4, ' ');
    std::string out = indent + "const long long " + names.var(t.tiling.reduce_var) + " = " + row + ";\n";
    for (const auto &s : t.tile) {
        const std::string name = names.tensor(s.info->name);
        out += indent + "const " + c_type(s.info->dtype) + " *__restrict__ " + name + " = " + s.array + " + " +
               std::to_string(s.offset) + ";\n";
        out += indent + "const long long ";
        for (std::size_t d = 0; d < s.strides.size(); ++d)
            out += (d ? ", " : "") + names.stride(s.info->name, static_cast<int>(d)) + " = " + std::to_string(s.strides[d]);
        out += ";\n";
    }
    return out + print_for_points(t, body, depth);
}

/** The walk over the reduction a tile at a time: copy the tile, then every row for every point. */
std::string print_tile_loop(const TiledParts &t, const KernelNames &names) {
    std::string out = "        for (long long tile_j0 = tile_begin; tile_j0 < tile_end; tile_j0 += " +
                      std::to_string(t.tiling.rows) + ") {\n";
    out += "            const int tile_rows = (int)min(" + std::to_string(t.tiling.rows) + "LL, tile_end - tile_j0);\n";
    out += "            __syncthreads(); // the previous tile is consumed\n";
    out += print_tile_load(t.tile, names, t.tiling);
    out += "            __syncthreads();\n";
    const auto &blocks = t.tiling.blocks;
    if (!blocks) {
        out += "#pragma unroll " + std::to_string(kTiledRowsUnrolled) + "\n";
        out += "            for (int tile_jj = 0; tile_jj < tile_rows; ++tile_jj) {\n";
        return out + print_row(t, names, "tile_jj", t.around.loop->body, 4) + "            }\n        }\n";
    }
    // Whole blocks of terms, each added plainly and then compensated into the accumulator; the
    // tile's last rows, fewer than a block, are added and compensated at the tile's end.
    const std::string terms = std::to_string(blocks->terms);
    out += "#pragma unroll " + std::to_string(kCompensatedBlocksUnrolled) + "\n";
    out += "            for (int tile_jb = 0; tile_jb + " + terms + " <= tile_rows; tile_jb += " + terms + ") {\n";
    out += "#pragma unroll\n";
    out += "                for (int tile_q = 0; tile_q < " + terms + "; ++tile_q) {\n";
    out += print_row(t, names, "tile_jb + tile_q", blocks->accumulate, 5) + "                }\n";
    out += print_for_points(t, blocks->flush, 4) + "            }\n";
    out += "            for (int tile_jj = tile_rows / " + terms + " * " + terms + "; tile_jj < tile_rows; ++tile_jj) {\n";
    out += print_row(t, names, "tile_jj", blocks->accumulate, 4) + "            }\n";
    return out + print_for_points(t, blocks->flush, 3) + "        }\n";
}

/** The parts' element type: the combine kernel's (f64 for a compensated sum, passes/GpuTiling). */
DType part_type(const TiledParts &t) {
    return t.tiling.combine->params.at(static_cast<std::size_t>(t.k.num_inputs)).dtype;
}

/** Point r's part: its accumulator, less its error term for a compensated sum (in the parts' f64). */
std::string part_value(const TiledParts &t, int r) {
    const std::string acc = t.point_names[r].scalar(t.tiling.accumulator);
    if (t.tiling.compensation.empty()) return acc;
    const std::string as = "(" + c_type(part_type(t)) + ")";
    return as + acc + " - " + as + t.point_names[r].scalar(t.tiling.compensation);
}

/** Per point: its part of a split reduction, or, unsplit, the statements after the loop. */
std::string print_point_results(const TiledParts &t) {
    std::string out;
    for (int r = 0; r < static_cast<int>(t.point_names.size()); ++r) {
        const std::string active = "tile_active" + suffix(r);
        if (t.split) {
            out += "        if (gridDim.y > 1) {\n";
            out += "            if (" + active + ") einfuse_partial[(long long)blockIdx.y * total + idx" + suffix(r) +
                   "] = " + part_value(t, r) + ";\n";
            out += "        } else if (" + active + ") {\n";
        } else {
            out += "        if (" + active + ") {\n";
        }
        out += print_list(t.around.after, t.point_names[r], 3) + "        }\n";
    }
    return out;
}

} // namespace

std::string print_tiled_kernels(const ir::Kernel &k, const KernelNames &names) {
    TiledParts t{k, *k.tiling, slots(k), around(k), ir::parallel_vars(k), {names}, k.tiling->combine != nullptr};
    for (int r = 1; r < static_cast<int>(t.tiling.points_per_thread); ++r) t.point_names.push_back(names.for_point(r, t.par));
    const ir::Tiling &tiling = t.tiling;
    const bool split = t.split;
    EINFUSE_ASSERT(constant_rule(launch_variant(k, ir::VariantKind::Tiled).block) == tiling.rows,
                   "the tiled kernel is launched with a thread per tile row");

    std::string out = "// " + k.name + " with its reduced operands tiled through shared memory" +
                      (split ? "; gridDim.y splits the reduction, and " + k.name + "_combine folds the parts" : "") +
                      ".\n";
    out += kernel_signature(k, names, "__launch_bounds__(" + std::to_string(tiling.rows) + ") " + variant_kernel(k, ir::VariantKind::Tiled),
                            split ? c_type(part_type(t)) + " *__restrict__ einfuse_partial" : "") +
           " {\n";
    std::map<std::string, std::pair<DType, int64_t>> arrays;
    for (const auto &s : t.tile) arrays[s.array] = {s.info->dtype, s.width};
    for (const auto &[array, shape] : arrays)
        out += "    __shared__ __align__(16) " + c_type(shape.first) + " " + array + "[" +
               std::to_string(tiling.rows * shape.second) + "];\n";
    const std::string n_j = names.extent(tiling.reduce_var);
    const std::string span = std::to_string(tiling.rows * tiling.points_per_thread); // output points per block and step
    out += print_parallel_total(t.par, names);
    out += "    const long long tile_chunk = (" + n_j + " + gridDim.y - 1) / gridDim.y;\n";
    out += "    const long long tile_begin = (long long)blockIdx.y * tile_chunk;\n";
    out += "    const long long tile_end = min(" + n_j + ", tile_begin + tile_chunk);\n";
    out += "    // Whole blocks iterate together, for __syncthreads(): a point past the end computes the\n"
           "    // last point again and stores nothing.\n";
    out += "    for (long long tile_base = (long long)blockIdx.x * " + span + "; tile_base < total; tile_base += " +
           "(long long)gridDim.x * " + span + ") {\n";
    out += print_points(t) + print_tile_loop(t, names) + print_point_results(t);
    out += "    }\n}\n";
    if (split) {
        KernelNames combine_names(*tiling.combine);
        out += "\n// The parts of " + k.name + "_tiled's split reduction, folded in order.\n";
        out += print_kernel(*tiling.combine, combine_names);
    }
    return out;
}

} // namespace detail

} // namespace einfuse::cuda_backend
