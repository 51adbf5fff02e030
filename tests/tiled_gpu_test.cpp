// The GPU's tiled broadcast-reduce kernels (passes/GpuTiling.h, backends/cuda/CudaTiled.cpp):
// reductions split across blocks or not, every combining operator, operands whose reduction index
// is not first, and the standalone .cu's launcher, against the float64 reference.
#include "GpuSkip.h"
#include "StandaloneCu.h"
#include "TestUtil.h"

#include <cstring>

#include <doctest/doctest.h>

using namespace einfuse;

namespace {

const char *kGauss = "out[i] = sum[j](exp(-sum[d]((x[i,d] - y[j,d])^2)) * w[j])";

/** Runs a one-output program on fresh random inputs and checks that it was tiled and that it
 * agrees with the float64 reference. */
void check_tiled(const char *text, const ir::Extents &sizes, const std::map<std::string, DType> &dtypes = {}) {
    CompiledProgram p(text, dtypes, CompileOptions{Target::Cuda, "", 0});
    p.plan_for(sizes);
    CHECK(emit(p, "plan").find("tiled through shared memory") != std::string::npos);
    std::map<std::string, Tensor> inputs;
    std::vector<const Tensor *> ptrs;
    for (const auto &in : p.program().inputs) {
        Tensor x(in.dtype, p.tensor_shape(in.name, sizes));
        x.fill_random(test::rng());
        inputs.emplace(in.name, std::move(x));
    }
    for (const auto &in : p.program().inputs) ptrs.push_back(&inputs.at(in.name));
    Tensor got = p.run(ptrs, sizes).outputs.front();
    Tensor want = p.reference(ptrs, sizes).front();
    CHECK(ir::max_relative_error(got, want) <= tolerance(got.dtype(), p.reduction_length(sizes) + 16));
}

} // namespace

TEST_CASE("gpu tiled: the Gaussian kernel sum, split across blocks and not") {
    test::require_gpu();
    const struct {
        int64_t n, m;
    } rows[] = {{300, 5000}, {1000, 1000}, {20000, 600}, {257, 70001}, {100000, 300}}; // the reference is the slow part
    for (const auto &row : rows) {
        CAPTURE(row.n);
        CAPTURE(row.m);
        check_tiled(kGauss, {{"i", row.n}, {"j", row.m}, {"d", 3}});
    }
}

TEST_CASE("gpu tiled: max, min and product reductions, transposed operands, epilogues") {
    test::require_gpu();
    const struct {
        const char *text;
        ir::Extents sizes;
    } rows[] = {
        {"out[i] = max[j](x[i] * y[j])", {{"i", 1000}, {"j", 30000}}},
        {"out[i] = min[j](x[i] - y[j])", {{"i", 700}, {"j", 9000}}},
        {"out[i] = prod[j](1 + 0.0001 * x[i] * y[j])", {{"i", 600}, {"j", 5000}}},
        {"out[i] = sum[j](exp(-sum[d]((x[i,d] - y[d,j])^2)) * w[j])", {{"i", 900}, {"j", 4000}, {"d", 4}}},
        {"out[i] = sum[j](sum[c](k[j,c] * x[i,c]) * exp(-(v[i] - y[j])^2))", {{"i", 300}, {"j", 6000}, {"c", 2}}},
        {"out[i] = log(sum[j](exp(x[i] * y[j]))) + z[i]", {{"i", 2000}, {"j", 3000}}},
    };
    for (const auto &row : rows) {
        CAPTURE(row.text);
        check_tiled(row.text, row.sizes);
    }
}

TEST_CASE("gpu tiled: every element type, and outputs of two indices (partials [split, i, c])") {
    test::require_gpu();
    const struct {
        const char *text;
        std::map<std::string, DType> dtypes;
        ir::Extents sizes;
    } rows[] = {
        {kGauss, {{"x", DType::F64}, {"y", DType::F64}, {"w", DType::F64}}, {{"i", 3000}, {"j", 5000}, {"d", 3}}},
        {kGauss, {{"x", DType::F16}, {"y", DType::F16}, {"w", DType::F16}}, {{"i", 3000}, {"j", 5000}, {"d", 3}}},
        {kGauss, {{"x", DType::BF16}, {"y", DType::BF16}, {"w", DType::F32}}, {{"i", 300}, {"j", 9000}, {"d", 5}}},
        {"out[i] = sum[j](x[i] * y[j])", {{"x", DType::I32}, {"y", DType::I32}}, {{"i", 700}, {"j", 50000}}},
        {"out[i] = max[j](x[i] - y[j])", {{"x", DType::I64}, {"y", DType::I64}}, {{"i", 700}, {"j", 50000}}},
        {"out[i,c] = sum[j](x[i,c] * exp(-(v[i] - y[j])^2))", {}, {{"i", 300}, {"j", 20000}, {"c", 3}}},
    };
    for (const auto &row : rows) {
        CAPTURE(row.text);
        CAPTURE(row.dtypes.empty() ? "f32" : dtype_name(row.dtypes.begin()->second));
        check_tiled(row.text, row.sizes, row.dtypes);
    }
}

TEST_CASE("gpu tiled: the standalone .cu's launcher splits, combines and frees its parts") {
    test::require_gpu();
    const int64_t N = 500, M = 40000, D = 3;
    ir::Extents sizes{{"i", N}, {"j", M}, {"d", D}};
    CompiledProgram p(kGauss, {}, CompileOptions{Target::Cuda, "", 0});
    p.plan_for(sizes);
    std::string cu = emit(p, "cu");
    REQUIRE(cu.find("cudaLaunchKernel(einfuse_out_combine, ") != std::string::npos);
    Tensor x(DType::F32, {N, D}), y(DType::F32, {M, D}), w(DType::F32, {M}), out(DType::F32, {N});
    for (Tensor *t : {&x, &y, &w}) t->fill_random(test::rng());
    auto bytes = test::run_standalone(cu, "einfuse_out",
                                      {{&x, {N, D}, {D, 1}, 0}, {&y, {M, D}, {D, 1}, 0}, {&w, {M}, {1}, 0}},
                                      {&out, {N}, {1}, 0}, {N, M, D}, 4);
    if (!bytes) {
        MESSAGE("skipped: no nvcc");
        return;
    }
    std::memcpy(const_cast<void *>(out.data()), bytes->data(), bytes->size());
    Tensor want = p.reference({&x, &y, &w}, sizes).front();
    CHECK(ir::max_relative_error(out, want) <= tolerance(DType::F32, M + 16));
}
