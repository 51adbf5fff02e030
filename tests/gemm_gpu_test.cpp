// The emitted tiled GEMM kernels (backends/cuda/CudaGemm.cpp), run through the standalone .cu's
// launcher (nvcc, no cuBLAS) against the float64 reference: every element type and tf32, every
// tile shape the rule picks, transposed, batched, broadcast and grouped operands, edge sizes,
// misaligned data (the element-by-element loads) and fused epilogues.
#include "GemmCheck.h"
#include "GpuSkip.h"

using namespace einfuse;
using test::bmm;

TEST_CASE("gpu gemm: every element type, on CUDA cores and tensor cores") {
    test::require_gpu();
    test::GemmChecks check_gemm(test::Runner::Nvcc); // builds in parallel, checks at the end
    for (DType t : {DType::F32, DType::F64, DType::F16, DType::BF16, DType::I32, DType::I64})
        for (const auto &sizes : {bmm(3, 130, 70, 200), bmm(2, 300, 257, 260)})
            check_gemm("bij,bjk->bik", sizes, t);
    check_gemm("bij,bjk->bik", bmm(3, 130, 70, 200), DType::F32, true);
    check_gemm("ij,jk->ik", {{"i", 520}, {"j", 300}, {"k", 390}}, DType::F32, true);
}

TEST_CASE("gpu gemm: the rule's tile shapes (D=32, D=64 bmm; large and skinny)") {
    test::require_gpu();
    test::GemmChecks check_gemm(test::Runner::Nvcc); // builds in parallel, checks at the end
    // Dense and aligned at the planned sizes: the small variant; misaligned: the rule's tiles.
    CHECK(check_gemm("bij,bjk->bik", bmm(4096, 32, 32, 32)) == "einfuse_bij_bjk_to_bik_gemm_small");
    CHECK(check_gemm("bij,bjk->bik", bmm(1024, 64, 64, 64)) == "einfuse_bij_bjk_to_bik_gemm_small");
    CHECK(check_gemm("bij,bjk->bik", bmm(4096, 32, 32, 32), DType::F32, false, "", 1) ==
          "einfuse_bij_bjk_to_bik_gemm_m32");
    CHECK(check_gemm("bij,bjk->bik", bmm(1024, 64, 64, 64), DType::F32, false, "", 1) ==
          "einfuse_bij_bjk_to_bik_gemm_m64");
    CHECK(check_gemm("ij,jk->ik", {{"i", 2048}, {"j", 256}, {"k", 1536}}) == "einfuse_ij_jk_to_ik_gemm");
    CHECK(check_gemm("ij,jk->ik", {{"i", 64}, {"j", 1000}, {"k", 3000}}) == "einfuse_ij_jk_to_ik_gemm_m64");
    // The same shapes in other types, one type a shape (each nvcc build takes seconds; every type
    // meets every shape class in "every element type" above).
    check_gemm("bij,bjk->bik", bmm(300, 32, 32, 32), DType::F16);
    check_gemm("bij,bjk->bik", bmm(300, 32, 32, 32), DType::I64);
    check_gemm("bij,bjk->bik", bmm(300, 64, 64, 64), DType::BF16);
    check_gemm("bij,bjk->bik", bmm(300, 64, 64, 64), DType::F64);
    check_gemm("ij,jk->ik", {{"i", 1024}, {"j", 512}, {"k", 1024}}, DType::F16);
    check_gemm("ij,jk->ik", {{"i", 1024}, {"j", 512}, {"k", 1024}}, DType::F64);
}

TEST_CASE("gpu gemm: transposed operands, broadcast, grouped K and folded batch") {
    test::require_gpu();
    test::GemmChecks check_gemm(test::Runner::Nvcc); // builds in parallel, checks at the end
    for (DType t : {DType::F32, DType::F16}) {
        check_gemm("bji,bjk->bik", bmm(5, 100, 64, 96), t);                        // A with M contiguous
        check_gemm("bij,bkj->bik", bmm(5, 100, 64, 96), t);                        // B with K contiguous
        check_gemm("bji,bkj->bik", bmm(5, 33, 65, 47), t);                         // both, odd sizes
        check_gemm("bij,jk->bik", bmm(7, 50, 64, 80), t);                          // B broadcast: M = {b, i}
        check_gemm("ijk,ikl->jl", {{"i", 3}, {"j", 70}, {"k", 40}, {"l", 90}}, t); // K = {i, k}
        check_gemm("bij,bjk->bik", bmm(6, 40, 48, 56), t, false, "in1");           // stride-0 batch of B
    }
    check_gemm("bij,bjk->bik", bmm(6, 40, 48, 56), DType::F32, false, "in0");
}

