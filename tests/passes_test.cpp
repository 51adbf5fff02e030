// The pipeline: loop nests and strategy choices, table-driven.
#include "frontend/Einsum.h"
#include "frontend/Program.h"
#include "ir/Printer.h"
#include "ir/Reference.h"
#include "ir/Walk.h"
#include "passes/GemmMatch.h"
#include "passes/Pipeline.h"

#include <random>
#include <sstream>

#include <doctest/doctest.h>

using namespace einfuse;

namespace {
passes::Plan plan_of(const char *spec) {
    auto ast = frontend::parse_einsum(spec);
    return passes::lower(frontend::einsum_program(frontend::resolve_einsum(ast, frontend::label_ranks(ast)), std::vector<DType>(ast.operands.size(), DType::F32)));
}
} // namespace

TEST_CASE("lower_to_loops: the loop nest of bij,bjk->bik") {
    passes::Plan plan = plan_of("bij,bjk->bik");
    REQUIRE(plan.kernels.size() == 1);
    const ir::Kernel &k = plan.kernels[0];
    CHECK(k.name == "einfuse_bij_bjk_to_bik");
    CHECK(k.num_inputs == 2);
    CHECK(k.index_vars == std::vector<std::string>{"b", "i", "j", "k"});
    CHECK(ir::to_string(k.body) ==
          "parallel for b:\n"
          "  parallel for i:\n"
          "    parallel for k:\n"
          "      f32 acc = 0\n"
          "      for j:\n"
          "        acc = acc + (in0[b,i,j] * in1[b,j,k])\n"
          "      out[b,i,k] = acc\n");
}


TEST_CASE("choose_strategy: table of expressions and strategies") {
    const struct {
        const char *spec;
        ir::Strategy strategy;
        std::size_t rejected;
    } rows[] = {
        {"bij,bjk->bik", ir::Strategy::Gemm, 3}, // sizes unknown: a matrix product is a GEMM
        {"ij,ij->ij", ir::Strategy::Elementwise, 3},
        {"ik,kj->ij", ir::Strategy::Gemm, 3},
        {"ii->", ir::Strategy::BroadcastReduce, 3},
    };
    for (const auto &row : rows) {
        CAPTURE(row.spec);
        passes::Plan plan = plan_of(row.spec);
        CHECK(plan.kernels[0].strategy == row.strategy);
        CHECK(plan.kernels[0].rejected.size() == row.rejected);
    }
}

TEST_CASE("plan text explains every rejection") {
    std::string text = plan_of("bij,bjk->bik").explain();
    CHECK(text.find("kernel einfuse_bij_bjk_to_bik: gemm") != std::string::npos);
    CHECK(text.find("elementwise: it reduces over j") != std::string::npos);
    CHECK(text.find("broadcast-reduce: ") != std::string::npos);
    CHECK(text.find("unrolled: ") != std::string::npos);
}

namespace {
ir::Program program_of(const char *spec, DType t = DType::F64) {
    auto ast = frontend::parse_einsum(spec);
    return frontend::einsum_program(frontend::resolve_einsum(ast, frontend::label_ranks(ast)),
                                    std::vector<DType>(ast.operands.size(), t));
}
} // namespace

TEST_CASE("order_contractions: a chain becomes pairwise steps, and means the same") {
    ir::Program p = program_of("ij,jk,kl->il");
    ir::Extents sizes{{"i", 30}, {"j", 40}, {"k", 50}, {"l", 3}};
    passes::Plan plan = passes::lower(p, sizes);
    REQUIRE(plan.kernels.size() == 2);
    CHECK(plan.program.temporaries.size() == 1);
    // The cheap order contracts k and l first (in1 * in2 is 40x50x3), not in0 * in1 (30x40x50).
    CHECK(ir::to_string(plan.program.definitions[0].value) == "sum[k](in1[j,k] * in2[k,l])");
    CHECK(plan.explain().find("peak intermediate: 120 elements") != std::string::npos);

    std::mt19937_64 rng(std::random_device{}());
    std::vector<Tensor> in;
    for (Shape s : {Shape{30, 40}, Shape{40, 50}, Shape{50, 3}}) {
        in.emplace_back(DType::F64, s);
        in.back().fill_random(rng);
    }
    std::vector<const Tensor *> ptrs{&in[0], &in[1], &in[2]};
    Tensor direct = ir::evaluate_reference(p, ptrs, sizes).front();
    Tensor stepwise = ir::evaluate_reference(plan.program, ptrs, sizes).front();
    CHECK(ir::max_relative_error(stepwise, direct) < 1e-12);
}

