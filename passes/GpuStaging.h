#pragma once
// Decides whether an unrolled GPU kernel also gets a variant that stages its inputs through
// shared memory. A thread per output element reads its batch element's slices with scalar loads
// that neighbouring threads repeat; staging a block's batch elements with 16-byte loads first
// reads every byte once, coalesced.
#include "ir/Kernel.h"

namespace einfuse::passes {

/** The bytes of input slices one block stages: 16 KiB lets 8 blocks of 256 threads share an SM
 * and keeps 4 independent 16-byte loads per thread in flight. */
constexpr int64_t kStagedBytesPerBlock = 16384;
/** Batch elements per block stay a multiple of 8, so that every block's slices start on a
 * 16-byte boundary for 2-byte types too, and at most 256, one per thread. */
constexpr int64_t kMinStagedBatch = 8;
constexpr int64_t kMaxStagedBatch = 256;

/** The staging of k, an unrolled kernel planned for the index sizes `sizes`; nothing when it
 * does not apply, with the reason in *why_not. */
std::optional<ir::Staging> plan_gpu_staging(const ir::Kernel &k, const ir::Extents &sizes, std::string *why_not);

} // namespace einfuse::passes