TEST_CASE("gpu gemm: edge sizes and misaligned data (element-by-element loads)") {
    test::require_gpu();
    test::GemmChecks check_gemm(test::Runner::Nvcc); // builds in parallel, checks at the end
    // M, N among 1, 7, 33, 130 (each nvcc build takes seconds: pairs, not the whole square).
    const int64_t edges[][2] = {{1, 130}, {7, 33}, {33, 7}, {130, 1}, {130, 130}, {33, 33}};
    for (DType t : {DType::F32, DType::F16, DType::F64})
        for (const auto &e : edges) check_gemm("ij,jk->ik", {{"i", e[0]}, {"j", 16 + 3 * e[1]}, {"k", e[1]}}, t);
    for (DType t : {DType::F32, DType::BF16, DType::I32}) {
        check_gemm("bij,bjk->bik", bmm(9, 64, 64, 64), t, false, "", 1);
        check_gemm("ij,jk->ik", {{"i", 200}, {"j", 160}, {"k", 136}}, t, false, "", 3);
    }
    check_gemm("bij,bjk->bik", bmm(2, 17, 1, 19)); // K = 1: one partial chunk
}

TEST_CASE("gpu gemm: fused epilogues (bias and relu, gelu, +=, f16 stores)") {
    test::require_gpu();
    test::GemmChecks check_gemm(test::Runner::Nvcc); // builds in parallel, checks at the end
    const ir::Extents sizes{{"i", 150}, {"j", 96}, {"k", 200}};
    for (DType t : {DType::F32, DType::F16, DType::BF16, DType::F64}) {
        check_gemm("D[i,k] = relu(sum[j](A[i,j] * B[j,k]) + bias[k])", sizes, t);
        check_gemm("D[i,k] = gelu(sum[j](A[i,j] * B[j,k]))", sizes, t);
        check_gemm("C[i,k] = 2 * E[i,k]; C[i,k] += A[i,j] * B[j,k]", sizes, t);
    }
    check_gemm("D[i,k] = relu(sum[j](A[i,j] * B[j,k]) + bias[k])", sizes, DType::F32, true);
    check_gemm("D[b,i,k] = sigmoid(sum[j](A[b,i,j] * B[b,j,k])) * s[b]", bmm(4096, 32, 32, 32));
}

TEST_CASE("gpu gemm: the small dense variant (planned sizes, cp.async stages, many groups per block)") {
    test::require_gpu();
    test::GemmChecks check_gemm(test::Runner::Nvcc); // builds in parallel, checks at the end
    // Batches that are not a multiple of the batch elements per block, and large enough that
    // every block of the one-wave grid (132 SMs x blocks per SM) walks several groups through both
    // shared-memory stages. Sizes are kept to what the float64 reference checks in seconds: at
    // B=65,537 and 16,383 this case took over 250 s on the GPU machine, nearly all of it the
    // reference (bench/gemm_gpu_bench.py checks the full sizes against torch.bmm).
    for (DType t : {DType::F32, DType::F64}) {
        CHECK(check_gemm("bij,bjk->bik", bmm(8193, 32, 32, 32), t) == "einfuse_bij_bjk_to_bik_gemm_small");
        CHECK(check_gemm("bij,bjk->bik", bmm(2049, 64, 64, 64), t) == "einfuse_bij_bjk_to_bik_gemm_small");
        CHECK(check_gemm("bij,bjk->bik", bmm(1001, 48, 48, 48), t) == "einfuse_bij_bjk_to_bik_gemm_small");
        CHECK(check_gemm("D[b,i,k] = relu(sum[j](A[b,i,j] * B[b,j,k]) + bias[k])", bmm(4999, 32, 32, 32), t) ==
              "einfuse_D_gemm_small");
        CHECK(check_gemm("D[b,i,k] = relu(sum[j](A[b,i,j] * B[b,j,k]) + bias[k])", bmm(1201, 64, 64, 64), t) ==
              "einfuse_D_gemm_small");
        // Misaligned or stride-0 operands: the generic kernels.
        CHECK(check_gemm("bij,bjk->bik", bmm(777, 32, 32, 32), t, false, "", 1) == "einfuse_bij_bjk_to_bik_gemm_m32");
        CHECK(check_gemm("bij,bjk->bik", bmm(777, 64, 64, 64), t, false, "in0") != "einfuse_bij_bjk_to_bik_gemm_small");
    }
}
