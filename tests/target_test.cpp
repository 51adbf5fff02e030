// The target description (ir/Target.h): facts about the device are data the passes read.
#include "EinsumIr.h"
#include "frontend/Einsum.h"
#include "ir/LaunchVariant.h"
#include "passes/Pipeline.h"

#include <doctest/doctest.h>

using namespace einfuse;

namespace {

using einfuse::test::einsum_ir;

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
    CHECK(ir::Target::gpu(75).has_tensor_cores(DType::F16)); // the tiles' code falls back below sm_80
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
    ir::Target no_tensor_cores = ir::Target::gpu(90);
    no_tensor_cores.tensor_core_types.clear();
    passes::Plan f16_simt = passes::lower(einsum_ir("bij,bjk->bik", DType::F16), {}, gpu(no_tensor_cores));
    CHECK(f16.kernels.at(0).gemm->mma == DType::F16);
    CHECK_FALSE(f16_simt.kernels.at(0).gemm->mma.has_value());
}

TEST_CASE("lowering options: --gemm decides who runs a GEMM, and the plan says it") {
    auto plan = [](ir::Target target, passes::GemmRunner runner) {
        passes::LowerOptions o;
        o.target = target;
        o.gemm = runner;
        return passes::lower(einsum_ir("ij,jk->ik"), {}, o).kernels.at(0);
    };
    auto kinds = [](const ir::Kernel &k) {
        std::string out;
        for (const auto &v : k.launch) out += std::string(ir::variant_kind_name(v.kind)) + " ";
        return out;
    };
    const ir::Target gpu90 = ir::Target::gpu(90);
    ir::Kernel automatic = plan(gpu90, passes::GemmRunner::Auto);
    ir::Kernel library = plan(gpu90, passes::GemmRunner::Library);
    ir::Kernel emitted = plan(gpu90, passes::GemmRunner::Emitted);
    ir::Kernel loops = plan(gpu90, passes::GemmRunner::LoopNest);
    // Unsized: the loop nest first where the sizes are too small to tile (passes/GpuSpecialise).
    CHECK(kinds(automatic).rfind("plain library gemm-tiled", 0) == 0);
    CHECK(library.gemm->library_first);
    CHECK(kinds(library).rfind("library ", 0) == 0);
    CHECK(kinds(emitted).find("library") == std::string::npos);
    CHECK(emitted.strategy_detail.find("not cuBLASLt: --gemm emitted") != std::string::npos);
    CHECK_FALSE(loops.gemm.has_value());
    CHECK(kinds(loops) == "plain ");
    CHECK(loops.strategy_detail.find("--gemm loops: the loop nest runs it") != std::string::npos);

    // The host: the packed GEMM for the target's vector width, or the loop nest and why.
    ir::Kernel avx2 = plan(ir::Target::host(256), passes::GemmRunner::Auto);
    CHECK(avx2.gemm->host_packed);
    CHECK(avx2.strategy_detail.find("micro-kernel 6x16 in 256-bit vectors") != std::string::npos);
    ir::Kernel scalar = plan(ir::Target::host(0), passes::GemmRunner::Auto);
    CHECK_FALSE(scalar.gemm->host_packed);
    CHECK(scalar.strategy_detail.find("host: the loop nest, not the packed GEMM: this CPU has no vector registers") !=
          std::string::npos);
    CHECK_FALSE(plan(ir::Target::host(512), passes::GemmRunner::LoopNest).gemm.has_value());
}
