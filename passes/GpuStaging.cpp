#include "passes/GpuStaging.h"

#include "ir/Walk.h"

#include <algorithm>

namespace einfuse::passes {

std::optional<ir::Staging> plan_gpu_staging(const ir::Kernel &k, const Sizes &sizes,
                                            std::string *why_not) {
    auto refuse = [&](std::string why) -> std::optional<ir::Staging> {
        *why_not = std::move(why);
        return std::nullopt;
    };
    std::vector<std::string> par = ir::parallel_vars(k);
    if (par.empty()) return refuse("no parallel loop");
    // The staged copy reads each input's slice as a dense block of its variables' sizes.
    if (std::string why = ir::non_var_index(k.body); !why.empty()) return refuse(why);
    // A thread that owns a whole batch element (D=2) reads its 16-byte slices itself, at the copy
    // bandwidth already (and 7.1-7.6 us staged or not at the seed's size, H200).
    if (par.size() == 1) return refuse("a thread owns a whole batch element and reads its slices directly");
    const std::string &batch = par.front();

    // Every input is read with the batch index first, so that a block's batch elements are one
    // contiguous run of it when the input is stored in order.
    int64_t slice_bytes = 0;
    bool batch_first = true, sizes_known = true;
    for (int in = 0; in < k.num_inputs; ++in) {
        const ir::TensorInfo &t = k.params[in];
        int64_t elements = 1;
        bool read = false;
        ir::for_each_tensor_var_use(k.body, [&](const std::string &name, const std::vector<std::string> &idx) {
            if (name != t.name) return;
            read = true;
            batch_first &= !idx.empty() && idx.front() == batch && std::count(idx.begin(), idx.end(), batch) == 1;
            elements = 1;
            for (std::size_t d = 1; d < idx.size(); ++d) {
                std::optional<int64_t> n = sizes.value(idx[d]); // the slice's bytes decide
                sizes_known &= n.has_value();
                elements *= n.value_or(1);
            }
        });
        if (!read) return refuse("input " + t.name + " is never read");
        slice_bytes += elements * static_cast<int64_t>(dtype_size(t.dtype));
    }
    if (!batch_first) return refuse("an input is not read with '" + batch + "' as its first index");
    if (!sizes_known) return refuse("the size of an input's inner dimension is not known");
    if (slice_bytes == 0) return refuse("no input to stage");

    int64_t per_block = kMinStagedBatch;
    while (per_block * 2 <= kMaxStagedBatch && per_block * 2 * slice_bytes <= kStagedBytesPerBlock) per_block *= 2;
    if (per_block * slice_bytes > kStagedBytesPerBlock)
        return refuse("a batch element's input slices take " + std::to_string(slice_bytes) + " bytes, above " +
                      std::to_string(kStagedBytesPerBlock / kMinStagedBatch));

    ir::Staging s{batch, per_block, {}, 1};
    for (const auto &v : k.index_vars) {
        if (v == batch) continue;
        std::optional<int64_t> n = sizes.value(v); // the staged copy is compiled for it
        if (!n) return refuse("the size of '" + v + "' is not known");
        s.extents[v] = *n;
    }
    // Several output elements per thread where a long unrolled reduction reads shared memory
    // twice per multiply-add: the shared reads, not DRAM, bound it otherwise.
    int64_t terms = 1;
    ir::for_each_loop(k.body, [&](const ir::For &f) {
        if (f.loop_kind == ir::LoopKind::Unrolled) terms *= f.fixed_extent;
    });
    if (terms >= kMinTermsForPoints && par.size() > 1 && s.extents.at(par[1]) % kPointsPerThread == 0)
        s.points_per_thread = kPointsPerThread;
    return s;
}

} // namespace einfuse::passes
