// Lanes along a sum (passes/ReductionLanes): matrix-vector products whose reduction runs along
// the operands' contiguous dimension load whole vectors along it (issue 16's "ijk,k->ij"; the
// first step of "...lmn,lmno->...o" deinterleaves in1's stride-3 reads from whole vectors), on AVX2 and AVX-512 CPUs; and the
// results match the float64 reference for lengths that are no multiple of the vector width,
// for f32 and f64, one and two threads, contiguous and strided operands.
#include "TestUtil.h"
#include "backends/llvm/HostJit.h"
#include "EinsumIr.h"
#include "HostIrCheck.h"
#include "passes/Pipeline.h"
#include "passes/ReductionLanes.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <string>

using namespace einfuse;

namespace {

using einfuse::test::einsum_ir;

passes::Plan plan_on(const char *cpu, const char *spec, DType t, const ir::Extents &e) {
    passes::LowerOptions o;
    o.target = llvm_backend::cpu_target(cpu);
    return passes::lower(einsum_ir(spec, t), e, o);
}

int calls(const std::string &ir, const std::string &intrinsic) { return test::masked_calls(ir, intrinsic); }

const auto &kCpus = test::kVectorCpus;

const ir::Extents kGemv{{"i", 320}, {"j", 256}, {"k", 192}};
const ir::Extents kLongRowGemv{{"i", 320}, {"j", 16}, {"k", 3072}}; // rows of 12 or 24 KiB

} // namespace

TEST_CASE("reduction lanes: a gemv along its contiguous sum loads whole vectors, no gathers, on any CPU") {
    for (const char *cpu : kCpus)
        for (DType type : {DType::F32, DType::F64}) {
            CAPTURE(cpu);
            CAPTURE(dtype_name(type));
            passes::Plan plan = plan_on(cpu, "ijk,k->ij", type, kGemv);
            REQUIRE(plan.kernels.size() == 1);
            const ir::Kernel &k = plan.kernels[0];
            REQUIRE(k.host_vectors.has_value());
            REQUIRE(k.host_vectors->reduction_lanes.has_value());
            const auto &lanes = *k.host_vectors->reduction_lanes;
            CHECK(lanes.var == "k");
            CHECK(lanes.rows_var.empty()); // rows of 192 terms, summed one after another
            CHECK(lanes.rows == 1);
            CHECK(lanes.compensation.empty() == (type == DType::F32)); // f64: Kahan; f32: summed in f64
            CHECK(plan.explain().find("lanes along the sum over k (in0, in1 contiguous along it") != std::string::npos);
            std::string ir = llvm_backend::emit_llvm_ir(plan.kernels, llvm_backend::cpu_target(cpu));
            CHECK(calls(ir, "gather") == 0);
            CHECK(calls(ir, "scatter") == 0);
            int width = k.host_vectors->bits / 8 / static_cast<int>(dtype_size(type));
            CHECK(ir.find("load <" + std::to_string(width) + " x " + (type == DType::F32 ? "float" : "double") + ">") !=
                  std::string::npos);
        }
}

TEST_CASE("reduction lanes: a gemv's long rows are streamed several at a time, short ones one by one") {
    for (const char *cpu : kCpus)
        for (DType type : {DType::F32, DType::F64}) {
            CAPTURE(cpu);
            CAPTURE(dtype_name(type));
            for (const auto &[extents, rows] : {std::pair{kLongRowGemv, passes::kReductionLaneRows}, std::pair{kGemv, 1}}) {
                passes::Plan plan = plan_on(cpu, "ijk,k->ij", type, extents);
                const auto &lanes = *plan.kernels.at(0).host_vectors->reduction_lanes;
                CHECK(lanes.rows == rows);
                CHECK(lanes.rows_var == (rows > 1 ? "j" : ""));
                CHECK((plan.explain().find("8 values of j at a time") != std::string::npos) == (rows > 1));
            }
        }
}

