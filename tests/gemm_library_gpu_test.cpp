// GEMM kernels run by cuBLASLt (exec/LibraryGemm.h): every element type, transposed and broadcast
// operands, grouped and unfoldable index groups, the fused epilogues, checked against the
// float64 reference on fresh random inputs, with what ran (RunResult::ran) checked too.
#include "GpuSkip.h"
#include "TestUtil.h"
#include "runtime/CublasLt.h"
#include "runtime/CudaDriver.h"

#include <doctest/doctest.h>

using namespace einfuse;

namespace {

/** Runs c on fresh random inputs of the given shapes (default: the planned ones) and returns what
 * ran it; checks the result against the reference with tolerance scaled by the reduction. */
std::string run_and_check(Compiled &c, const std::vector<Shape> &shapes, const ir::Extents &sizes, double extra_tol = 0) {
    c.plan_for(sizes);
    std::vector<Tensor> inputs;
    std::vector<const Tensor *> ptrs;
    for (std::size_t i = 0; i < shapes.size(); ++i) {
        inputs.emplace_back(c.program().inputs[i].dtype, shapes[i]);
        inputs.back().fill_random(test::rng());
    }
    for (const auto &t : inputs) ptrs.push_back(&t);
    RunResult r = c.run(ptrs, sizes);
    Tensor want = c.reference(ptrs, sizes).front();
    const Tensor &got = r.outputs.front();
    CHECK(ir::max_relative_error(got, want) <= tolerance(got.dtype(), c.reduction_length(sizes)) + extra_tol);
    REQUIRE(r.ran.size() == 1);
    return r.ran[0];
}

CompileOptions library(bool tf32 = false) {
    CompileOptions o{Target::Cuda, "", 0};
    o.gemm = GemmRunner::Library;
    o.allow_tf32 = tf32;
    return o;
}

/** An einsum's operand shapes at `sizes`, with the listed dimensions of operand `which` set to 1
 * (numpy's broadcast: a stride of 0). */
std::vector<Shape> einsum_shapes(const CompiledEinsum &e, const ir::Extents &sizes, int which = -1,
                                 std::vector<int> ones = {}) {
    std::vector<Shape> out;
    for (std::size_t i = 0; i < e.program().inputs.size(); ++i) {
        out.push_back(e.operand_shape(static_cast<int>(i), sizes));
        if (static_cast<int>(i) == which)
            for (int d : ones) out.back()[static_cast<std::size_t>(d)] = 1;
    }
    return out;
}

} // namespace

TEST_CASE("gpu cuBLASLt: layouts as one call, without copies") {
    test::require_gpu();
    const struct {
        const char *spec;
        ir::Extents sizes;
        int broadcast_operand;
        std::vector<int> broadcast_dims;
        const char *ran;
    } rows[] = {
        {"ij,jk->ik", {{"i", 130}, {"j", 70}, {"k", 33}}, -1, {}, "cuBLASLt, 1 call"},
        {"ji,kj->ik", {{"i", 64}, {"j", 129}, {"k", 40}}, -1, {}, "cuBLASLt, 1 call"},      // both transposed
        {"ij,jk->ki", {{"i", 64}, {"j", 48}, {"k", 96}}, -1, {}, "cuBLASLt, 1 call"},       // column-major output
        {"bij,bjk->bik", {{"b", 5}, {"i", 64}, {"j", 48}, {"k", 80}}, -1, {}, "cuBLASLt, 1 call"},
        {"bij,bjk->bik", {{"b", 5}, {"i", 64}, {"j", 48}, {"k", 80}}, 1, {0}, "cuBLASLt, 1 call"}, // stride-0 batch
        {"bij,jk->bik", {{"b", 6}, {"i", 40}, {"j", 48}, {"k", 80}}, -1, {}, "cuBLASLt, 1 call"},  // b folds into M
        {"ij,bjk->bik", {{"b", 19}, {"i", 96}, {"j", 64}, {"k", 1}}, -1, {}, "cuBLASLt, 1 call"},  // brief case 4
        {"nhj,hjk->nhk", {{"n", 50}, {"h", 7}, {"j", 20}, {"k", 30}}, -1, {}, "cuBLASLt, 1 call"}, // case 5
        {"bld,lrd->blr", {{"b", 4}, {"l", 9}, {"d", 16}, {"r", 80}}, -1, {}, "cuBLASLt, 1 call"},  // case 6
        {"ijk,ikl->jl", {{"i", 3}, {"j", 40}, {"k", 50}, {"l", 36}}, -1, {}, "cuBLASLt, 3 calls"}, // case 10: K = i*k
        {"xbij,bjk->xbik", {{"x", 1}, {"b", 3}, {"i", 40}, {"j", 30}, {"k", 20}}, -1, {}, "cuBLASLt, 1 call"},
    };
    for (const auto &row : rows) {
        INFO(std::string(row.spec));
        CompiledEinsum e(row.spec, {DType::F32, DType::F32}, library());
        std::string ran = run_and_check(e, einsum_shapes(e, row.sizes, row.broadcast_operand, row.broadcast_dims), row.sizes);
        CHECK(ran == row.ran);
    }
}

