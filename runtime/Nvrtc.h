#pragma once
// CUDA C source to device code with NVRTC, in-process and without a GPU. Knows nothing of the IR.
#include <string>
#include <vector>

namespace einfuse {

struct NvrtcOptions {
    bool fast_math = false;         // --use_fast_math: faster exp/div, looser than the reference
    std::vector<std::string> extra; // further NVRTC options, passed as given
};

/** A CUBIN for `arch` ("sm_90"), ready for CudaModule. Throws TargetError with NVRTC's log.
 * Cached in memory and on disk (support/DiskCache.h, subfolder "cuda"), keyed by the source,
 * architecture, options, CUDA headers, NVRTC version and einfuse version. */
std::vector<char> cuda_cubin(const std::string &source, const std::string &arch, const NvrtcOptions &options = {});

/** Drops the CUBINs cached in this process's memory (the disk cache stays). */
void forget_cached_cubins();

/** PTX text for `arch` ("sm_90" or "compute_90": both give compute_90 PTX), for --emit ptx. */
std::string cuda_ptx(const std::string &source, const std::string &arch, const NvrtcOptions &options = {});

/** "13.0": the NVRTC this binary uses. */
std::string nvrtc_version();

} // namespace einfuse
