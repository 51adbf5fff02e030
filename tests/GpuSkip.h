#pragma once
// Tests that need a GPU call require_gpu() first: without a device the binary exits 77, which
// CTest reports as skipped (SKIP_RETURN_CODE), never as passed.
#include "runtime/CudaDriver.h"

#include <cstdio>
#include <cstdlib>
#include <string>

namespace einfuse::test {

inline void require_gpu() {
    std::string why;
    if (!cuda_available(&why)) {
        std::printf("SKIP: no CUDA device: %s\n", why.c_str());
        std::fflush(stdout);
        std::exit(77);
    }
}

} // namespace einfuse::test
