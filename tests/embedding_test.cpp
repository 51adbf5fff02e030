// The embedding metadata (issue 17 item 2): every kernel and variant with its guard, launch
// configuration, workspace and order, as cuda_source() and embedded_json() give them; the rules'
// JSON trees evaluate to the values einfuse computes. No GPU: embedding_gpu_test.cpp launches.
#include <einfuse/einfuse.hpp>

#include "RuleTree.h"

#include <doctest/doctest.h>

using namespace einfuse;

namespace {

const char *const kGauss = "out[i] = sum[j](exp(-sum[d]((x[i,d] - y[j,d])^2)) * w[j])";

Signature f32x2() { return Signature::einsum({ScalarType::F32, ScalarType::F32}); }

/** Every rule of e's variants evaluates, from its tree and the sizes alone, to its value. */
void check_trees(const EmbeddedSource &e) {
    test::RuleFacts f;
    f.sizes = e.sizes;
    auto check = [&](const EmbeddedRule &r) {
        CAPTURE(r.text);
        if (r.value) CHECK(test::eval_tree(r.tree, f) == *r.value);
    };
    for (const auto &k : e.kernels)
        for (const auto &v : k.variants) {
            for (const EmbeddedRule *r : {&v.guard, &v.grid, &v.block, &v.splits, &v.workspace_bytes}) check(*r);
            if (v.combine) {
                check(v.combine->grid);
                check(v.combine->block);
                for (const auto &r : v.combine->part_args) check(r);
            }
        }
}

} // namespace

TEST_CASE("embedding: the Gaussian sum at 100k lists its tiled and combine kernels, their grids and the workspace") {
    EmbeddedSource e = cuda_source(kGauss, Signature::program(), {{"i", 100000}, {"j", 100000}, {"d", 3}});
    REQUIRE(e.kernels.size() == 1);
    const EmbeddedKernel &k = e.kernels[0];
    REQUIRE(k.variants.size() == 2);
    const EmbeddedVariant &tiled = k.variants[0], &plain = k.variants[1];
    CHECK(tiled.kind == "tiled");
    CHECK(tiled.kernel == "einfuse_out_tiled");
    CHECK(tiled.guard.value == 1);
    // 1024 points per block (256 threads of 4); 4096 blocks wanted: 41 parts of j.
    CHECK(tiled.grid.text == "min(ceil_div(size(i), 1024), 524280)");
    CHECK(tiled.grid.value == 98);
    CHECK(tiled.block.value == 256);
    CHECK(tiled.splits.value == 41);
    CHECK(tiled.arguments.back() == "parts");
    CHECK(tiled.arguments.front() == "data(x)");
    REQUIRE(tiled.combine.has_value());
    CHECK(tiled.combine->kernel == "einfuse_out_combine");
    CHECK(tiled.combine->grid.value == 391);
    CHECK(tiled.combine->block.value == 256);
    CHECK(tiled.combine->partial == ScalarType::F64); // a compensated sum's parts (passes/GpuTiling)
    CHECK(tiled.combine->arguments.back() == "splits");
    REQUIRE(tiled.combine->part_args.size() == 2);
    CHECK(tiled.combine->part_args[0].value == 100000); // the parts: [split, i], i fastest
    CHECK(tiled.combine->part_args[1].value == 1);
    CHECK(tiled.workspace_bytes.value == 41 * 100000 * 8);
    CHECK(plain.kind == "plain");
    CHECK(plain.kernel == "einfuse_out");
    CHECK(plain.grid.value == 391);
    CHECK(!plain.combine);
    CHECK(k.dense_choice == 0);
    CHECK(e.entry == "einfuse_out");
    CHECK(e.workspace_bytes == 41 * 100000 * 8);
    CHECK(e.parts_offset == 0);
    CHECK(e.workspace.empty());
    REQUIRE(e.output_shapes.size() == 1);
    CHECK(e.output_shapes[0] == std::vector<std::int64_t>{100000});
    CHECK(e.outputs.at(0).dtype == ScalarType::F32);
    CHECK(e.source.find("einfuse_out_launch_with_workspace") != std::string::npos);
    CHECK(e.header.find("int einfuse_out_workspace_bytes(") != std::string::npos);
    check_trees(e);

    nlohmann::json j = nlohmann::json::parse(embedded_json(e));
    const auto &v = j["kernels"][0]["variants"][0];
    CHECK(v["kind"] == "tiled");
    CHECK(v["grid"]["value"] == 98);
    CHECK(v["splits"]["value"] == 41);
    CHECK(v["combine"]["kernel"] == "einfuse_out_combine");
    CHECK(j["kernels"][0]["variants"][1]["combine"].is_null());
    CHECK(j["workspace"]["bytes"] == 41 * 100000 * 8);
    CHECK(j["outputs"][0]["shape"] == nlohmann::json::array({100000}));
    CHECK(j["entry"]["launch_with_workspace"] == "einfuse_out_launch_with_workspace");
    CHECK(j["source"] == e.source);
}

