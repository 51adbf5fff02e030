// The emitted tiled GEMM kernels (backends/cuda/CudaGemm.cpp), run through the standalone .cu's
// launcher (nvcc, no cuBLAS) against the float64 reference: every element type and tf32, every
// tile shape the rule picks, transposed, batched, broadcast and grouped operands, edge sizes,
// misaligned data (the element-by-element loads) and fused epilogues.
#include "GpuSkip.h"
#include "StandaloneCu.h"
#include "TestUtil.h"

#include "backends/cuda/CudaPrinter.h"
#include "frontend/Program.h"

#include <cmath>
#include <cstring>

#include <doctest/doctest.h>

using namespace einfuse;

namespace {

/** One case: an einsum or a program, its sizes, the type of every tensor (the standalone
 * harness uploads one element size), whether f32 may round to tf32, an input whose first
 * dimension is passed as size 1 with stride 0, and how many elements every input starts after
 * its allocation's 256-byte aligned start. */
struct GemmCase {
    const char *spec;
    ir::Extents sizes;
    DType dtype;
    bool tf32;
    std::string broadcast;
    int64_t offset;
};

std::unique_ptr<Compiled> compile_case(const GemmCase &c) {
    CompileOptions options{Target::Cuda, "", 0};
    if (frontend::is_program(c.spec)) {
        std::map<std::string, DType> dtypes;
        auto probe = std::make_unique<CompiledProgram>(c.spec, dtypes, options);
        for (const auto &in : probe->program().inputs) dtypes[in.name] = c.dtype;
        return std::make_unique<CompiledProgram>(c.spec, dtypes, options);
    }
    std::size_t operands = std::count(c.spec, c.spec + std::strlen(c.spec), ',') + 1;
    return std::make_unique<CompiledEinsum>(c.spec, std::vector<DType>(operands, c.dtype), options);
}

/** Element-size tolerance: the dtype's, over the reduction length; tf32 keeps 10 mantissa bits,
 * its error grows like sqrt(K) for random signs. */
double gemm_tolerance(const GemmCase &c, int64_t k) {
    if (c.tf32) return 1e-3 * std::sqrt(static_cast<double>(k)) + 1e-3;
    return tolerance(c.dtype, k + 16);
}

/** Plans, checks the plan chose the GEMM, emits the .cu, runs the launcher through nvcc and
 * compares with the reference. Returns the variant the rule picked, for the caller to check. */
std::string check_gemm(const char *spec, const ir::Extents &extents, DType dtype = DType::F32, bool tf32 = false,
                       const std::string &broadcast = "", int64_t offset = 0) {
    const GemmCase c{spec, extents, dtype, tf32, broadcast, offset};
    CAPTURE(c.spec);
    CAPTURE(dtype_name(c.dtype));
    std::unique_ptr<Compiled> p = compile_case(c);
    p->plan_for(c.sizes);
    std::vector<ir::Kernel> kernels = p->plan().kernels;
    REQUIRE(kernels.size() == 1);
    ir::Kernel &k = kernels.front();
    REQUIRE(k.gemm.has_value());
    k.gemm->allow_tf32 = c.tf32;
    std::string cu = cuda_backend::emit_cuda(kernels, "test");

    std::vector<int64_t> sizes;
    for (const auto &v : k.index_vars) sizes.push_back(c.sizes.at(v));
    std::string variant = cuda_backend::cuda_gemm_kernel_name(k, sizes);
    CAPTURE(variant);

    // Inputs: random, non-zero; a broadcast one is stored once and passed with stride 0, and
    // the reference gets it replicated.
    // Inputs: random, non-zero; a broadcast one is stored once and passed with stride 0, and
    // the reference gets it replicated.
    auto shape_of = [&](const std::vector<std::string> &vars) {
        Shape shape;
        for (const auto &v : vars) shape.push_back(c.sizes.at(v));
        return shape;
    };
    auto indices = cuda_backend::cuda_param_indices(k);
    std::map<std::string, Tensor> stored, full;
    std::vector<test::StandaloneTensor> args;
    for (int i = 0; i < k.num_inputs; ++i) {
        const ir::TensorInfo &in = k.params[i];
        Shape shape = shape_of(indices[i]), strides = contiguous_strides(shape), kept = shape;
        if (in.name == c.broadcast) kept[0] = 1;
        Tensor x(in.dtype, kept), f(in.dtype, shape);
        x.fill_random(test::rng());
        for (int64_t e = 0; e < f.size(); ++e) f.store(e, x.load(e % x.size()));
        if (in.name == c.broadcast) strides[0] = 0;
        args.push_back({nullptr, kept, strides, c.offset});
        full.emplace(in.name, std::move(f));
        args.back().host = &stored.emplace(in.name, std::move(x)).first->second;
    }
    Shape out_shape = shape_of(indices[k.num_inputs]);
    Tensor got(k.params[k.num_inputs].dtype, out_shape);
    std::vector<const Tensor *> ptrs;
    for (const auto &in : p->program().inputs) ptrs.push_back(&full.at(in.name));
    Tensor want = p->reference(ptrs, c.sizes).front();

    auto bytes = test::run_standalone(cu, k.name, args, {&got, out_shape, contiguous_strides(out_shape), 0}, sizes,
                                      dtype_size(c.dtype));
    if (!bytes) {
        MESSAGE("skipped: no nvcc");
        return variant;
    }
    std::memcpy(got.data(), bytes->data(), bytes->size());
    CHECK(ir::max_relative_error(got, want) <= gemm_tolerance(c, p->reduction_length(c.sizes)));
    return variant;
}

ir::Extents bmm(int64_t b, int64_t i, int64_t j, int64_t k) { return {{"b", b}, {"i", i}, {"j", j}, {"k", k}}; }

} // namespace

