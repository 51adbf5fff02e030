#include "ir/Target.h"

#include <algorithm>
#include <cctype>
#include <cstdlib>

namespace einfuse::ir {

namespace {

/** One row per architecture: its flagship data-centre part where there is one (the SM count of
 * the part tuned for; a real device overrides it). Shared memory per SM is the architecture's
 * maximum carve-out (CUDA C Programming Guide, "Compute Capabilities"). Static shared memory per
 * block is 48 KiB everywhere (more needs the dynamic opt-in einfuse does not use). Every row lists
 * f16, bf16 and tf32 for einfuse's tensor-core tiles: their mma.sync shapes need sm_80, and the
 * printed code computes the same tiles on CUDA cores below it (backends/cuda/CudaGemmDevice.cpp),
 * which is how sm_75 ran them before this table; a target without them (tensor_core_types empty)
 * gets the CUDA-core tile shapes instead. */
struct Row {
    int sm, sm_count, shared_kib;
    bool mma;
    const char *part;
};
constexpr Row kTable[] = {
    {75, 40, 64, true, "T4"},           {80, 108, 164, true, "A100"},  {86, 84, 100, true, "A40"},
    {89, 142, 100, true, "L40S"},        {90, 132, 228, true, "H100/H200"}, {100, 148, 228, true, "B200"},
    {103, 148, 228, true, "B300"},       {120, 170, 100, true, "RTX 5090"},
};

} // namespace

Target Target::gpu(int sm) {
    const Row *row = &kTable[0];
    for (const auto &r : kTable)
        if (r.sm <= sm) row = &r;
    Target t;
    t.kind = DeviceKind::Gpu;
    t.sm = std::max(sm, 75);
    t.sm_count = row->sm_count;
    t.shared_per_sm = row->shared_kib * 1024;
    t.static_shared_per_block = 48 * 1024;
    if (row->mma) t.tensor_core_types = {DType::F16, DType::BF16, DType::F32};
    t.source = std::string("the table's sm_") + std::to_string(row->sm) + " row, " + row->part;
    return t;
}

Target Target::host(int vector_bits, std::string cpu) {
    Target t;
    t.vector_bits = vector_bits;
    t.cpu_vector_bits = vector_bits;
    t.cpu = std::move(cpu);
    return t;
}

Target Target::narrowed(int bits, std::string who) const {
    Target t = *this;
    if (is_gpu() || bits >= vector_bits || (bits != 256 && bits != 128)) return t;
    t.vector_bits = bits;
    t.narrowed_by = std::move(who);
    return t;
}

bool Target::has_tensor_cores(DType input) const {
    return std::find(tensor_core_types.begin(), tensor_core_types.end(), input) != tensor_core_types.end();
}

std::string Target::describe() const {
    if (!is_gpu())
        return "host" + (cpu.empty() ? std::string() : " " + cpu) + ", " + std::to_string(vector_bits) + "-bit vectors" +
               (narrowed_by.empty() ? "" : " (of " + std::to_string(cpu_vector_bits) + ": " + narrowed_by + ")");
    std::string types;
    for (DType d : tensor_core_types) types += (types.empty() ? "" : ", ") + std::string(d == DType::F32 ? "tf32" : dtype_name(d));
    return arch() + ", " + std::to_string(sm_count) + " SMs, " + std::to_string(shared_per_sm / 1024) +
           " KiB shared memory per SM, tensor cores: " + (types.empty() ? "none" : types) +
           (source.empty() ? "" : " (" + source + ")");
}

int parse_arch(const std::string &arch) {
    std::string digits = arch.rfind("sm_", 0) == 0 ? arch.substr(3) : arch;
    // "sm_90a" is sm_90 with the architecture-specific features: the same facts.
    while (!digits.empty() && !std::isdigit(static_cast<unsigned char>(digits.back()))) digits.pop_back();
    if (digits.empty() || digits.size() > 4 || !std::all_of(digits.begin(), digits.end(), ::isdigit)) return 0;
    return std::atoi(digits.c_str());
}

} // namespace einfuse::ir
