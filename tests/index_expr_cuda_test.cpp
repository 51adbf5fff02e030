// Affine reads on the GPU path: the plan still lowers them to a plain loop nest (staging, tiling,
// GEMM and unrolling refuse with the reason), and the standalone CUDA launcher, whose shape checks
// compare each dimension with one size, refuses them with a UserError instead of emitting a
// launcher that could read out of bounds.
#include "backends/cuda/CudaPrinter.h"
#include "passes/Pipeline.h"
#include "support/Error.h"

#include <doctest/doctest.h>

#include <algorithm>

using namespace einfuse;

TEST_CASE("cuda: a kernel with an affine read is planned as a loop nest and refused by the launcher") {
    ir::Program p;
    p.inputs = {{"x", DType::F32, 1}, {"w", DType::F32, 1}};
    p.outputs = {{"out", DType::F32, 1}};
    p.index_vars = {"i", "r"};
    ir::Expr x = ir::Access::make(DType::F32, "x", {ir::Index::affine({{"i", 2}, {"r", 1}}, 0)});
    ir::Expr product = ir::Binary::make(ir::BinaryOp::Mul, x, ir::Access::make(DType::F32, "w", {"r"}));
    p.definitions.push_back({"out", {"i"}, ir::Reduce::make({"i"}, {"r"}, ir::ReduceOp::Sum, product)});

    passes::Plan plan = passes::lower(p, {{"i", 4096}, {"r", 64}}, passes::Device::Gpu);
    REQUIRE(plan.kernels.size() == 1);
    const ir::Kernel &k = plan.kernels.front();
    CHECK(k.strategy == ir::Strategy::BroadcastReduce);
    CHECK_FALSE(k.staging.has_value());
    CHECK_FALSE(k.tiling.has_value());
    CHECK(std::any_of(k.rejected.begin(), k.rejected.end(), [](const std::string &r) {
        return r.find("gemm: not a GEMM: x's index 2*i + r is not a plain variable") != std::string::npos;
    }));
    CHECK_THROWS_WITH_AS(cuda_backend::emit_cuda(plan.kernels, "test"),
                         doctest::Contains("x's index 2*i + r is not a plain variable"), UserError);
}
