#pragma once
// Facts about the machine a plan is for, as data that the passes read: which kind of device, and
// for a GPU its architecture, SM count, shared memory and tensor-core types; for the host CPU its
// vector width. The api layer fills one from the real device (runtime/CudaDriver, backends/llvm's
// CPU detection) or from the table of known architectures (`--arch` without a device); the
// passes never ask the machine themselves, and no pass or backend keeps a device constant.
//
// Target::gpu(90) is an H100/H200: 132 SMs, 228 KiB of shared memory per SM, tensor cores for
// f16, bf16 and tf32; Target::host(256) a CPU with AVX2.
#include "support/DType.h"

#include <string>
#include <vector>

namespace einfuse::ir {

enum class DeviceKind { Host, Gpu };

struct Target {
    DeviceKind kind = DeviceKind::Host;
    // The GPU (kind Gpu).
    int sm = 0;                      // compute capability as a number: 90 for sm_90
    int sm_count = 0;                // streaming multiprocessors
    int shared_per_sm = 0;           // bytes of shared memory per SM (what resident blocks share)
    int static_shared_per_block = 0; // bytes of static shared memory one block may declare
    std::vector<DType> tensor_core_types; // inputs of einfuse's tensor-core tiles (F32: as tf32)
    // The host CPU (kind Host).
    int vector_bits = 0;     // the widest vector register plans may use: 512 AVX-512, 256 AVX2, 128 SSE; 0: none
    int cpu_vector_bits = 0; // the widest the CPU has (vector_bits unless the user narrowed it)
    std::string cpu;         // the CPU's name as LLVM knows it ("sapphirerapids"), when known
    std::string features;    // LLVM's feature list as detected ("+avx2,+avx512f,..."); empty: the CPU's defaults
    std::string narrowed_by; // the user's limit on vector_bits, for the plan: "EINFUSE_HOST_VECTOR_BITS=256"
    int cores = 1;           // hardware threads the executor may use
    int64_t l2_bytes = 0;    // the CPU's L2 cache per core, in bytes; 0: not known (a CPU named, not detected)
    std::string source;  // where the facts came from, for the plan: "the device NVIDIA H200", "the table"

    /** The table's row for `sm` (the nearest known architecture at or below it; sm_75 below):
     * sm_75, 80, 86, 89, 90, 100, 103, 120. */
    static Target gpu(int sm = 90);
    static Target host(int vector_bits, std::string cpu = {});
    /** This host target with vector_bits lowered to `bits` (256 or 128) by `who`; unchanged when
     * `bits` is not narrower. The code then uses no instruction wider than `bits` either. */
    Target narrowed(int bits, std::string who) const;

    bool is_gpu() const { return kind == DeviceKind::Gpu; }
    std::string arch() const { return "sm_" + std::to_string(sm); } // "sm_90"
    bool has_tensor_cores(DType input) const;
    /** One line for the plan: "sm_90, 132 SMs, 228 KiB shared memory per SM (the table)";
     * "host rocketlake, 256-bit vectors (of 512: EINFUSE_HOST_VECTOR_BITS=256)". */
    std::string describe() const;
};

/** "sm_90" or "90" -> 90; 0 when it is neither. */
int parse_arch(const std::string &arch);

} // namespace einfuse::ir