TEST_CASE("order_contractions: table of choices") {
    const struct {
        const char *spec;
        ir::Extents sizes;
        std::size_t kernels;
    } rows[] = {
        {"ij,jk,kl->il", {{"i", 2}, {"j", 2}, {"k", 2}, {"l", 2}}, 2},           // 32 flops in steps, 48 fused
        {"ij,jk,kl->il", {{"i", 64}, {"j", 64}, {"k", 64}, {"l", 64}}, 2},
        {"ab,bc,cd,de->ae", {{"a", 32}, {"b", 32}, {"c", 32}, {"d", 32}, {"e", 32}}, 3},
        {"i,i,i->", {{"i", 1000}}, 1},                                          // no pairwise step is cheaper
        {"bij,bjk->bik", {{"b", 8}, {"i", 8}, {"j", 8}, {"k", 8}}, 1},          // two operands: untouched
        {"ai,bi,ci,di,ei,fi,gi,hi,ii,ji->abcdefghij", {{"a", 2}, {"b", 2}, {"c", 2}, {"d", 2}, {"e", 2},
          {"f", 2}, {"g", 2}, {"h", 2}, {"i", 2}, {"j", 2}}, 9},                // ten operands: greedy
    };
    for (const auto &row : rows) {
        CAPTURE(row.spec);
        passes::Plan plan = passes::lower(program_of(row.spec), row.sizes);
        CHECK(plan.kernels.size() == row.kernels);
        if (std::string(row.spec).size() > 30) CHECK(plan.explain().find("greedy") != std::string::npos);
    }
}

TEST_CASE("order_contractions: a fused last step where no all-pairwise order fits, and it means the same") {
    // opt_einsum's sizes: every pairwise order passes the largest operand's 180 elements; numpy's
    // optimize=True contracts abc*cem, then *bdef, then the last four operands in one nest.
    ir::Program p = program_of("abc,bdef,fghj,cem,mhk,ljk->adgl");
    ir::Extents sizes{{"a", 2}, {"b", 3}, {"c", 4}, {"d", 5}, {"e", 4}, {"f", 3}, {"g", 2},
                      {"h", 6}, {"j", 4}, {"k", 3}, {"l", 2}, {"m", 5}};
    passes::Plan plan = passes::lower(p, sizes);
    CAPTURE(plan.explain());
    REQUIRE(plan.kernels.size() == 3);
    CHECK(ir::flatten(plan.program.definitions.back().value.as<ir::Reduce>()->body, ir::BinaryOp::Mul).size() == 4);
    CHECK(plan.explain().find("one fused loop nest, 1.24e+07 flops") == std::string::npos);
    std::mt19937_64 rng(std::random_device{}());
    std::vector<Tensor> in;
    std::vector<const Tensor *> ptrs;
    for (Shape s : {Shape{2, 3, 4}, Shape{3, 5, 4, 3}, Shape{3, 2, 6, 4}, Shape{4, 4, 5}, Shape{5, 6, 3}, Shape{2, 4, 3}}) {
        in.emplace_back(DType::F64, s);
        in.back().fill_random(rng);
    }
    for (const auto &t : in) ptrs.push_back(&t);
    Tensor direct = ir::evaluate_reference(p, ptrs, sizes).front();
    Tensor stepwise = ir::evaluate_reference(plan.program, ptrs, sizes).front();
    CHECK(ir::max_relative_error(stepwise, direct) < 1e-12);

    // Nine operands (greedy): the pairs that fit merge, and the rest meet in one last nest.
    ir::Program nine = program_of("abc,bdef,fghj,cem,mhk,ljk,a,d,g->adgl");
    passes::Plan greedy = passes::lower(nine, sizes);
    CAPTURE(greedy.explain());
    CHECK(greedy.explain().find("greedy over 9 operands") != std::string::npos);
    CHECK(ir::flatten(greedy.program.definitions.back().value.as<ir::Reduce>()->body, ir::BinaryOp::Mul).size() >= 3);
    for (Shape s : {Shape{2}, Shape{5}, Shape{2}}) {
        in.emplace_back(DType::F64, s);
        in.back().fill_random(rng);
    }
    ptrs.clear();
    for (const auto &t : in) ptrs.push_back(&t);
    CHECK(ir::max_relative_error(ir::evaluate_reference(greedy.program, ptrs, sizes).front(),
                                 ir::evaluate_reference(nine, ptrs, sizes).front()) < 1e-12);
}