TEST_CASE("reduction lanes: the check is not vacuous: lanes across the output gather the gemv's matrix") {
    passes::Plan plan = plan_on("znver4", "ijk,k->ij", DType::F64, kGemv);
    plan.kernels.at(0).host_vectors->reduction_lanes.reset();
    CHECK(calls(llvm_backend::emit_llvm_ir(plan.kernels, llvm_backend::cpu_target("znver4")), "gather") > 0);
}

TEST_CASE("reduction lanes: where they are chosen, and why not elsewhere") {
    struct Row {
        const char *spec;
        ir::Extents extents;
        const char *kernel_var; // the sum the lanes run along in the last kernel, "" for none
    };
    const Row rows[] = {
        {"nc,nc->n", {{"n", 1000}, {"c", 256}}, "c"},         // batched dot products, long rows
        {"ij,j->i", {{"i", 3}, {"j", 100}}, "j"},             // a gemv with fewer rows than a group
        {"i->", {{"i", 100000}}, "i"},                        // one sum: one row
        {"ij,jk->ik", {{"i", 3}, {"j", 300}, {"k", 700}}, ""}, // lanes across k read in1 whole already
        {"nc,nc->n", {{"n", 1000}, {"c", 20}}, ""},           // shorter than one vector step
    };
    // numpy's "...lmn,lmno->...o" (passes/SplitReduction): its first step sums each row of n
    // alone, the lanes along n (in0 whole vectors, in1's stride-3 reads deinterleaved).
    passes::Plan rows_plan =
        plan_on("skylake-avx512", "lmn,lmno->o", DType::F64, {{"l", 160}, {"m", 160}, {"n", 120}, {"o", 3}});
    REQUIRE(rows_plan.kernels.front().host_vectors->reduction_lanes.has_value());
    CHECK(rows_plan.kernels.front().host_vectors->reduction_lanes->var == "n");
    CHECK(rows_plan.kernels.front().host_vectors->reduction_lanes->deinterleaved ==
          std::vector<std::pair<std::string, int>>{{"in1", 3}});
    // The unrolled loop over o around the sum: its three sums run in one loop over n.
    CHECK(rows_plan.kernels.front().host_vectors->reduction_lanes->rows_var == "o");
    CHECK(rows_plan.kernels.front().host_vectors->reduction_lanes->rows == 3);
    CHECK(rows_plan.explain().find("all 3 values of o at once") != std::string::npos);
    // One register of lanes per row (passes/ReductionLanes.h: four ran 1.4x slower).
    CHECK(rows_plan.kernels.front().host_vectors->reduction_lanes->registers == passes::kReductionLaneUnrolledRowRegisters);
    CHECK(rows_plan.explain().find("1 vector of terms per step") != std::string::npos);
    // The same when l and m are short (the lanes used to run across o, gathered: 12x slower at
    // l=m=10, n=30720) or short and of o's size (l was unrolled instead of o).
    for (ir::Extents short_rows : {ir::Extents{{"l", 10}, {"m", 10}, {"n", 30720}, {"o", 3}},
                                   ir::Extents{{"l", 2}, {"m", 3}, {"n", 100000}, {"o", 3}}})
        for (DType dtype : {DType::F32, DType::F64}) {
            CAPTURE(short_rows.at("l"));
            CAPTURE(dtype_name(dtype));
            ir::Kernel first = plan_on("skylake-avx512", "lmn,lmno->o", dtype, short_rows).kernels.front();
            REQUIRE(first.host_vectors->reduction_lanes.has_value());
            CHECK(first.host_vectors->reduction_lanes->var == "n");
            CHECK(first.host_vectors->reduction_lanes->rows_var == "o");
            CHECK(first.host_vectors->reduction_lanes->deinterleaved == std::vector<std::pair<std::string, int>>{{"in1", 3}});
        }
    for (const Row &r : rows) {
        CAPTURE(std::string(r.spec));
        passes::Plan plan = plan_on("skylake-avx512", r.spec, DType::F64, r.extents);
        const auto &v = plan.kernels.back().host_vectors;
        REQUIRE(v.has_value());
        if (*r.kernel_var) {
            REQUIRE(v->reduction_lanes.has_value());
            CHECK(v->reduction_lanes->var == r.kernel_var);
        } else {
            CHECK(!v->reduction_lanes.has_value());
            CHECK(v->why.find("(not along the sum over") != std::string::npos);
        }
    }
}

