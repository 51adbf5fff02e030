#pragma once
// Kernel -> LLVM IR, one function per kernel. This is the backend's printer: it turns the loop
// nest the passes decided into IR as written, and leaves every optimisation to LLVM's pipeline.
// Internal to backends/llvm/ (HostJit.cpp is its only user).
#include "ir/Kernel.h"

#include <string>

namespace llvm {
class Function;
class Module;
}

namespace einfuse::llvm_backend {

/** The CPU the code is for; every emitted function carries it as "target-cpu" and
 * "target-features" so the vectorisers use the host's vector width (AVX2, AVX-512). */
struct HostTarget {
    std::string cpu;
    std::string features;
    int vector_bits = 0; // the widest vector register: 512 with AVX-512, 256 with AVX2; 0: none used
    int prefer_bits = 0; // one kernel's planned width ("prefer-vector-width"); 0: LLVM's default for the CPU
};

/** The CPU as one kernel uses it, from k.host_vectors (passes/HostVectors): its vector width,
 * AVX-512 (or AVX) switched off when the user narrowed the target (a later "-feature" wins), and
 * "+prefer-no-gather,+prefer-no-scatter" when gathers are off. Unchanged for a kernel without it.
 * InternalError when the kernel was planned wider than this CPU. */
HostTarget kernel_target(const ir::Kernel &k, const HostTarget &cpu);

/** "target-cpu", "target-features" and, with prefer_bits, "prefer-vector-width" (what LLVM's
 * vectorisers aim for; explicit wider vectors stay legal). */
void add_target_attributes(llvm::Function *f, const HostTarget &target);

/** Adds `k` to `m` as
 *   extern "C" void <k.name>(void *const *data, const int64_t *strides, const int64_t *extents,
 *                            int64_t begin, int64_t end)
 * (see HostJit.h), plus an internal always-inline helper `<k.name>.body` that takes each tensor
 * as its own noalias pointer. Throws InternalError on a malformed kernel (unknown tensor or
 * variable, a Reduce, mixed types, arithmetic directly in f16/bf16, exp or pow of an integer:
 * see ScalarOps.h). Every element type is
 * supported; f16 and bf16 are converted with integer bit arithmetic (see TypeLowering.h). */
void emit_kernel(const ir::Kernel &k, const HostTarget &target, llvm::Module &m);

} // namespace einfuse::llvm_backend