TEST_CASE("split_reductions: a long sum into few outputs becomes partial sums on the host only") {
    ir::Program p = program_of("lmn,lmno->o");
    ir::Extents sizes{{"l", 160}, {"m", 160}, {"n", 120}, {"o", 3}};
    passes::Plan host = passes::lower(p, sizes, passes::Device::Host);
    REQUIRE(host.kernels.size() == 2);
    // in1's rows of (n, o) are contiguous: the first step sums n alone, row by row.
    CHECK(host.program.definitions[0].indices == std::vector<std::string>{"l", "m", "o"});
    CHECK(ir::to_string(host.program.definitions[1].value) == "sum[l,m](s0[l,m,o])");
    // Rows shorter than kSplitMinRow: the partials run across n instead (the vector lanes).
    passes::Plan short_rows = passes::lower(p, {{"l", 160}, {"m", 160}, {"n", 16}, {"o", 3}}, passes::Device::Host);
    REQUIRE(short_rows.kernels.size() == 2);
    CHECK(short_rows.program.definitions[0].indices.back() == "n");
    // A reduced variable after n (in1[l,n,m,o]): no row of n to sum alone.
    passes::Plan strided = passes::lower(program_of("lmn,lnmo->o"), sizes, passes::Device::Host);
    REQUIRE(strided.kernels.size() == 2);
    CHECK(strided.program.definitions[0].indices == std::vector<std::string>{"l", "o", "n"});
    CHECK(passes::lower(p, sizes, passes::Device::Gpu).kernels.size() == 1); // the GPU splits across blocks
    CHECK(passes::lower(p, {{"l", 16}, {"m", 16}, {"n", 16}, {"o", 3}}).kernels.size() == 1); // short: kept
    CHECK(passes::lower(p, {}).kernels.size() == 1);                                           // sizes unknown
    ir::Extents small{{"l", 40}, {"m", 40}, {"n", 48}, {"o", 3}};
    passes::Plan split = passes::lower(p, small, passes::Device::Host);
    REQUIRE(split.kernels.size() == 2);
    std::mt19937_64 rng(std::random_device{}());
    std::vector<Tensor> in;
    for (Shape s : {Shape{40, 40, 48}, Shape{40, 40, 48, 3}}) {
        in.emplace_back(DType::F64, s);
        in.back().fill_random(rng);
    }
    std::vector<const Tensor *> ptrs{&in[0], &in[1]};
    CHECK(ir::max_relative_error(ir::evaluate_reference(split.program, ptrs, small).front(),
                                 ir::evaluate_reference(p, ptrs, small).front()) < 1e-12);
}

TEST_CASE("split_reductions: operands contiguous along the sum keep the outer variables as partials") {
    // Every read the innermost reduced variable moves is contiguous along it: the first step
    // streams whole rows with the lanes along the sum; the partials are the threads' work.
    ir::Program dot = program_of("lmn,lmn->");
    passes::Plan host = passes::lower(dot, {{"l", 160}, {"m", 160}, {"n", 120}}, passes::Device::Host);
    REQUIRE(host.kernels.size() == 2);
    CHECK(host.program.definitions[0].indices == std::vector<std::string>{"l"});
    CHECK(ir::to_string(host.program.definitions[1].value) == "sum[l](s0[l])");
    CHECK(host.kernels[0].host_vectors->reduction_lanes.has_value()); // lanes along the sum over n
    // Fewer than kSplitPartialsForThreads values of l: m joins the partials.
    ir::Extents small{{"l", 40}, {"m", 40}, {"n", 48}};
    passes::Plan split = passes::lower(dot, small, passes::Device::Host);
    REQUIRE(split.kernels.size() == 2);
    CHECK(split.program.definitions[0].indices == std::vector<std::string>{"l", "m"});
    std::mt19937_64 rng(std::random_device{}());
    std::vector<Tensor> in;
    for (int i = 0; i < 2; ++i) {
        in.emplace_back(DType::F64, Shape{40, 40, 48});
        in.back().fill_random(rng);
    }
    std::vector<const Tensor *> ptrs{&in[0], &in[1]};
    CHECK(ir::max_relative_error(ir::evaluate_reference(split.program, ptrs, small).front(),
                                 ir::evaluate_reference(dot, ptrs, small).front()) < 1e-12);
}