namespace {

/** Runs spec at e on the host with `threads`, on fresh random inputs (operand `strided`, if >= 0,
 * padded so that nothing is contiguous), against the reference. */
void check_against_reference(const char *spec, DType dtype, const ir::Extents &e, int threads, int strided) {
    CAPTURE(std::string(spec));
    CAPTURE(dtype_name(dtype));
    CAPTURE(threads);
    CAPTURE(strided);
    std::string operands = std::string(spec).substr(0, std::string(spec).find("->"));
    std::vector<DType> dtypes(std::count(operands.begin(), operands.end(), ',') + 1, dtype);
    CompiledEinsum c(spec, dtypes, CompileOptions{Target::Host, "", threads});
    c.plan_for(e);
    auto inputs = test::random_inputs(c, e);
    std::vector<Tensor> used;
    for (std::size_t n = 0; n < inputs.size(); ++n) {
        std::vector<int> reversed;
        for (int d = inputs[n].rank() - 1; d >= 0; --d) reversed.push_back(d);
        used.push_back(static_cast<int>(n) == strided ? test::relayout(inputs[n], reversed, 1) : inputs[n]);
    }
    Tensor got = c.run(test::pointers(used), e).outputs.front();
    Tensor want = einsum_reference(c, test::pointers(inputs), e);
    double err = ir::max_relative_error(got, want, test::einsum_scale(c, inputs, e));
    CHECK(err <= tolerance(dtype, reduction_length(c, e)));
}

} // namespace

TEST_CASE("reduction lanes: reads at stride 2-4 along the sum are deinterleaved, not gathered, on any CPU") {
    // "lmn,lmno->o"'s first step reads in1[l,m,n,o] at stride o along n: one masked whole-vector
    // load and a shuffle per vector of terms, where the same kernel without them gathers.
    for (const char *cpu : kCpus)
        for (DType dtype : {DType::F32, DType::F64})
            for (int64_t o : {2, 3, 4}) {
                CAPTURE(std::string(cpu));
                CAPTURE(dtype_name(dtype));
                CAPTURE(o);
                ir::Target target = llvm_backend::cpu_target(cpu);
                passes::Plan plan = plan_on(cpu, "lmn,lmno->o", dtype, {{"l", 160}, {"m", 160}, {"n", 120}, {"o", o}});
                ir::Kernel first = plan.kernels.front();
                REQUIRE(first.host_vectors->reduction_lanes.has_value());
                CHECK(first.host_vectors->reduction_lanes->deinterleaved ==
                      std::vector<std::pair<std::string, int>>{{"in1", static_cast<int>(o)}});
                std::string ir = llvm_backend::emit_llvm_ir({first}, target);
                CHECK(calls(ir, "gather") == 0);
                CHECK(calls(ir, "load") > 0);
                first.host_vectors->reduction_lanes->deinterleaved.clear(); // not vacuous
                CHECK(calls(llvm_backend::emit_llvm_ir({first}, target), "gather") > 0);
            }
}

TEST_CASE("reduction lanes: deinterleaved reads match the float64 reference; strided layouts run term by term") {
    // Lengths around one vector step; in1 padded (its strides are not S and 1: the loop's test
    // fails and every term runs one at a time) or in0 padded.
    for (DType dtype : {DType::F32, DType::F64})
        for (int64_t n : {32, 33, 65, 100, 193})
            for (int64_t o : {2, 3, 4})
                for (int strided : {-1, 0, 1}) {
                    CAPTURE(n);
                    CAPTURE(o);
                    check_against_reference("lmn,lmno->o", dtype, {{"l", 3}, {"m", 5}, {"n", n}, {"o", o}}, 2, strided);
                }
}

