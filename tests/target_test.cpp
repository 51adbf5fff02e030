// The target description (ir/Target.h): facts about the device are data the passes read.
#include "frontend/Einsum.h"
#include "ir/LaunchVariant.h"
#include "passes/Pipeline.h"

#include <doctest/doctest.h>

using namespace einfuse;

namespace {

ir::Program einsum_ir(const char *spec, DType t = DType::F32) {
    auto ast = frontend::parse_einsum(spec);
    return frontend::einsum_program(frontend::resolve_einsum(ast, frontend::label_ranks(ast)),
                                    std::vector<DType>(ast.operands.size(), t));
}

passes::LowerOptions gpu(const ir::Target &target) {
    passes::LowerOptions o;
    o.target = target;
    return o;
}

/** The first GEMM variant (cuBLASLt aside) whose guard holds at these sizes. */
std::string chosen_tile(const ir::Kernel &k, const ir::Extents &sizes) {
    ir::LaunchFacts facts;
    facts.sizes.insert(sizes.begin(), sizes.end());
    const ir::LaunchVariant *v = ir::choose_variant(
        k.launch, facts, [](const ir::LaunchVariant &v) { return v.kind == ir::VariantKind::Library; });
    return v ? v->suffix : "";
}

} // namespace

TEST_CASE("target: the table of architectures, and --arch spellings") {
    ir::Target h = ir::Target::gpu(90);
    CHECK(h.is_gpu());
    CHECK(h.sm_count == 132); // the constants einfuse had before: goldens stay as they were
    CHECK(h.shared_per_sm == 228 * 1024);
    CHECK(h.static_shared_per_block == 48 * 1024);
    CHECK(h.has_tensor_cores(DType::BF16));
    CHECK(ir::Target::gpu(80).sm_count == 108);
    CHECK(ir::Target::gpu(87).sm == 87);          // an unknown architecture: the row below it
    CHECK(ir::Target::gpu(87).sm_count == 84);
    CHECK_FALSE(ir::Target::gpu(75).has_tensor_cores(DType::F16)); // einfuse's mma.sync shapes need sm_80
    CHECK(ir::parse_arch("sm_90a") == 90);
    CHECK(ir::parse_arch("sm_120") == 120);
    CHECK(ir::parse_arch("compute") == 0);
    CHECK(ir::Target::host(256).describe() == "host, 256-bit vectors");
}

TEST_CASE("target: fewer SMs change the GEMM tile rule, less shared memory the small GEMM's blocks") {
    // 50 tiles of 128x128: fewer than 132 SMs take the 64x64 tiles, more than 40 the 128x128 ones.
    const ir::Extents big{{"b", 50}, {"i", 128}, {"j", 128}, {"k", 128}};
    ir::Target few = ir::Target::gpu(80);
    few.sm_count = 40;
    passes::Plan h100 = passes::lower(einsum_ir("bij,bjk->bik"), {}, gpu(ir::Target::gpu(90)));
    passes::Plan small_gpu = passes::lower(einsum_ir("bij,bjk->bik"), {}, gpu(few));
    CHECK(chosen_tile(h100.kernels.at(0), big) == "_gemm_m64");
    CHECK(chosen_tile(small_gpu.kernels.at(0), big) == "_gemm");

    // D=32 f32, 4 elements per block, 36 KiB of shared memory each: 228 KiB per SM holds 6 (the
    // register cap makes it 4), 100 KiB 2; one wave is SMs x blocks.
    const ir::Extents d32{{"b", 65536}, {"i", 32}, {"j", 32}, {"k", 32}};
    passes::Plan wide = passes::lower(einsum_ir("bij,bjk->bik"), d32, gpu(ir::Target::gpu(90)));
    passes::Plan narrow = passes::lower(einsum_ir("bij,bjk->bik"), d32, gpu(ir::Target::gpu(86)));
    REQUIRE(wide.kernels.at(0).gemm->small.has_value());
    REQUIRE(narrow.kernels.at(0).gemm->small.has_value());
    CHECK(wide.kernels[0].gemm->small->min_blocks == 4);
    CHECK(narrow.kernels[0].gemm->small->min_blocks == 2);
    const ir::LaunchVariant &v = narrow.kernels[0].launch.front();
    CHECK(v.kind == ir::VariantKind::GemmSmall);
    CHECK(v.grid.evaluate({{{"b", 65536}}, {}, {}, {}}) == 84 * 2);

    // Tensor cores only where the target has them.
    passes::Plan f16 = passes::lower(einsum_ir("bij,bjk->bik", DType::F16), {}, gpu(ir::Target::gpu(90)));
    passes::Plan f16_turing = passes::lower(einsum_ir("bij,bjk->bik", DType::F16), {}, gpu(ir::Target::gpu(75)));
    CHECK(f16.kernels.at(0).gemm->mma == DType::F16);
    CHECK_FALSE(f16_turing.kernels.at(0).gemm->mma.has_value());
}