TEST_CASE("choose_strategy: unrolled when the sizes are known and small, with the reason otherwise") {
    const struct {
        const char *spec;
        ir::Extents sizes;
        ir::Strategy strategy;
        const char *reason; // in the unrolled rejection, when not chosen
    } rows[] = {
        {"bij,bjk->bik", {{"b", 1000}, {"i", 2}, {"j", 2}, {"k", 2}}, ir::Strategy::Unrolled, ""},
        {"bij,bjk->bik", {{"b", 1000}, {"i", 8}, {"j", 8}, {"k", 8}}, ir::Strategy::Unrolled, ""},
        // On the host, D=16 loops over i and unrolls k and j; on the GPU a thread per output element.
        {"bij,bjk->bik", {{"b", 1000}, {"i", 16}, {"j", 16}, {"k", 16}}, ir::Strategy::Unrolled, ""},
        {"bij,bjk->bik", {{"b", 1000}, {"i", 16}, {"j", 32}, {"k", 16}}, ir::Strategy::Gemm,
         "index 'j' has extent 32, above the unrolling limit 16"},
        {"bij,bjk->bik", {}, ir::Strategy::Gemm, "not known when planning"},
        {"bij,bjk->bik", {{"b", 3}, {"i", 17}, {"j", 300}, {"k", 5}}, ir::Strategy::BroadcastReduce,
         "index 'i' has extent 17, above the unrolling limit 16"},
        {"ij,jk->ik", {{"i", 4}, {"j", 4}, {"k", 4}}, ir::Strategy::BroadcastReduce, "no batch index"},
        {"nc,nc->n", {{"n", 100000}, {"c", 8}}, ir::Strategy::Unrolled, ""},
    };
    for (const auto &row : rows) {
        CAPTURE(row.spec);
        CAPTURE(row.sizes.size());
        passes::Plan plan = passes::lower(program_of(row.spec, DType::F32), row.sizes);
        REQUIRE(plan.kernels.size() == 1);
        CHECK(plan.kernels[0].strategy == row.strategy);
        if (row.strategy != ir::Strategy::Unrolled) CHECK(plan.explain().find(row.reason) != std::string::npos);
    }
    ir::Extents d16{{"b", 1000}, {"i", 16}, {"j", 16}, {"k", 16}};
    passes::Plan gpu16 = passes::lower(program_of("bij,bjk->bik", DType::F32), d16, passes::Device::Gpu);
    CHECK(gpu16.kernels[0].strategy == ir::Strategy::Unrolled);
    CHECK(gpu16.explain().find("a thread per output element") != std::string::npos);
    passes::Plan host16 = passes::lower(program_of("bij,bjk->bik", DType::F32), d16, passes::Device::Host);
    CHECK(host16.explain().find("256 multiply-adds unrolled per iteration of the loop over i") != std::string::npos);
    CHECK(ir::to_string(host16.kernels[0].body).find("parallel for i:\n    unrolled for k in 16:") != std::string::npos);
    passes::Plan d2 = passes::lower(program_of("bij,bjk->bik", DType::F32), {{"b", 8}, {"i", 2}, {"j", 2}, {"k", 2}});
    CHECK(ir::to_string(d2.kernels[0].body) ==
          "parallel for b:\n"
          "  unrolled for i in 2:\n"
          "    unrolled for k in 2:\n"
          "      f32 acc = 0\n"
          "      unrolled for j in 2:\n"
          "        acc = acc + (in0[b,i,j] * in1[b,j,k])\n"
          "      out[b,i,k] = acc\n");
}