TEST_CASE("embedding: bmm lists its variants in the launcher's order; at D=2 the unrolled kernel") {
    SUBCASE("without sizes: the size-specialised kernels, the GEMM tile shapes, then the loop nest (cuBLASLt is "
            "in-process only)") {
        EmbeddedSource e = cuda_source("bij,bjk->bik", f32x2());
        REQUIRE(e.kernels.size() == 1);
        const auto &all = e.kernels[0].variants;
        // D = 2 (unrolled), 3, 4, 8, 16 (staged, unrolled), 32, 64 (small dense GEMM), the loop nest
        // where a sized plan would not take a GEMM (passes/GpuSpecialise), then the general plan's.
        REQUIRE(all.size() == 16);
        CHECK(all[0].kernel == "einfuse_bij_bjk_to_bik_at_2");
        CHECK(all[0].guard.text == "size(i) == 2 && size(j) == 2 && size(k) == 2");
        CHECK(all[1].kernel == "einfuse_bij_bjk_to_bik_at_3_staged");
        CHECK(all[9].kernel == "einfuse_bij_bjk_to_bik_at_32_gemm_small");
        CHECK(all[11].kernel == "einfuse_bij_bjk_to_bik");
        CHECK(all[11].guard.text == "size(j) < 16 || size(i) < 4 || size(k) < 4 || size(i) * size(k) < 256");
        const std::vector<EmbeddedVariant> vs(all.begin() + 12, all.end());
        CHECK(vs[0].kernel == "einfuse_bij_bjk_to_bik_gemm_m32");
        CHECK(vs[0].guard.text == "size(i) <= 32 && size(k) <= 32");
        CHECK(vs[1].kernel == "einfuse_bij_bjk_to_bik_gemm_m64");
        CHECK(vs[2].kernel == "einfuse_bij_bjk_to_bik_gemm");
        CHECK(vs[2].guard.text == "1");
        CHECK(vs[3].kind == "plain");
        CHECK(vs[3].grid.text == "min(ceil_div(size(b) * size(i) * size(k), 256), 524280)");
        for (const auto &v : all) {
            CHECK(!v.grid.value); // no sizes: no values
            CHECK(v.kind != "library");
        }
        CHECK(e.kernels[0].dense_choice == -1);
        CHECK(e.workspace_bytes == -1);
        CHECK(e.output_shapes.empty());
    }
    SUBCASE("D=2 with sizes and --name bmm2: one unrolled kernel, its grid, named after the prefix") {
        EmbeddedSource e = cuda_source("bij,bjk->bik", f32x2(), {{"b", 262144}, {"i", 2}, {"j", 2}, {"k", 2}}, "bmm2");
        REQUIRE(e.kernels.size() == 1);
        const auto &k = e.kernels[0];
        CHECK(k.name == "bmm2_out");
        CHECK(k.strategy == "unrolled");
        REQUIRE(k.variants.size() == 1);
        CHECK(k.variants[0].kernel == "bmm2_out");
        CHECK(k.variants[0].grid.value == 1024);
        CHECK(k.dense_choice == 0);
        CHECK(e.entry == "bmm2");
        CHECK(e.workspace_bytes == 0);
        CHECK(e.output_shapes.at(0) == std::vector<std::int64_t>{262144, 2, 2});
        CHECK(e.source.find("bmm2_launch_with_workspace") != std::string::npos);
        CHECK(e.source.find("einfuse_bij") == std::string::npos);
        check_trees(e);
    }
    SUBCASE("D=4: the staged variant first, its guard on the tensors' layout") {
        EmbeddedSource e = cuda_source("bij,bjk->bik", f32x2(), {{"b", 4096}, {"i", 4}, {"j", 4}, {"k", 4}});
        const auto &vs = e.kernels.at(0).variants;
        REQUIRE(vs.size() == 2);
        CHECK(vs[0].kind == "staged");
        CHECK(vs[0].guard.text.find("dense(in0)") != std::string::npos);
        CHECK(!vs[0].guard.value); // the sizes alone do not decide it
        CHECK(vs[0].grid.value.has_value());
        CHECK(e.kernels[0].dense_choice == 0);
        test::RuleFacts f;
        f.sizes = e.sizes;
        f.strides = {{"in0", {16, 4, 1}}, {"in1", {16, 4, 1}}, {"out", {16, 4, 1}}};
        CHECK(test::eval_tree(vs[0].guard.tree, f) == 1);
        f.strides["in1"] = {16, 1, 4}; // a transposed operand: the plain kernel
        CHECK(test::eval_tree(vs[0].guard.tree, f) == 0);
        check_trees(e);
    }
}

