#pragma once
// Complex einsums and programs (c64, c128, and complex with real operands) through the whole
// pipeline on one target, against the reference in complex128, on fresh random inputs: the
// host and GPU tests share the table.
#include "TestUtil.h"
#include "exec/Compiled.h"
#include "ir/Reference.h"

#include <doctest/doctest.h>

namespace einfuse::test {

struct ComplexEinsum {
    const char *spec;
    std::vector<Shape> shapes;
    std::vector<DType> dtypes; // one per operand
};

inline const std::vector<ComplexEinsum> &complex_einsums() {
    const DType c64 = DType::C64, c128 = DType::C128, f32 = DType::F32, f64 = DType::F64;
    static const std::vector<ComplexEinsum> cases = {
        {"ij,jk->ik", {{5, 7}, {7, 3}}, {c64, c64}},
        {"ij,jk->ik", {{5, 7}, {7, 3}}, {c128, c128}},
        {"ij,jk->ik", {{64, 96}, {96, 80}}, {c64, c64}}, // a GEMM's size
        {"ij,jk->ik", {{5, 7}, {7, 3}}, {c64, f32}},     // a real operand: two products, not four
        {"ij,jk->ik", {{5, 7}, {7, 3}}, {f64, c64}},     // c128 (numpy's result_type)
        {"bij,bjk->bik", {{300, 2, 2}, {300, 2, 2}}, {c64, c64}}, // unrolled
        {"bij,bjk->bik", {{100, 3, 3}, {100, 3, 3}}, {c128, c128}},
        {"i->", {{10000}}, {c64}},                        // a long sum (LongSums on the parts)
        {"i,i->", {{1000}, {1000}}, {c128, c128}},
        {"ii->i", {{6, 6}}, {c64}},
        {"ij->ji", {{4, 5}}, {c128}},
        {"i,j->ij", {{4}, {5}}, {c64, c128}},
        {"ab,bc,cd->ad", {{4, 5}, {5, 6}, {6, 3}}, {c128, c128, c128}}, // ordered pairwise, then split
        {"ea,fb,abcd,gc,hd->efgh", {{4, 2}, {3, 3}, {2, 3, 4, 5}, {2, 4}, {6, 5}}, {c64, c64, c64, c64, c64}},
    };
    return cases;
}

/** Each einsum on `target`, within the tolerance of its result's part type. */
inline void check_complex_einsums(Target target) {
    for (const auto &c : complex_einsums()) {
        CAPTURE(c.spec);
        CompiledEinsum e(c.spec, c.dtypes, CompileOptions{target, "", 0});
        std::vector<std::optional<Shape>> shapes(c.shapes.begin(), c.shapes.end());
        ir::Extents sizes = e.bind(shapes, {});
        e.plan_for(sizes);
        std::vector<Tensor> inputs;
        for (std::size_t i = 0; i < c.shapes.size(); ++i) {
            inputs.emplace_back(c.dtypes[i], c.shapes[i]);
            inputs.back().fill_random(rng());
        }
        std::vector<const Tensor *> ptrs;
        for (const auto &t : inputs) ptrs.push_back(&t);
        Tensor got = e.run(ptrs, sizes).outputs.front();
        Tensor want = e.reference(ptrs, sizes).front();
        CHECK(is_complex(got.dtype()));
        CHECK(got.dtype() == e.program().outputs.front().dtype);
        double err = ir::max_relative_error(got, want, e.reference_magnitudes(ptrs, sizes).front());
        CHECK(err <= tolerance(real_part_type(got.dtype()), e.reduction_length(sizes)));
    }
}

struct ComplexProgram {
    const char *source;
    std::map<std::string, Shape> shapes;
    std::map<std::string, DType> dtypes;
};

/** Programs with conj, real, imag, abs, exp, division, == and where on complex values. */
inline void check_complex_programs(Target target) {
    const DType c64 = DType::C64, c128 = DType::C128, f32 = DType::F32;
    const std::vector<ComplexProgram> cases = {
        {"y[i] = sum[j](conj(z[i,j]) * z[i,j])", {{"z", {6, 9}}}, {{"z", c128}}},
        {"y[i] = abs(z[i]) + real(z[i]) * imag(z[i]) - conj(z[i])", {{"z", {50}}}, {{"z", c64}}},
        {"y[i] = exp(z[i]) / (w[i] + 3)", {{"z", {40}}, {"w", {40}}}, {{"z", c128}, {"w", c128}}},
        {"y[i] = where(z[i] == w[i], z[i], 2 * w[i]) + (z[i] != z[i])", {{"z", {30}}, {"w", {30}}}, {{"z", c64}, {"w", c64}}},
        {"t[i,k] = sum[j](a[i,j] * b[j,k]); y[i] = sum[k](t[i,k] * conj(t[i,k]))",
         {{"a", {8, 5}}, {"b", {5, 7}}}, {{"a", c64}, {"b", f32}}},
        {"y[i] = real(x[i]) + imag(x[i]) + conj(x[i])", {{"x", {20}}}, {{"x", f32}}}, // of real values: numpy's
    };
    for (const auto &c : cases) {
        CAPTURE(c.source);
        CompiledProgram p(c.source, c.dtypes, CompileOptions{target, "", 0});
        ir::Extents sizes = p.bind(c.shapes, {});
        p.plan_for(sizes);
        std::vector<Tensor> inputs;
        for (const auto &in : p.program().inputs) {
            inputs.emplace_back(in.dtype, c.shapes.at(in.name));
            inputs.back().fill_random(rng());
        }
        std::vector<const Tensor *> ptrs;
        for (const auto &t : inputs) ptrs.push_back(&t);
        RunResult got = p.run(ptrs, sizes);
        std::vector<Tensor> want = p.reference(ptrs, sizes);
        REQUIRE(got.outputs.size() == want.size());
        for (std::size_t o = 0; o < want.size(); ++o) {
            DType part = real_part_type(got.outputs[o].dtype());
            CHECK(ir::max_relative_error(got.outputs[o], want[o]) <= 4 * tolerance(part, p.reduction_length(sizes)));
        }
    }
}

} // namespace einfuse::test