TEST_CASE("gpu cuBLASLt: every floating type, and tf32 only when allowed") {
    test::require_gpu();
    ir::Extents sizes{{"b", 3}, {"i", 96}, {"j", 200}, {"k", 72}};
    for (DType t : {DType::F16, DType::BF16, DType::F32, DType::F64}) {
        CAPTURE(dtype_name(t));
        CompiledEinsum e("bij,bjk->bik", {t, t}, library());
        CHECK(run_and_check(e, einsum_shapes(e, sizes), sizes) == "cuBLASLt, 1 call");
    }
    // tf32 rounds the inputs to 10 bits of mantissa: about 2^-11 per product, growing like sqrt(K).
    CompiledEinsum tf32("bij,bjk->bik", {DType::F32, DType::F32}, library(true));
    CHECK(run_and_check(tf32, einsum_shapes(tf32, sizes), sizes, 0x1p-11 * 16) == "cuBLASLt, 1 call");
    CHECK(emit(tf32, "plan").find("rounded to tf32") != std::string::npos);
    // Integers have no cuBLASLt GEMM: the plan says so and the kernel runs elsewhere.
    CompiledEinsum ints("ij,jk->ik", {DType::I32, DType::I32}, library());
    ir::Extents small{{"i", 40}, {"j", 30}, {"k", 20}};
    CHECK(run_and_check(ints, einsum_shapes(ints, small), small).find("cuBLASLt has no i32 GEMM") != std::string::npos);
}

TEST_CASE("gpu cuBLASLt: fused epilogues (bias along N or M, relu, alpha, an added tensor, +=)") {
    test::require_gpu();
    ir::Extents sizes{{"i", 96}, {"j", 130}, {"k", 80}};
    auto shapes = [&](const CompiledProgram &p) {
        std::vector<Shape> out;
        for (const auto &in : p.program().inputs) out.push_back(p.tensor_shape(in.name, sizes));
        return out;
    };
    const struct {
        const char *text;
        const char *ran;
    } rows[] = {
        {"C[i,k] = A[i,j]*B[j,k]; D[i,k] = relu(C[i,k] + bias[k])", "cuBLASLt, 1 call"},
        {"D[i,k] = relu(sum[j](A[i,j]*B[j,k]) + bias[i])", "not cuBLASLt: cuBLASLt adds a bias along the output's unit-stride"},
        {"D[k,i] = relu(sum[j](A[i,j]*B[j,k]) + bias[i])", "cuBLASLt, 1 call"}, // bias along M, M unit-stride
        {"D[i,k] = 0.5 * sum[j](A[i,j]*B[j,k]) + E[i,k]", "cuBLASLt, 1 call"},
        {"D[i,k] = E[i,k]; D[i,k] += A[i,j]*B[j,k]", "cuBLASLt, 1 call"},
        {"D[i,k] = sum[j](A[i,j]*B[j,k]) * s[i]", "not cuBLASLt: the product goes through other arithmetic"},
        {"D[i,k] = gelu(sum[j](A[i,j]*B[j,k]) + bias[k])", "not cuBLASLt: cuBLASLt's GELU is the tanh approximation"},
    };
    for (const auto &row : rows) {
        INFO(std::string(row.text));
        CompiledProgram p(row.text, {}, library());
        p.plan_for(sizes);
        std::string ran = run_and_check(p, shapes(p), sizes);
        INFO(ran);
        CHECK(ran.find(row.ran) != std::string::npos);
    }
    // f16 with a bias and relu: cuBLASLt rounds once, at the store.
    CompiledProgram half("D[i,k] = relu(sum[j](A[i,j]*B[j,k]) + bias[k])",
                         {{"A", DType::F16}, {"B", DType::F16}, {"bias", DType::F16}}, library());
    half.plan_for(sizes);
    CHECK(run_and_check(half, shapes(half), sizes) == "cuBLASLt, 1 call");
}

TEST_CASE("gpu cuBLASLt: peak device memory is inputs + outputs + workspace for broadcast cases") {
    test::require_gpu();
    // Brief case 4 at a small size: the broadcast x is never expanded.
    ir::Extents sizes{{"b", 64}, {"i", 512}, {"j", 512}, {"k", 1}};
    CompiledEinsum e("ij,bjk->bik", {DType::F32, DType::F32}, CompileOptions{Target::Cuda, "", 0});
    e.plan_for(sizes);
    std::vector<Tensor> inputs;
    std::vector<const Tensor *> ptrs;
    std::size_t bytes = 0;
    for (int i = 0; i < 2; ++i) {
        inputs.emplace_back(DType::F32, e.operand_shape(i, sizes));
        inputs.back().fill_random(test::rng());
        bytes += inputs.back().nbytes();
    }
    for (const auto &t : inputs) ptrs.push_back(&t);
    // Kernels of earlier tests keep their last call's device buffers: count only what this run adds.
    const std::size_t held_before = device_bytes_held();
    RunResult r = e.run(ptrs, sizes);
    bytes += r.outputs.front().nbytes();
    CHECK(r.ran.at(0) == "cuBLASLt, 1 call");
    CHECK(r.device_peak_bytes - held_before <= bytes + kLtWorkspaceBytes);
    CHECK(r.device_peak_bytes - held_before >= bytes);
}
