#pragma once
// What the host tests look for in emitted LLVM IR (llvm_backend::emit_llvm_ir, optimised for a
// CPU named explicitly): the calls of a masked intrinsic, and the CPUs they check on.
#include <sstream>
#include <string>

namespace einfuse::test {

/** Calls of llvm.masked.<intrinsic> ("gather", "scatter") in the module's text, declarations aside. */
inline int masked_calls(const std::string &ir, const std::string &intrinsic) {
    std::istringstream lines(ir);
    int n = 0;
    for (std::string line; std::getline(lines, line);)
        n += line.find("call ") != std::string::npos && line.find("@llvm.masked." + intrinsic) != std::string::npos;
    return n;
}

/** AVX-512 (Intel before and after the Downfall microcode, AMD Zen 4 and Zen 5) and AVX2 (Intel, AMD). */
inline const char *const kVectorCpus[] = {"skylake-avx512", "icelake-server", "sapphirerapids", "znver4", "znver5", "haswell", "znver3"};

} // namespace einfuse::test
