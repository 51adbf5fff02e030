#pragma once
// Index-notation programs both targets run end to end, with the sizes to run them at and the
// number of kernels fusion must leave.
#include "exec/Compiled.h"
#include "ir/Reference.h"

#include <doctest/doctest.h>

#include <random>

namespace einfuse::test {

struct ProgramCase {
    const char *source;
    ir::Extents extents;
    std::size_t kernels; // after fusion
};

inline const ProgramCase kProgramCases[] = {
    // The brief's examples.
    {"C[b,i,k] = A[b,i,j] * B[b,j,k]\nD[b,i,k] = relu(C[b,i,k] + bias[k])", {{"b", 3}, {"i", 5}, {"j", 7}, {"k", 4}}, 1},
    {"out[i] = sum[j](exp(-sum[d]((x[i,d] - y[j,d])^2)) * w[j])", {{"i", 300}, {"j", 200}, {"d", 3}}, 1},
    {"m[i] = max[j](S[i,j])", {{"i", 9}, {"j", 33}}, 1},
    // Softmax: the row max and row sum are materialised, the exponentials fused.
    {"m[i] = max[j](S[i,j]); e[i,j] = exp(S[i,j] - m[i]); s[i] = sum[j](e[i,j]); out[i,j] = e[i,j] / s[i]",
     {{"i", 17}, {"j", 40}}, 3},
    // Cosine similarity: two row norms and a contraction, the scaling fused.
    {"na[i] = sqrt(sum[d](X[i,d]^2)); nb[j] = sqrt(sum[d](Y[j,d]^2))\n"
     "out[i,j] = sum[d](X[i,d] * Y[j,d]) / (na[i] * nb[j])",
     {{"i", 20}, {"j", 30}, {"d", 8}}, 3},
    // ij,nj->ni then sign(.): the epilogue fused.
    {"y[n,i] = J[i,j] * x[n,j]; s[n,i] = sign(y[n,i])", {{"n", 500}, {"i", 10}, {"j", 10}}, 1},
    // Every function and operator, elementwise.
    {"o[i] = exp(a[i]) + log(abs(a[i]) + 1) + sqrt(abs(a[i])) + rsqrt(abs(a[i]) + 1) + tanh(a[i]) + sigmoid(a[i])"
     " + relu(a[i]) + gelu(a[i]) + sin(a[i]) + cos(a[i]) + floor(a[i]) + ceil(a[i]) + sign(a[i])"
     " + max(a[i], b[i]) + min(a[i], b[i]) + pow(abs(a[i]), b[i]) + where(a[i] > b[i], a[i], -b[i])"
     " + (a[i] <= b[i]) - (a[i] == b[i]) + (a[i] != b[i]) * 2 - -a[i]^2 / 3",
     {{"i", 1000}}, 1},
    // Accumulation and scalars.
    {"C[i] = A[i,j]; C[i] += 2 * B[i]; t[] = sum[i](C[i])", {{"i", 50}, {"j", 6}}, 1}, // all fused into t
    {"p[i] = prod[j](1 + A[i,j] / 4); q[i] = min[j](A[i,j])", {{"i", 12}, {"j", 5}}, 2},
};

/** Compiles c.source for target, runs it on fresh random inputs in [-1, 1) (the programs guard
 * their functions' domains themselves), and returns the worst error/tolerance over the outputs;
 * the kernel count goes to `kernels`. */
inline double run_program_case(const ProgramCase &c, DType dtype, Target target, std::size_t &kernels) {
    auto ast = frontend::parse_program(c.source);
    std::map<std::string, DType> dtypes;
    for (const auto &[name, rank] : frontend::program_inputs(ast)) dtypes[name] = dtype;
    CompiledProgram compiled(c.source, dtypes, CompileOptions{target, "", 2});
    compiled.plan_for(c.extents);
    kernels = compiled.plan().kernels.size();
    static std::mt19937_64 rng(std::random_device{}());
    std::vector<Tensor> inputs;
    std::vector<const Tensor *> ptrs;
    for (const auto &t : compiled.program().inputs) {
        inputs.emplace_back(t.dtype, compiled.tensor_shape(t.name, c.extents));
        inputs.back().fill_random(rng);
    }
    for (const auto &t : inputs) ptrs.push_back(&t);
    RunResult got = compiled.run(ptrs, c.extents);
    std::vector<Tensor> want = compiled.reference(ptrs, c.extents);
    double worst = 0;
    for (std::size_t i = 0; i < want.size(); ++i) {
        // Transcendental functions in f32 are a few ulps off the f64 reference: 16 ulps of room.
        double tol = tolerance(got.outputs[i].dtype(), compiled.reduction_length(c.extents) + 16);
        worst = std::max(worst, ir::max_relative_error(got.outputs[i], want[i]) / tol);
    }
    return worst;
}

/** Every case of kProgramCases in f32 and f64 on target: within tolerance, fused as planned. */
inline void check_program_cases(Target target) {
    for (DType dtype : {DType::F32, DType::F64})
        for (const auto &c : kProgramCases) {
            std::string source = c.source;
            CAPTURE(source);
            CAPTURE(dtype_name(dtype));
            std::size_t kernels = 0;
            CHECK(run_program_case(c, dtype, target, kernels) <= 1.0);
            CHECK(kernels == c.kernels);
        }
}

} // namespace einfuse::test
