#pragma once
// One compiled packed GEMM for the GEMMs of a program that differ only in their shapes. The
// packed GEMM reads every size and stride at run time; what still makes two of them print
// differently is how many variables each group holds and how each tensor orders its dimensions.
// shared_gemm() rewrites a packed GEMM kernel into a canonical one (variables b0.., m0.., n0..,
// k0.., each group padded to the given count with variables of size 1; tensors p0.. indexed by
// their group's variables in that order) and says where its arguments come from in the
// original's. Internal to backends/llvm/ (HostJit.cpp uses it).
#include "ir/Kernel.h"

#include <cstddef>
#include <optional>
#include <vector>

namespace einfuse::llvm_backend {

/** How many variables each GEMM group holds. */
struct GemmGroupCounts {
    std::size_t batch = 0, m = 0, n = 0, k = 0;
};

/** k's group counts when k is a packed GEMM (ir::Gemm::host_packed), else nothing. */
std::optional<GemmGroupCounts> gemm_group_counts(const ir::Kernel &k);

/** The canonical form of packed GEMM k with each group padded to `pads`, and its arguments:
 * canonical tensor p is k's data[data_slots[p]] (A, B, then the others), canonical extent v is
 * k's extents[extent_slots[v]] (1 where the slot is -1), canonical stride s is k's
 * strides[stride_slots[s]] (0 where -1). Nothing when k is not a packed GEMM, a group
 * holds more variables than its pad, a tensor is read in two index orders or uses a variable
 * twice (a diagonal): those keep their own code. */
struct SharedGemm {
    ir::Kernel kernel;
    std::vector<int> data_slots, extent_slots, stride_slots;
};
std::optional<SharedGemm> shared_gemm(const ir::Kernel &k, const GemmGroupCounts &pads);

} // namespace einfuse::llvm_backend
