// The host's vector width and kernel variant per CPU (passes/HostVectors), checked on the
// optimised LLVM IR for CPUs named explicitly: the unrolled batched products never depend on
// masked gathers or scatters, on AVX2 and AVX-512 machines alike (issue 16).
#include "TestUtil.h"
#include "backends/llvm/HostJit.h"
#include "EinsumIr.h"
#include "HostIrCheck.h"
#include "frontend/Einsum.h"
#include "frontend/Program.h"
#include "ir/Printer.h"
#include "passes/Pipeline.h"

#include <doctest/doctest.h>

#include <sstream>
#include <string>

using namespace einfuse;

namespace {

using einfuse::test::einsum_ir;

passes::Plan plan_for(const ir::Target &target, int d, DType t = DType::F32) {
    passes::LowerOptions o;
    o.target = target;
    return passes::lower(einsum_ir("bij,bjk->bik", t), {{"b", 100000}, {"i", d}, {"j", d}, {"k", d}}, o);
}

int calls(const std::string &ir, const std::string &intrinsic) { return test::masked_calls(ir, intrinsic); }

/** The Gaussian kernel sum at N=M=4000, D=3, planned for `target`. */
passes::Plan gaussian_plan(DType type, const ir::Target &target) {
    auto ast = frontend::parse_program("out[i] = sum[j](exp(-sum[d]((x[i,d] - y[j,d])^2)) * w[j])");
    passes::LowerOptions o;
    o.target = target;
    return passes::lower(frontend::program_ir(ast, {{"x", type}, {"y", type}, {"w", type}}),
                         {{"i", 4000}, {"j", 4000}, {"d", 3}}, o);
}

const auto &kCpus = test::kVectorCpus;

} // namespace

TEST_CASE("host vectors: unrolled bij,bjk->bik at D=2..8 has no gathers or scatters on any CPU") {
    for (const char *cpu : kCpus) {
        ir::Target target = llvm_backend::cpu_target(cpu);
        CHECK(target.vector_bits == (std::string(cpu) == "haswell" || std::string(cpu) == "znver3" ? 256 : 512));
        for (DType type : {DType::F32, DType::F64}) {
            for (int d = 2; d <= 8; ++d) {
                CAPTURE(cpu);
                CAPTURE(dtype_name(type));
                CAPTURE(d);
                passes::Plan plan = plan_for(target, d, type);
                const ir::Kernel &k = plan.kernels.at(0);
                CHECK(k.strategy == ir::Strategy::Unrolled);
                REQUIRE(k.host_vectors.has_value());
                // Rows of 8 are vectorised along themselves; on znver3 rows of 128 bits (D=4 f32,
                // D=2 f64) take 128-bit vectors, one a row, and on znver4 rows of 512 bits (D=8
                // f64) 512-bit ones (passes/HostVectors.cpp).
                const bool rows_128 = std::string(cpu) == "znver3" && d * static_cast<int>(dtype_size(type)) == 16;
                const bool rows_512 = std::string(cpu) == "znver4" && d * static_cast<int>(dtype_size(type)) == 64;
                CHECK(k.host_vectors->no_gathers == (d < 8));
                CHECK(k.host_vectors->bits == (rows_128 ? 128 : rows_512 ? 512 : 256));
                CHECK(k.host_vectors->narrowed_isa == rows_128);
                std::string ir = llvm_backend::emit_llvm_ir(plan.kernels, target);
                CHECK(ir.find("\"target-cpu\"=\"" + std::string(cpu) + "\"") != std::string::npos);
                CHECK(calls(ir, "gather") == 0);
                CHECK(calls(ir, "scatter") == 0);
            }
        }
    }
}