TEST_CASE("gpu gemm: every element type, on CUDA cores and tensor cores") {
    test::require_gpu();
    for (DType t : {DType::F32, DType::F64, DType::F16, DType::BF16, DType::I32, DType::I64})
        for (const auto &sizes : {bmm(3, 130, 70, 200), bmm(2, 300, 257, 260)}) check_gemm("bij,bjk->bik", sizes, t);
    check_gemm("bij,bjk->bik", bmm(3, 130, 70, 200), DType::F32, true);
    check_gemm("ij,jk->ik", {{"i", 520}, {"j", 300}, {"k", 390}}, DType::F32, true);
}

TEST_CASE("gpu gemm: the rule's tile shapes (D=32, D=64 bmm; large and skinny)") {
    test::require_gpu();
    CHECK(check_gemm("bij,bjk->bik", bmm(4096, 32, 32, 32)) == "einfuse_bij_bjk_to_bik_gemm_m32");
    CHECK(check_gemm("bij,bjk->bik", bmm(1024, 64, 64, 64)) == "einfuse_bij_bjk_to_bik_gemm_m64");
    CHECK(check_gemm("ij,jk->ik", {{"i", 2048}, {"j", 256}, {"k", 1536}}) == "einfuse_ij_jk_to_ik_gemm");
    CHECK(check_gemm("ij,jk->ik", {{"i", 64}, {"j", 1000}, {"k", 3000}}) == "einfuse_ij_jk_to_ik_gemm_m64");
    for (DType t : {DType::F16, DType::BF16, DType::F64, DType::I64}) {
        check_gemm("bij,bjk->bik", bmm(300, 32, 32, 32), t);
        check_gemm("bij,bjk->bik", bmm(300, 64, 64, 64), t);
        check_gemm("ij,jk->ik", {{"i", 1024}, {"j", 512}, {"k", 1024}}, t);
    }
}

TEST_CASE("gpu gemm: transposed operands, broadcast, grouped K and folded batch") {
    test::require_gpu();
    for (DType t : {DType::F32, DType::F16}) {
        check_gemm("bji,bjk->bik", bmm(5, 100, 64, 96), t);  // A with M contiguous
        check_gemm("bij,bkj->bik", bmm(5, 100, 64, 96), t);  // B with K contiguous
        check_gemm("bji,bkj->bik", bmm(5, 33, 65, 47), t);   // both, odd sizes
        check_gemm("bij,jk->bik", bmm(7, 50, 64, 80), t);    // B broadcast: M = {b, i}
        check_gemm("ijk,ikl->jl", {{"i", 3}, {"j", 70}, {"k", 40}, {"l", 90}}, t); // K = {i, k}
        check_gemm("bij,bjk->bik", bmm(6, 40, 48, 56), t, false, "in1");            // stride-0 batch of B
    }
    check_gemm("bij,bjk->bik", bmm(6, 40, 48, 56), DType::F32, false, "in0");
}

TEST_CASE("gpu gemm: edge sizes and misaligned data (element-by-element loads)") {
    test::require_gpu();
    const int64_t edges[] = {1, 7, 33, 130};
    for (DType t : {DType::F32, DType::F16, DType::F64})
        for (int64_t m : edges)
            for (int64_t n : edges) check_gemm("ij,jk->ik", {{"i", m}, {"j", 16 + 3 * n}, {"k", n}}, t);
    for (DType t : {DType::F32, DType::BF16, DType::I32}) {
        check_gemm("bij,bjk->bik", bmm(9, 64, 64, 64), t, false, "", 1);
        check_gemm("ij,jk->ik", {{"i", 200}, {"j", 160}, {"k", 136}}, t, false, "", 3);
    }
    check_gemm("bij,bjk->bik", bmm(2, 17, 1, 19)); // K = 1: one partial chunk
}

TEST_CASE("gpu gemm: fused epilogues (bias and relu, gelu, +=, f16 stores)") {
    test::require_gpu();
    const ir::Extents sizes{{"i", 150}, {"j", 96}, {"k", 200}};
    for (DType t : {DType::F32, DType::F16, DType::BF16, DType::F64}) {
        check_gemm("D[i,k] = relu(sum[j](A[i,j] * B[j,k]) + bias[k])", sizes, t);
        check_gemm("D[i,k] = gelu(sum[j](A[i,j] * B[j,k]))", sizes, t);
        check_gemm("C[i,k] = 2 * E[i,k]; C[i,k] += A[i,j] * B[j,k]", sizes, t);
    }
    check_gemm("D[i,k] = relu(sum[j](A[i,j] * B[j,k]) + bias[k])", sizes, DType::F32, true);
    check_gemm("D[b,i,k] = sigmoid(sum[j](A[b,i,j] * B[b,j,k])) * s[b]", bmm(4096, 32, 32, 32));
}