TEST_CASE("GPU staging: a thread per output element, inputs staged when a batch element's slice passes 16 bytes") {
    const struct {
        int64_t d;
        int64_t batch_per_block; // 0: not staged
    } rows[] = {{2, 0}, {3, 256}, {4, 128}, {8, 32}, {16, 8}};
    for (const auto &row : rows) {
        CAPTURE(row.d);
        ir::Extents sizes{{"b", 4096}, {"i", row.d}, {"j", row.d}, {"k", row.d}};
        passes::Plan plan = passes::lower(program_of("bij,bjk->bik", DType::F32), sizes, passes::Device::Gpu);
        const ir::Kernel &k = plan.kernels.at(0);
        CHECK(k.strategy == ir::Strategy::Unrolled);
        CHECK(k.staging.has_value() == (row.batch_per_block > 0));
        if (!k.staging) continue;
        CHECK(k.staging->batch_var == "b");
        CHECK(k.staging->batch_per_block == row.batch_per_block);
        CHECK(ir::parallel_vars(k) == std::vector<std::string>{"b", "i", "k"});
        CHECK(plan.explain().find("staged through shared memory") != std::string::npos);
    }
    // 2-byte inputs stage more batch elements per block; a transposed read is not staged.
    passes::Plan half = passes::lower(program_of("bij,bjk->bik", DType::F16), {{"b", 64}, {"i", 4}, {"j", 4}, {"k", 4}},
                                      passes::Device::Gpu);
    REQUIRE(half.kernels.at(0).staging.has_value());
    CHECK(half.kernels[0].staging->batch_per_block == 256);
    passes::Plan transposed = passes::lower(program_of("ijb,bjk->bik", DType::F32),
                                            {{"b", 64}, {"i", 4}, {"j", 4}, {"k", 4}}, passes::Device::Gpu);
    CHECK_FALSE(transposed.kernels.at(0).staging.has_value());
    CHECK(transposed.explain().find("not read with 'b' as its first index") != std::string::npos);
}

TEST_CASE("match_gemm: the roles of every index, transposed, grouped and broadcast operands, and refusals") {
    const struct {
        const char *spec;
        const char *described; // describe() of the match, or the reason it is not one
    } rows[] = {
        {"ij,jk->ik", "batch -, M i, N k, K j (A = in0, B = in1)"},
        {"ji,kj->ki", "batch -, M i, N k, K j (A = in0, B = in1)"},      // both operands transposed
        {"bij,bjk->bik", "batch b, M i, N k, K j (A = in0, B = in1)"},
        {"ijk,ikl->jl", "batch -, M j, N l, K i,k (A = in0, B = in1)"},  // K = i*k, one contraction
        {"bij,jk->bik", "batch -, M b,i, N k, K j (A = in0, B = in1)"},  // B broadcast over b: b joins M
        {"ij,j->i", "batch -, M i, N -, K j (A = in0, B = in1)"},        // a matrix-vector product
        {"ii,ij->j", "in0 is read on a diagonal of 'i'"},
        {"ij,k->ik", "'j' is summed over in0 alone"},
        {"ij,ij->ij", "nothing is contracted"},
    };
    for (const auto &row : rows) {
        CAPTURE(row.spec);
        ir::Program p = program_of(row.spec, DType::F32);
        std::string why;
        auto g = passes::match_gemm(p, p.definitions.at(0), &why);
        CHECK((g ? passes::describe(*g) : why).find(row.described) != std::string::npos);
    }
    // Two reductions, one inside the other, are not a GEMM, and the plan says why.
    passes::Plan gauss = passes::lower(frontend::program_ir(
        frontend::parse_program("out[i] = sum[j](exp(-sum[d]((x[i,d] - y[j,d])^2)) * w[j])"), {}));
    CHECK(gauss.explain().find("gemm: not a GEMM: it holds 2 reductions") != std::string::npos);
    // Unknown sizes: a matrix product is planned as a GEMM.
    passes::Plan plan = passes::lower(program_of("ij,jk->ik", DType::F32));
    CHECK(plan.kernels.at(0).strategy == ir::Strategy::Gemm);
    CHECK(plan.explain().find("kernel einfuse_ij_jk_to_ik: gemm (batch -, M i, N k, K j") != std::string::npos);
}

namespace {
ir::Program program_text(const std::string &text, const std::map<std::string, DType> &dtypes = {}) {
    return frontend::program_ir(frontend::parse_program(text), dtypes);
}
} // namespace

