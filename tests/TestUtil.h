#pragma once
// Helpers shared by the tests: random inputs and a checked run against the reference.
#include "api/Einfuse.h"
#include "ir/Reference.h"

#include <random>

namespace einfuse::test {

inline std::mt19937_64 &rng() {
    static std::mt19937_64 r(std::random_device{}()); // fresh inputs on every run
    return r;
}

/** Random inputs for an einsum under extents, in operand order. */
inline std::vector<Tensor> random_inputs(const CompiledEinsum &c, const ir::Extents &extents) {
    std::vector<Tensor> inputs;
    for (std::size_t i = 0; i < c.ast().operands.size(); ++i) {
        inputs.emplace_back(c.program().inputs[i].dtype, c.operand_shape(static_cast<int>(i), extents));
        inputs.back().fill_random(rng());
    }
    return inputs;
}

inline std::vector<const Tensor *> pointers(const std::vector<Tensor> &ts) {
    std::vector<const Tensor *> out;
    for (const auto &t : ts) out.push_back(&t);
    return out;
}

/** Runs c on fresh random inputs and returns {max relative error, tolerance}. */
inline std::pair<double, double> run_and_compare(const CompiledEinsum &c, const ir::Extents &extents) {
    auto inputs = random_inputs(c, extents);
    auto ptrs = pointers(inputs);
    Tensor got = c.run(ptrs, extents).outputs.front();
    Tensor want = einsum_reference(c, ptrs, extents);
    return {ir::max_relative_error(got, want), tolerance(got.dtype(), reduction_length(c, extents))};
}

} // namespace einfuse::test