TEST_CASE("host vectors: rows of 512 bits take 512-bit vectors on znver4 only, one a row, and match the reference") {
    for (const char *cpu : kCpus) {
        CAPTURE(cpu);
        ir::Target target = llvm_backend::cpu_target(cpu);
        passes::Plan plan = plan_for(target, 16, DType::F32);
        const ir::Kernel &k = plan.kernels.at(0);
        REQUIRE(k.host_vectors.has_value());
        const bool znver4 = std::string(cpu) == "znver4";
        CHECK(k.host_vectors->bits == (znver4 ? 512 : 256));
        CHECK((plan.explain().find("rows of 512 bits or more run faster in 512-bit vectors") != std::string::npos) == znver4);
        std::string ir = llvm_backend::emit_llvm_ir(plan.kernels, target);
        CHECK((ir.find("\"prefer-vector-width\"=\"512\"") != std::string::npos) == znver4);
        CHECK(calls(ir, "gather") == 0);
    }
    // Rows of 8 f32 (256 bits) keep 256-bit vectors there.
    CHECK(plan_for(llvm_backend::cpu_target("znver4"), 8, DType::F32).kernels.at(0).host_vectors->bits == 256);
    // On this machine's CPU (512-bit vectors where it is a znver4), against the reference.
    for (DType type : {DType::F32, DType::F64}) {
        CAPTURE(dtype_name(type));
        CompiledEinsum c("bij,bjk->bik", {type, type}, CompileOptions{Target::Host, "", 2});
        auto [err, tol] = test::run_and_compare(c, {{"b", 301}, {"i", 16}, {"j", 16}, {"k", 16}});
        CHECK(err <= tol);
    }
}

TEST_CASE("host vectors: the check is not vacuous: with gathers allowed, LLVM gathers at D=3 and 4") {
    // The plan before issue 16: no choice recorded, LLVM's cost model free. On a Zen 4 it loads
    // a 3x3 or 4x4 slice per batch element with one gather per element.
    ir::Target target = llvm_backend::cpu_target("znver4");
    int gathers = 0;
    for (int d : {3, 4}) {
        passes::Plan plan = plan_for(target, d);
        plan.kernels.at(0).host_vectors.reset();
        gathers += calls(llvm_backend::emit_llvm_ir(plan.kernels, target), "gather");
    }
    CHECK(gathers > 0);
}

TEST_CASE("host vectors: the plan says what was chosen and why, the user's narrower width included") {
    ir::Target avx512 = llvm_backend::cpu_target("skylake-avx512");
    std::string plain = plan_for(avx512, 4).explain();
    CHECK(plain.find("host vectors: 256-bit vectors (CPU skylake-avx512: 512-bit), the memory limit needs no wider "
                     "vectors; masked gathers and scatters off") != std::string::npos);

    ir::Target narrowed = avx512.narrowed(256, "EINFUSE_HOST_VECTOR_BITS=256");
    CHECK(narrowed.vector_bits == 256);
    CHECK(narrowed.cpu_vector_bits == 512);
    CHECK(narrowed.describe() == "host skylake-avx512, 256-bit vectors (of 512: EINFUSE_HOST_VECTOR_BITS=256)");
    passes::Plan plan = plan_for(narrowed, 4);
    CHECK(plan.explain().find("EINFUSE_HOST_VECTOR_BITS=256 keeps the code to 256-bit instructions") != std::string::npos);
    CHECK(plan.kernels.at(0).host_vectors->narrowed_isa);
    std::string ir = llvm_backend::emit_llvm_ir(plan.kernels, narrowed);
    CHECK(ir.find("-avx512f") != std::string::npos); // AVX-512 off in the function's features
    CHECK(ir.find("<16 x float>") == std::string::npos);

    // The packed GEMM follows the narrowed width too: the AVX2 micro-kernel.
    passes::LowerOptions o;
    o.target = narrowed;
    passes::Plan gemm = passes::lower(einsum_ir("ij,jk->ik"), {{"i", 512}, {"j", 512}, {"k", 512}}, o);
    REQUIRE(gemm.kernels.at(0).gemm.has_value());
    CHECK(gemm.kernels.at(0).gemm->host_vector_bits == 256);
    CHECK(gemm.kernels.at(0).host_vectors->bits == 256);
    CHECK(narrowed.narrowed(512, "x").vector_bits == 256); // never wider
}

namespace {

/** Gathers inside the blocks of loop `var` ("j.loop", "j.loop35.i", ...: LLVM keeps the printed
 * label as a prefix; not its preheader, which runs once before the loop), or in a lane loop's
 * "lanes.strided" blocks (CodeGen's lane_access: a read that a loop of the reduction moves,
 * gathered where its stride is not 1). */
int gathers_in_loop(const std::string &ir, const std::string &var) {
    std::istringstream lines(ir);
    int n = 0;
    bool inside = false;
    for (std::string line; std::getline(lines, line);) {
        if (!line.empty() && line[0] != ' ' && line.find(':') != std::string::npos && line.rfind("define", 0) != 0)
            inside = (line.rfind(var + ".loop", 0) == 0 || line.rfind("lanes.strided", 0) == 0) &&
                     line.find("preheader") == std::string::npos;
        n += inside && line.find("call ") != std::string::npos && line.find("@llvm.masked.gather") != std::string::npos;
    }
    return n;
}

} // namespace

