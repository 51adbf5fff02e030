#pragma once
// Helpers shared by the tests: random inputs and a checked run against the reference.
#include "exec/Compiled.h"
#include "ir/Reference.h"

#include <random>

namespace einfuse::test {

inline std::mt19937_64 &rng() {
    static std::mt19937_64 r(std::random_device{}()); // fresh inputs on every run
    return r;
}

struct TableCase {
    const char *spec;
    ir::Extents extents;
};

/** The end-to-end table both targets run: the brief's shapes, diagonals, transposes, scalars,
 * three operands, zero sizes. */
inline const TableCase kEinsumCases[] = {
    {"bij,bjk->bik", {{"b", 262144}, {"i", 2}, {"j", 2}, {"k", 2}}},
    {"bij,bjk->bik", {{"b", 1000}, {"i", 3}, {"j", 3}, {"k", 3}}},
    {"bij,bjk->bik", {{"b", 33}, {"i", 9}, {"j", 4}, {"k", 1}}},
    {"bij,bjk->bik", {{"b", 3}, {"i", 17}, {"j", 300}, {"k", 5}}},
    {"ij,jk->ik", {{"i", 64}, {"j", 1}, {"k", 48}}},
    {"nc,nc->n", {{"n", 5000}, {"c", 7}}},
    {"bij,bpj->bpi", {{"b", 12}, {"p", 1000}, {"i", 3}, {"j", 3}}},
    {"ij,jk", {{"i", 5}, {"j", 6}, {"k", 7}}},
    {"ii->", {{"i", 9}}},
    {"ii->i", {{"i", 9}}},
    {"ij->ji", {{"i", 13}, {"j", 31}}},
    {"i,i->", {{"i", 100000}}},
    {",i->i", {{"i", 10}}},
    {"ij,jk,kl->il", {{"i", 4}, {"j", 5}, {"k", 6}, {"l", 3}}},
    {"ij,jk,kl->il", {{"i", 40}, {"j", 50}, {"k", 60}, {"l", 3}}},
    {"bij,bjk->bik", {{"b", 0}, {"i", 2}, {"j", 2}, {"k", 2}}},
    {"ij,jk->ik", {{"i", 3}, {"j", 0}, {"k", 2}}},
};

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

/** An einsum's sum of |terms| per output element (the reference on the inputs' absolute values):
 * what its rounding errors scale with (ir::max_relative_error with a scale). */
inline Tensor einsum_scale(const CompiledEinsum &c, const std::vector<Tensor> &inputs, const ir::Extents &extents) {
    return c.reference_magnitudes(pointers(inputs), extents).front();
}

/** Plans c for extents, runs it on fresh random inputs, returns {max relative error, tolerance}. */
inline std::pair<double, double> run_and_compare(CompiledEinsum &c, const ir::Extents &extents) {
    c.plan_for(extents);
    auto inputs = random_inputs(c, extents);
    auto ptrs = pointers(inputs);
    Tensor got = c.run(ptrs, extents).outputs.front();
    Tensor want = einsum_reference(c, ptrs, extents);
    return {ir::max_relative_error(got, want, einsum_scale(c, inputs, extents)),
            tolerance(got.dtype(), reduction_length(c, extents))};
}

inline /** A copy of t whose dimension order[0] is innermost, order[1] next, ..., each dimension padded
 * by `pad` elements: same values, another layout (pad > 0: nothing contiguous). */
Tensor relayout(const Tensor &t, std::vector<int> order, int64_t pad) {
    Shape strides(t.rank());
    int64_t step = 1;
    for (int d : order) {
        strides[d] = step;
        step *= t.shape()[d] + pad;
    }
    Tensor out(t.dtype(), t.shape(), strides);
    std::vector<int64_t> idx(t.rank(), 0);
    for (int64_t n = 0; n < t.size(); ++n) {
        int64_t from = 0, to = 0;
        for (int d = 0; d < t.rank(); ++d) {
            from += idx[d] * t.strides()[d];
            to += idx[d] * strides[d];
        }
        out.store(to, t.load(from));
        for (int d = t.rank() - 1; d >= 0 && ++idx[d] == t.shape()[d]; --d) idx[d] = 0;
    }
    return out;
}

} // namespace einfuse::test
