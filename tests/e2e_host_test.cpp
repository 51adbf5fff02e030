// Einsums through the whole pipeline on the host (parse -> passes -> LLVM JIT -> threads),
// compared with the float64 reference on fresh random inputs.
#include "ProgramCases.h"
#include "TestUtil.h"
#include "backends/llvm/HostJit.h"
#include "frontend/Einsum.h"
#include "passes/Pipeline.h"

#include <set>

#include <doctest/doctest.h>

using namespace einfuse;


namespace {
/** Runs c on the host in `dtype` with `threads` against the reference; returns its plan's text. */
std::string check_on_host(const test::TableCase &c, DType dtype, int threads) {
    CAPTURE(c.spec);
    CAPTURE(dtype_name(dtype));
    CAPTURE(threads);
    auto ast = frontend::parse_einsum(c.spec);
    CompiledEinsum compiled(c.spec, std::vector<DType>(ast.operands.size(), dtype), CompileOptions{Target::Host, "", threads});
    auto [err, tol] = test::run_and_compare(compiled, c.extents);
    CHECK(err <= tol);
    return compiled.plan().explain();
}
} // namespace

TEST_CASE("host e2e: einsums against the float64 reference, f32 and f64, any thread count") {
    for (DType dtype : {DType::F32, DType::F64})
        for (int threads : {1, 2, 3})
            for (const auto &c : test::kEinsumCases) check_on_host(c, dtype, threads);
}

TEST_CASE("host e2e: a broadcast (size-1) operand is read in place") {
    CompiledEinsum c("bij,bjk->bik", {DType::F32, DType::F32}, CompileOptions{});
    Tensor a(DType::F32, {1, 3, 4}), b(DType::F32, {50, 4, 2});
    a.fill_random(test::rng());
    b.fill_random(test::rng());
    ir::Extents e = c.bind({a.shape(), b.shape()}, {});
    CHECK(e.at("b") == 50);
    Tensor got = c.run({&a, &b}, e).outputs.front();
    Tensor want = einsum_reference(c, {&a, &b}, e);
    CHECK(ir::max_relative_error(got, want) <= tolerance(DType::F32, 4));
}

TEST_CASE("host e2e: einfuse::einsum convenience call") {
    Tensor a(DType::F64, {4, 5}), b(DType::F64, {5, 3});
    a.fill_random(test::rng());
    b.fill_random(test::rng());
    Tensor got = einsum("ij,jk->ik", {a, b});
    REQUIRE(got.shape() == Shape{4, 3});
    for (int i = 0; i < 4; ++i)
        for (int k = 0; k < 3; ++k) {
            double want = 0;
            for (int j = 0; j < 5; ++j) want += a.load(i * 5 + j) * b.load(j * 3 + k);
            CHECK(got.load(i * 3 + k) == doctest::Approx(want).epsilon(1e-12));
        }
}

TEST_CASE("host e2e: a Fortran-order operand is read in place") {
    CompiledEinsum c("bij,bjk->bik", {DType::F64, DType::F64}, CompileOptions{});
    Tensor a(DType::F64, {50, 3, 4});
    Tensor b(DType::F64, {50, 4, 2}, {1, 50, 200}); // column-major
    a.fill_random(test::rng());
    b.fill_random(test::rng());
    ir::Extents e = c.bind({a.shape(), b.shape()}, {});
    Tensor got = c.run({&a, &b}, e).outputs.front();
    Tensor want = einsum_reference(c, {&a, &b}, e);
    CHECK(ir::max_relative_error(got, want) <= tolerance(DType::F64, 4));
}

// Issue 16's numpy-suite cases, planned by cost: a long sum into few outputs split into partial
// sums (passes/SplitReduction), a fused last step over four operands (passes/ContractionOrder),
// a chain whose GEMM steps share their code (backends/llvm/HostJit).
TEST_CASE("host e2e: split sums, fused last steps and shared kernels against the float64 reference") {
    const test::TableCase cases[] = {
        {"lmn,lmno->o", {{"l", 40}, {"m", 40}, {"n", 48}, {"o", 3}}},
        {"ij,ij->", {{"i", 300}, {"j", 301}}},
        {"abc,bdef,fghj,cem,mhk,ljk->adgl", {{"a", 2}, {"b", 3}, {"c", 4}, {"d", 5}, {"e", 4}, {"f", 3}, {"g", 2},
                                              {"h", 6}, {"j", 4}, {"k", 3}, {"l", 2}, {"m", 5}}},
        {"ab,bc,cd,de,ef,fg,gh->ah", {{"a", 20}, {"b", 30}, {"c", 40}, {"d", 20}, {"e", 30}, {"f", 40}, {"g", 20}, {"h", 30}}},
    };
    const char *planned[] = {"split sum", "split sum", "step 3: out[a,d,g,l] = sum[f,h,j,m,k]", "step 6"};
    for (DType dtype : {DType::F32, DType::F64})
        for (int threads : {1, 2, 3})
            for (std::size_t i = 0; i < std::size(cases); ++i) {
                CAPTURE(cases[i].spec);
                CHECK(check_on_host(cases[i], dtype, threads).find(planned[i]) != std::string::npos);
            }
}