TEST_CASE("host vectors: the packed GEMM's pipeline compiles for every CPU (no LLVM abort)") {
    // The packed GEMM's own pipeline (backends/llvm/HostJit.cpp) once named plain `instcombine`,
    // which in a pipeline's text checks its fixpoint and aborts the whole process where one
    // iteration does not reach it: on znver3, with "LLVM ERROR: Instruction Combining did not
    // reach a fixpoint" (every host GEMM test died on an AMD EPYC).
    for (DType type : {DType::F32, DType::F64})
        for (const char *cpu : kCpus) {
            CAPTURE(cpu);
            CAPTURE(dtype_name(type));
            passes::LowerOptions o;
            o.target = llvm_backend::cpu_target(cpu);
            passes::Plan plan = passes::lower(einsum_ir("ij,jk->ik", type), {{"i", 512}, {"j", 512}, {"k", 512}}, o);
            REQUIRE(plan.kernels.at(0).gemm.has_value());
            REQUIRE(plan.kernels.at(0).gemm->host_packed);
            CHECK(llvm_backend::emit_llvm_ir(plan.kernels, o.target).find("define") != std::string::npos);
        }
}

TEST_CASE("host vectors: the Gaussian sum's hot loop over j reads x[i,d] without gathers on any CPU") {
    // sum[d] at d=3 is unrolled (passes/strategy/BroadcastReduce): x[i,0..2] are invariant in
    // j and gathered once per lane vector of i, before the loop; y[j,d] and w[j] are broadcast.
    for (DType type : {DType::F32, DType::F64})
        for (const char *cpu : kCpus) {
            CAPTURE(cpu);
            CAPTURE(dtype_name(type));
            ir::Target target = llvm_backend::cpu_target(cpu);
            passes::Plan plan = gaussian_plan(type, target);
            REQUIRE(plan.kernels.size() == 1);
            CHECK(ir::to_string(plan.kernels[0].body).find("unrolled for d in 3") != std::string::npos);
            std::string ir = llvm_backend::emit_llvm_ir(plan.kernels, target);
            CHECK(calls(ir, "gather") > 0); // x across the lanes of i, outside the loop over j
            CHECK(gathers_in_loop(ir, "j") == 0);
        }
    // Not vacuous: with d's size unknown the loop over d stays, and x is gathered inside j.
    auto ast = frontend::parse_program("out[i] = sum[j](exp(-sum[d]((x[i,d] - y[j,d])^2)) * w[j])");
    passes::LowerOptions o;
    o.target = llvm_backend::cpu_target("skylake-avx512");
    passes::Plan plan = passes::lower(frontend::program_ir(ast, {}), {{"i", 4000}, {"j", 4000}}, o);
    CHECK(gathers_in_loop(llvm_backend::emit_llvm_ir(plan.kernels, o.target), "j") +
              gathers_in_loop(llvm_backend::emit_llvm_ir(plan.kernels, o.target), "d") > 0);
}

TEST_CASE("host vectors: every multiply-add is fused by einfuse, not by the code generator, on every CPU") {
    // backends/llvm/Contraction.h: the code generator fused `contract`-flagged products by what
    // it saw at each vector width, so on a Zen 5 the Gaussian sum's vector lanes and scalar
    // tail rounded differently (host_fast_path_test: the same bits for 1, 2 and 3 threads).
    // Now each fusion is an llvm.fmuladd in the IR, and no flag is left for it to act on.
    for (DType type : {DType::F32, DType::F64})
        for (const char *cpu : kCpus) {
            CAPTURE(cpu);
            CAPTURE(dtype_name(type));
            ir::Target target = llvm_backend::cpu_target(cpu);
            for (const passes::Plan &plan : {gaussian_plan(type, target), plan_for(target, 16, type)}) {
                std::string ir = llvm_backend::emit_llvm_ir(plan.kernels, target);
                CHECK(ir.find("llvm.fmuladd") != std::string::npos);
                CHECK(ir.find(" contract ") == std::string::npos);
            }
        }
}