TEST_CASE("match_gemm: the epilogue around the sum, and what cuBLASLt fuses of it") {
    const struct {
        const char *program;
        const char *library; // the fused epilogue ("alpha,addend,bias[var],relu"), or the reason it does not fit
    } rows[] = {
        {"C[i,k] = A[i,j]*B[j,k]; D[i,k] = relu(C[i,k] + bias[k])", "1,,bias[k],relu"},
        {"D[i,k] = 2 * sum[j](A[i,j]*B[j,k]) + bias[i]", "2,,bias[i],"},
        {"D[i,k] = sum[j](A[i,j]*B[j,k]) / 4 + E[i,k]", "0.25,E,,"},
        {"D[b,i,k] = relu(sum[j](A[b,i,j]*B[b,j,k]))", "1,,,relu"},
        {"D[i,k] = gelu(sum[j](A[i,j]*B[j,k]))", "GELU is the tanh approximation"},
        {"D[i,k] = tanh(sum[j](A[i,j]*B[j,k]))", "the product goes through other arithmetic"},
        {"D[i,k] = sum[j](A[i,j]*B[j,k]) * s[i]", "the product goes through other arithmetic"},
        {"D[i,k] = sum[j](A[i,j]*B[j,k]) + b2[k,i] + b3[i,k]", "neither a bias along M or N"},
    };
    for (const auto &row : rows) {
        INFO(std::string(row.program));
        ir::Program p = program_text(row.program);
        std::string why;
        auto g = passes::match_gemm(p, p.definitions.back(), &why);
        if (p.definitions.size() > 1) { // the producer is fused into its consumer first
            passes::Plan plan = passes::lower(p);
            REQUIRE(plan.kernels.size() == 1);
            g = plan.kernels[0].gemm;
        }
        INFO(why);
        REQUIRE(g.has_value());
        std::string got = g->library_why_not;
        if (g->library) {
            std::ostringstream alpha;
            alpha << g->library->alpha;
            got = alpha.str() + "," + g->library->addend + "," +
                  (g->library->bias.empty() ? "" : g->library->bias + "[" + g->library->bias_var + "]") + "," +
                  (g->library->relu ? "relu" : "");
        }
        CHECK(got.find(row.library) != std::string::npos);
    }
    // Integer and mixed types have no cuBLASLt GEMM; the emitted kernel runs them.
    ir::Program ints = program_of("ij,jk->ik", DType::I64);
    std::string why;
    auto g = passes::match_gemm(ints, ints.definitions[0], &why);
    REQUIRE(g.has_value());
    CHECK_FALSE(g->library.has_value());
    CHECK(g->library_why_not == "cuBLASLt has no i64 GEMM");
}

TEST_CASE("choose_strategy: a GEMM only when K, M and N are large enough to tile") {
    auto strategy = [](const char *spec, const ir::Extents &sizes) {
        return passes::lower(program_of(spec, DType::F32), sizes, passes::Device::Gpu).kernels.at(0).strategy;
    };
    CHECK(strategy("bij,bjk->bik", {{"b", 64}, {"i", 32}, {"j", 32}, {"k", 32}}) == ir::Strategy::Gemm);
    CHECK(strategy("bij,bjk->bik", {{"b", 64}, {"i", 2}, {"j", 2}, {"k", 2}}) == ir::Strategy::Unrolled);
    CHECK(strategy("nc,nc->n", {{"n", 1000}, {"c", 256}}) == ir::Strategy::BroadcastReduce);
    CHECK(strategy("ij,nj->ni", {{"n", 100000}, {"i", 10}, {"j", 10}}) == ir::Strategy::BroadcastReduce);
    CHECK(strategy("ij,bjk->bik", {{"b", 192}, {"i", 4096}, {"j", 4096}, {"k", 1}}) == ir::Strategy::Gemm);
    CHECK(strategy("ijk,ikl->jl", {{"i", 8}, {"j", 64}, {"k", 64}, {"l", 64}}) == ir::Strategy::Gemm);
    CHECK(strategy("bld,lrd->blr", {{"b", 8}, {"l", 2048}, {"d", 64}, {"r", 2048}}) == ir::Strategy::Gemm); // case 6
    CHECK(strategy("ij,j->i", {{"i", 4096}, {"j", 4096}}) == ir::Strategy::BroadcastReduce);             // N = 1
    // K = 4: the loop nest on the GPU, the packed GEMM on the host (both measured).
    ir::Extents thin{{"i", 512}, {"j", 4}, {"k", 512}};
    CHECK(strategy("ij,jk->ik", thin) == ir::Strategy::BroadcastReduce);
    CHECK(passes::lower(program_of("ij,jk->ik", DType::F32), thin, passes::Device::Host).kernels.at(0).strategy ==
          ir::Strategy::Gemm);
}