TEST_CASE("host backend: kernels that differ only in names and size slots share one compiled function") {
    auto ast = frontend::parse_einsum("ab,bc,cd,de,ef,fg,gh->ah");
    ir::Program p = frontend::einsum_program(frontend::resolve_einsum(ast, frontend::label_ranks(ast)),
                                             std::vector<DType>(7, DType::F64));
    passes::Plan plan = passes::lower(p, {{"a", 20}, {"b", 30}, {"c", 40}, {"d", 20}, {"e", 30}, {"f", 40}, {"g", 20}, {"h", 30}});
    REQUIRE(plan.kernels.size() == 6);
    auto module = llvm_backend::HostModule::compile(plan.kernels);
    // Every step is a packed GEMM over three of the eight sizes (a,b,c; a,c,d; ...): one code.
    // A kernel whose code is its own keeps all its sizes (empty slots) and function().
    std::set<void *> distinct;
    std::size_t sharing = 0;
    for (const auto &k : plan.kernels) {
        const auto &e = module->entry(k.name);
        distinct.insert(reinterpret_cast<void *>(e.fn));
        if (e.extent_slots.empty()) {
            CHECK(reinterpret_cast<void *>(module->function(k.name)) == reinterpret_cast<void *>(e.fn));
            continue;
        }
        ++sharing;
        CHECK(e.extent_slots.size() == 3);
        CHECK_THROWS_AS(module->function(k.name), InternalError);
    }
    CHECK(sharing >= 4);
    CHECK(distinct.size() <= plan.kernels.size() - sharing + 1);
    CHECK(module->entry(plan.kernels[0].name).extent_slots != module->entry(plan.kernels[1].name).extent_slots);
}

TEST_CASE("host backend: packed GEMMs of different shapes and transposes share one compiled function") {
    // Four GEMM steps (M {p} N {j,k,l}, M {p,k,l} N {q}, ...), with A and B in either parameter
    // position. Unequal sizes, so that a wrong stride or extent shows.
    const test::TableCase chain{"pi,qj,ijkl,rk,sl->pqrs",
                                {{"p", 5}, {"q", 6}, {"r", 7}, {"s", 8}, {"i", 9}, {"j", 10}, {"k", 11}, {"l", 12}}};
    for (DType dtype : {DType::F32, DType::F64}) {
        CAPTURE(dtype_name(dtype));
        auto ast = frontend::parse_einsum(chain.spec);
        ir::Program p = frontend::einsum_program(frontend::resolve_einsum(ast, frontend::label_ranks(ast)),
                                                 std::vector<DType>(5, dtype));
        passes::Plan plan = passes::lower(p, chain.extents);
        REQUIRE(plan.kernels.size() == 4);
        auto module = llvm_backend::HostModule::compile(plan.kernels);
        std::set<void *> code;
        for (const auto &k : plan.kernels) {
            REQUIRE((k.gemm && k.gemm->host_packed));
            const auto &e = module->entry(k.name);
            code.insert(reinterpret_cast<void *>(e.fn));
            CHECK(e.data_slots.size() == k.params.size());
            CHECK_THROWS_AS(module->function(k.name), InternalError);
        }
        CHECK(code.size() == 1);
        for (int threads : {1, 2}) check_on_host(chain, dtype, threads);
    }
    // Epilogues that read a bias, along n in one GEMM and along the other's n (its first
    // operand's m) in the second: one code, against the reference.
    const test::ProgramCase biased{"T[i,k] = sum[j](A[i,j]*B[j,k]) + b1[k]; O[l,i] = sum[k](C[l,k]*T[i,k]) + b2[i]",
                                   {{"i", 70}, {"j", 33}, {"k", 50}, {"l", 24}}, 2};
    for (DType dtype : {DType::F32, DType::F64}) {
        std::size_t kernels = 0;
        CHECK(test::run_program_case(biased, dtype, Target::Host, kernels) <= 1.0);
        CHECK(kernels == 2);
        CompiledProgram c(biased.source, {{"A", dtype}, {"B", dtype}, {"b1", dtype}, {"C", dtype}, {"b2", dtype}},
                          CompileOptions{Target::Host, "", 1});
        c.plan_for(biased.extents);
        REQUIRE(c.plan().kernels.size() == 2);
        for (const auto &k : c.plan().kernels) REQUIRE((k.gemm && k.gemm->host_packed));
        auto module = llvm_backend::HostModule::compile(c.plan().kernels);
        bool one_code = module->entry(c.plan().kernels[0].name).fn == module->entry(c.plan().kernels[1].name).fn;
        CHECK(one_code);
    }
    // A batched step and one whose M and K hold two variables each, against the reference.
    for (DType dtype : {DType::F32, DType::F64})
        check_on_host({"abij,bjk,bkl->ail", {{"a", 2}, {"b", 3}, {"i", 40}, {"j", 33}, {"k", 50}, {"l", 24}}}, dtype, 2);
}

TEST_CASE("host e2e: a plan made for a small call, then called with many more iterations") {
    // bmm's plan serves any batch: made at b=5 (compiled quickly), then run at b=20000, where the
    // executor compiles the kernel again at full optimisation; both against the reference.
    for (DType dtype : {DType::F32, DType::F64}) {
        CAPTURE(dtype_name(dtype));
        CompiledEinsum c("bij,bjk->bik", {dtype, dtype}, CompileOptions{Target::Host, "", 2});
        for (int64_t b : {5, 20000, 7}) {
            CAPTURE(b);
            auto [err, tol] = test::run_and_compare(c, {{"b", b}, {"i", 3}, {"j", 3}, {"k", 3}});
            CHECK(err <= tol);
        }
    }
}
