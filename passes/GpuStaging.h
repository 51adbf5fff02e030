#pragma once
// Decides whether an unrolled GPU kernel also gets a variant that stages its inputs through
// shared memory. A thread per output element reads its batch element's slices with scalar loads
// that neighbouring threads repeat; staging a block's batch elements with 16-byte loads first
// reads every byte once, coalesced.
#include "ir/Kernel.h"
#include "passes/Sizes.h"

namespace einfuse::passes {

/** The most bytes of input slices one block stages (the batch elements per block are a power of
 * two): 8 blocks of 256 threads share an SM, each thread with 4-5 independent 16-byte loads in
 * flight. Measured on an H200 (bij,bjk->bik fp32, % of a copy of the same bytes in the same run):
 * limits of 8, 16 and 32 KiB gave D=3 64/85/94%, D=4 88/92/88%, D=8 83/92/86%; 20 KiB picks the
 * best of each (D=3 256 batch elements, 18 KiB; D=4 128, 16 KiB; D=8 32, 16 KiB). */
constexpr int64_t kStagedBytesPerBlock = 20480;
/** Batch elements per block stay a multiple of 8, so that every block's slices start on a
 * 16-byte boundary for 2-byte types too, and at most 256, one per thread. */
constexpr int64_t kMinStagedBatch = 8;
constexpr int64_t kMaxStagedBatch = 256;

/** Output elements per thread when the unrolled reduction has at least kMinTermsForPoints terms:
 * at D=16 a thread per element reads shared memory twice per multiply-add, and those reads bound
 * it (H200: 258 us, 75% of the copy bandwidth); four rows per thread share the reads of B. */
constexpr int64_t kPointsPerThread = 4;
constexpr int64_t kMinTermsForPoints = 8;

/** The staging of k, an unrolled kernel planned for the index sizes `sizes`; nothing when it
 * does not apply, with the reason in *why_not. */
std::optional<ir::Staging> plan_gpu_staging(const ir::Kernel &k, const Sizes &sizes, std::string *why_not);

} // namespace einfuse::passes
