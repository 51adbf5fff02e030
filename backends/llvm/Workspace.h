#pragma once
// The packed GEMM's workspace (packed panels and offset tables): one buffer per thread, grown
// when a call needs more and kept until the thread ends, so that calls after the first touch
// memory that is already mapped. A fresh allocation per call (glibc maps blocks this large
// afresh) cost a page fault per 4 KiB: on a Zen 5 VM, f32 1024^3 ran at 80 GFLOP/s in such
// calls against 155 in the others. A thread keeps the largest workspace it was asked for up to
// kKeptWorkspaceBytes (an A block and a B panel, about 4.5 MiB, and tables of 8 bytes per row,
// column and k: typical GEMMs need a few MiB); a larger one is freed after its call
// (release_large_workspace), so that one tall product does not hold its tables for good.
#include <cstdint>

namespace einfuse::llvm_backend {

/** The symbol generated code calls (HostJit defines it in every JIT). */
inline constexpr const char *kWorkspaceSymbol = "einfuse_host_workspace";

/** A 64-byte aligned buffer of at least `bytes` for this thread, valid until this thread's next
 * call; nullptr when it cannot be allocated (the kernel then computes nothing, and
 * take_workspace_failure() on this thread says so). */
extern "C" void *einfuse_host_workspace(int64_t bytes);

/** The bytes a kernel on this thread could not get since the last call of this, or 0; clears it. */
int64_t take_workspace_failure();

/** The most a thread keeps between calls. */
inline constexpr int64_t kKeptWorkspaceBytes = int64_t{64} << 20;

/** Frees this thread's workspace if it is larger than kKeptWorkspaceBytes (after a call). */
void release_large_workspace();

} // namespace einfuse::llvm_backend