TEST_CASE("embedding: a program's kernels in order, its temporary in the workspace") {
    EmbeddedSource e = cuda_source("n[i] = sqrt(sum[d](x[i,d]^2)); s[i,j] = sum[d](x[i,d]*x[j,d]) / (n[i]*n[j])",
                                   Signature::program(), {{"i", 100}, {"j", 100}, {"d", 5}}, "cosine");
    REQUIRE(e.kernels.size() == 2);
    CHECK(e.kernels[0].name == "cosine_n");
    CHECK(e.kernels[1].name == "cosine_s");
    CHECK(e.kernels[1].params[1].role == ParamRole::Temporary);
    REQUIRE(e.workspace.size() == 1);
    CHECK(e.workspace[0].name == "n");
    CHECK(e.workspace[0].offset == 0);
    CHECK(e.workspace[0].bytes.value == 512); // 100 floats in 256-byte slots
    CHECK(e.workspace_bytes == 512);
    CHECK(e.output_shapes.at(0) == std::vector<std::int64_t>{100, 100});
    check_trees(e);
}

TEST_CASE("embedding: a bad --name is an input error") {
    CHECK_THROWS_AS(cuda_source("ij->i", f32x2(), {}, "9lives"), Error);
    CHECK_THROWS_AS(cuda_source("ij->i", Signature::einsum({ScalarType::F32}), {}, "has space"), Error);
}

TEST_CASE("embedding: some sizes only (issue 17): pinned, planned for, the rules without values") {
    EmbeddedSource e = cuda_source(kGauss, Signature::program(), {{"d", 3}});
    REQUIRE(e.kernels.size() == 1);
    CHECK(e.sizes == Sizes{{"d", 3}});
    CHECK(e.kernels[0].variants.at(0).kind == "tiled"); // planned for d = 3
    CHECK(!e.kernels[0].variants[0].grid.value);        // i and j are free
    CHECK(e.workspace_bytes == -1);
    CHECK(e.output_shapes.empty());
    CHECK(e.source.find("sizes[2] != 3) err = EINFUSE_ERR_SIZE;") != std::string::npos);
}

TEST_CASE("embedding: unsized, each specialised tiled variant has its own parts' rule (issue 17)") {
    EmbeddedSource e = cuda_source(kGauss, Signature::program());
    const auto &vs = e.kernels.at(0).variants;
    REQUIRE(vs.size() >= 2);
    CHECK(vs[0].kernel == "einfuse_out_at_2_tiled");
    REQUIRE(vs[0].combine.has_value());
    CHECK(vs[0].combine->kernel == "einfuse_out_at_2_combine");
    CHECK(vs[1].kernel == "einfuse_out_at_3_tiled");
    // Its parts' rule is the workspace layout's entry for that variant (splits x the points of i).
    CHECK(vs[0].workspace_bytes.text != "0");
    CHECK(vs[0].workspace_bytes.text.find("size(i)") != std::string::npos);
    CHECK(vs.back().kind == "plain");
    CHECK(vs.back().workspace_bytes.text == "0");
}