TEST_CASE("reduction lanes: gemv results match the float64 reference, tails and odd sizes included") {
    // Lengths around one vector step (32 f64 / 64 f32 terms at 512 bits), rows around a group.
    for (DType dtype : {DType::F32, DType::F64})
        for (int threads : {1, 2})
            for (int64_t k : {1, 7, 31, 32, 33, 64, 65, 100, 193, 1000})
                for (int64_t j : {1, 3, 8, 9, 17}) { // groups of 8 rows and the rest
                    CAPTURE(k);
                    CAPTURE(j);
                    check_against_reference("ijk,k->ij", dtype, {{"i", 3}, {"j", j}, {"k", k}}, threads, -1);
                }
    for (DType dtype : {DType::F32, DType::F64})
        for (int threads : {1, 2}) {
            check_against_reference("nc,nc->n", dtype, {{"n", 1001}, {"c", 257}}, threads, -1);
            check_against_reference("i->", dtype, {{"i", 100003}}, threads, -1);
            // Strided operands: the lanes' stride test fails and every term runs one at a time.
            check_against_reference("ijk,k->ij", dtype, {{"i", 5}, {"j", 6}, {"k", 193}}, threads, 0);
            check_against_reference("ijk,k->ij", dtype, {{"i", 5}, {"j", 6}, {"k", 193}}, threads, 1);
        }
}

TEST_CASE("reduction lanes: each row of a gemv keeps the long sums' accuracy and its bits on any thread count") {
    // A group of rows of a million f64 terms of mixed sign, and one more past it: each within 2
    // ulps of the exact sum, as one long sum is (tests/LongSums.h).
    const int64_t rows = passes::kReductionLaneRows + 1, n = 1000003;
    Tensor a(DType::F64, {rows, n}), x(DType::F64, {n});
    std::uniform_real_distribution<double> u(-1.0, 1.0);
    for (int64_t i = 0; i < rows * n; ++i) a.store(i, u(test::rng()) + 0.25);
    for (int64_t i = 0; i < n; ++i) x.store(i, 1.0);
    ir::Extents e{{"i", rows}, {"j", n}};
    Tensor first;
    for (int threads : {1, 2}) {
        CompiledEinsum c("ij,j->i", {DType::F64, DType::F64}, CompileOptions{Target::Host, "", threads});
        c.plan_for(e);
        REQUIRE(c.plan().kernels.back().host_vectors->reduction_lanes.has_value());
        Tensor got = c.run({&a, &x}, e).outputs.front();
        for (int64_t r = 0; r < rows; ++r) {
            long double s = 0, comp = 0; // Neumaier's summation in long double
            for (int64_t i = 0; i < n; ++i) {
                long double v = a.load(r * n + i), t = s + v;
                comp += std::fabs(static_cast<double>(s)) >= std::fabs(static_cast<double>(v)) ? (s - t) + v : (v - t) + s;
                s = t;
            }
            double want = static_cast<double>(s + comp);
            double ulp = std::nextafter(std::fabs(want), INFINITY) - std::fabs(want);
            CAPTURE(r);
            CHECK(std::fabs(got.load(r) - want) <= 2 * ulp);
        }
        if (threads == 1) first = got;
        for (int64_t r = 0; r < rows; ++r) CHECK(got.load(r) == first.load(r));
    }
    // A row folded with the others of its group (CodeGen's fold_rows merges their registers) has the bits
    // of the same row summed alone (a plan of one row, as many vectors of terms a step).
    REQUIRE(passes::kReductionLaneRegisters == passes::kReductionLaneRowRegisters);
    CompiledEinsum dot("j,j->", {DType::F64, DType::F64}, CompileOptions{Target::Host, "", 1});
    dot.plan_for({{"j", n}});
    for (int64_t r = 0; r < rows; ++r) {
        Tensor row = Tensor::borrow(static_cast<double *>(a.data()) + r * n, DType::F64, {n}, {1});
        CAPTURE(r);
        CHECK(dot.run({&row, &x}, {{"j", n}}).outputs.front().load(0) == first.load(r));
    }
}
