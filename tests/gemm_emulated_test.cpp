// The emitted tiled GEMM kernels run on the CPU (tests/CudaHostEmulation.h: a thread per CUDA
// thread, mma.sync from the documented fragment layouts), through the standalone launcher,
// against the float64 reference: the cases of gemm_gpu_test.cpp at sizes a CPU runs in seconds,
// so that indexing, tiling, edges, the launcher's rule and epilogues are checked without a GPU.
#include "GemmCheck.h"

using namespace einfuse;
using test::bmm;

TEST_CASE("emulated gemm: every element type and tile shape") {
    test::GemmChecks check_gemm(test::Runner::HostEmulation); // builds in parallel, checks at the end
    for (DType t : {DType::F32, DType::F64, DType::F16, DType::BF16, DType::I32, DType::I64}) {
        CAPTURE(dtype_name(t));
        check_gemm("bij,bjk->bik", bmm(2, 70, 40, 50), t);   // _gemm_m64 (f64, i64: _gemm)
        check_gemm("bij,bjk->bik", bmm(3, 20, 32, 30), t);   // _gemm_m32 (tensor cores: _gemm_m64)
        check_gemm("bij,bjk->bik", bmm(132, 65, 20, 65), t); // _gemm: 132 tiles of 128x128
    }
    // bool and the other integers: their tile loads (einfuse_gemm_bits) and wrapping sums.
    for (DType t : {DType::Bool, DType::I8, DType::U16, DType::U32, DType::U64}) {
        CAPTURE(dtype_name(t));
        check_gemm("bij,bjk->bik", bmm(2, 70, 40, 50), t);
        check_gemm("bij,bjk->bik", bmm(3, 20, 32, 30), t);
    }
    // Many chunks of K through the double-buffered tiles (an odd number: both buffers in turn).
    for (DType t : {DType::F32, DType::F16, DType::F64})
        CHECK(check_gemm("bij,bjk->bik", bmm(132, 65, 70, 65), t) == "einfuse_bij_bjk_to_bik_gemm");
    CHECK(check_gemm("bij,bjk->bik", bmm(132, 65, 20, 65), DType::F32, true) == "einfuse_bij_bjk_to_bik_gemm");
    CHECK(check_gemm("bij,bjk->bik", bmm(3, 40, 48, 56), DType::F32, true) == "einfuse_bij_bjk_to_bik_gemm_m64");
}

TEST_CASE("emulated gemm: transposed, broadcast, grouped, misaligned, edges") {
    test::GemmChecks check_gemm(test::Runner::HostEmulation); // builds in parallel, checks at the end
    for (DType t : {DType::F32, DType::F16}) {
        CAPTURE(dtype_name(t));
        check_gemm("bji,bjk->bik", bmm(2, 36, 64, 40), t);
        check_gemm("bij,bkj->bik", bmm(2, 36, 64, 40), t);
        check_gemm("bji,bkj->bik", bmm(2, 33, 65, 47), t);
        check_gemm("bij,jk->bik", bmm(3, 20, 32, 24), t);
        check_gemm("ijk,ikl->jl", {{"i", 3}, {"j", 30}, {"k", 20}, {"l", 40}}, t);
        check_gemm("bij,bjk->bik", bmm(3, 40, 48, 56), t, false, "in1");
        check_gemm("bij,bjk->bik", bmm(2, 64, 64, 64), t, false, "", 1);
        check_gemm("ij,jk->ik", {{"i", 7}, {"j", 33}, {"k", 1}}, t);
        check_gemm("ij,jk->ik", {{"i", 1}, {"j", 19}, {"k", 130}}, t);
    }
    check_gemm("bij,bjk->bik", bmm(3, 40, 48, 56), DType::F64, false, "in0");
    check_gemm("bij,bjk->bik", bmm(2, 17, 1, 19));
}

TEST_CASE("emulated gemm: fused epilogues") {
    test::GemmChecks check_gemm(test::Runner::HostEmulation); // builds in parallel, checks at the end
    const ir::Extents sizes{{"i", 50}, {"j", 40}, {"k", 70}};
    for (DType t : {DType::F32, DType::BF16, DType::F64}) {
        CAPTURE(dtype_name(t));
        check_gemm("D[i,k] = relu(sum[j](A[i,j] * B[j,k]) + bias[k])", sizes, t);
        check_gemm("D[i,k] = gelu(sum[j](A[i,j] * B[j,k]))", sizes, t);
        check_gemm("C[i,k] = 2 * E[i,k]; C[i,k] += A[i,j] * B[j,k]", sizes, t);
    }
    check_gemm("D[i,k] = relu(sum[j](A[i,j] * B[j,k]) + bias[k])", sizes, DType::F32, true);
    check_gemm("D[b,i,k] = sigmoid(sum[j](A[b,i,j] * B[b,j,k])) * s[b]", bmm(5, 32, 32, 32));
}

TEST_CASE("emulated gemm: the small dense variant (planned sizes, dense, aligned)") {
    test::GemmChecks check_gemm(test::Runner::HostEmulation); // builds in parallel, checks at the end
    // D=32: 4 batch elements per block; 4 blocks stride over the groups, so a batch of 37 is
    // 10 groups (the last one partial) and several groups per block through both stages.
    for (DType t : {DType::F32, DType::F64}) {
        CAPTURE(dtype_name(t));
        CHECK(check_gemm("bij,bjk->bik", bmm(37, 32, 32, 32), t) == "einfuse_bij_bjk_to_bik_gemm_small");
        CHECK(check_gemm("bij,bjk->bik", bmm(9, 64, 64, 64), t) == "einfuse_bij_bjk_to_bik_gemm_small");
        CHECK(check_gemm("bij,bjk->bik", bmm(7, 48, 48, 48), t) == "einfuse_bij_bjk_to_bik_gemm_small");
        CHECK(check_gemm("bij,bjk->bik", bmm(11, 32, 40, 48), t) == "einfuse_bij_bjk_to_bik_gemm_small");
        CHECK(check_gemm("bij,bjk->bik", bmm(11, 24, 24, 24), t) != "einfuse_bij_bjk_to_bik_gemm_small"); // 36 threads
        // Misaligned, broadcast (stride 0) and transposed operands fall back to the generic kernels.
        CHECK(check_gemm("bij,bjk->bik", bmm(5, 32, 32, 32), t, false, "", 1) == "einfuse_bij_bjk_to_bik_gemm_m32");
        CHECK(check_gemm("bij,bjk->bik", bmm(5, 32, 32, 32), t, false, "in1") == "einfuse_bij_bjk_to_bik_gemm_m32");
        CHECK(check_gemm("bji,bjk->bik", bmm(5, 32, 32, 32), t) == "einfuse_bji_bjk_to_bik_gemm_m32");
        // The fused epilogue, bias and relu, through the constant output strides.
        CHECK(check_gemm("D[b,i,k] = relu(sum[j](A[b,i,j] * B[b,j,k]) + bias[k])", bmm(13, 32, 32, 32), t) ==
              "einfuse_D_gemm_small");
        CHECK(check_gemm("D[b,i,k] = relu(sum[j](A[b,i,j] * B[b,j,k]) + bias[k])", bmm(3, 64, 64, 64), t) ==
              "einfuse_D_gemm_small");
    }
    // Too large for it (K > 64): the generic kernels.
    CHECK(check_gemm("bij,bjk->bik", bmm(2, 64, 96, 64)) == "einfuse_bij_bjk_to_bik_gemm_m64");
}
