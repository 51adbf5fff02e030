// Hand-built programs with affine reads (a 1-D convolution, a strided one, a shifted window)
// lowered by passes::lower and run by the LLVM host backend, against the reference interpreter
// on fresh random inputs. The strategies that need plain variables must refuse with a reason and
// leave a plain loop nest.
#include "exec/HostExecutor.h"
#include "ir/Reference.h"
#include "passes/Pipeline.h"
#include "support/Error.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <random>

using namespace einfuse;

namespace {

/** out[i] = sum[r](x[stride*i + r + shift] * w[r]) in dtype t. */
ir::Program convolution(DType t, int64_t stride, int64_t shift) {
    ir::Program p;
    p.inputs = {{"x", t, 1}, {"w", t, 1}};
    p.outputs = {{"out", t, 1}};
    p.index_vars = {"i", "r"};
    ir::Expr x = ir::Access::make(t, "x", {ir::Index::affine({{"i", stride}, {"r", 1}}, shift)});
    ir::Expr w = ir::Access::make(t, "w", {"r"});
    ir::Expr product = ir::Binary::make(ir::BinaryOp::Mul, x, w);
    p.definitions.push_back({"out", {"i"}, ir::Reduce::make({"i"}, {"r"}, ir::ReduceOp::Sum, product)});
    p.name = "conv";
    return p;
}

Tensor random_tensor(DType t, Shape s) {
    static std::mt19937_64 rng(std::random_device{}());
    Tensor x(t, std::move(s));
    x.fill_random(rng);
    return x;
}

/** Runs p's one kernel on the host and returns the largest relative error against the reference. */
double run_against_reference(const ir::Program &p, const ir::Extents &sizes, Tensor &x, Tensor &w,
                             std::vector<std::string> *rejected = nullptr) {
    passes::Plan plan = passes::lower(p, sizes, passes::Device::Host);
    REQUIRE(plan.kernels.size() == 1);
    const ir::Kernel &k = plan.kernels.front();
    if (rejected) *rejected = k.rejected;
    Tensor out(p.outputs[0].dtype, {sizes.at("i")});
    HostExecutor(plan).run(k, {&x, &w, &out}, sizes);
    Tensor want = ir::evaluate_reference(p, {&x, &w}, sizes).front();
    return ir::max_relative_error(out, want);
}

bool mentions(const std::vector<std::string> &lines, const std::string &text) {
    return std::any_of(lines.begin(), lines.end(), [&](const std::string &l) { return l.find(text) != std::string::npos; });
}

} // namespace

TEST_CASE("host: affine reads run as a plain loop nest and match the reference") {
    struct Row {
        const char *name;
        DType type;
        int64_t stride, shift, I, R;
    };
    const Row rows[] = {
        {"x[i + r] f64", DType::F64, 1, 0, 37, 5},
        {"x[i + r] f32, long", DType::F32, 1, 0, 1000, 9},
        {"x[2*i + r] f64", DType::F64, 2, 0, 50, 3},
        {"x[3*i + r + 2] f32", DType::F32, 3, 2, 21, 4},
    };
    for (const Row &row : rows) {
        SUBCASE(row.name) {
            ir::Extents sizes{{"i", row.I}, {"r", row.R}};
            Tensor x = random_tensor(row.type, {row.stride * (row.I - 1) + row.R + row.shift});
            Tensor w = random_tensor(row.type, {row.R});
            std::vector<std::string> rejected;
            double err = run_against_reference(convolution(row.type, row.stride, row.shift), sizes, x, w, &rejected);
            double eps = row.type == DType::F32 ? 1.2e-7 : 2.3e-16;
            CHECK(err <= 4 * eps * double(row.R + 1));
            // The unrolled strategy needs its indices to be variables, and says so.
            CHECK(mentions(rejected, "x's index"));
        }
    }
}

TEST_CASE("host: an affine read that would leave its tensor is refused before the kernel runs") {
    ir::Program p = convolution(DType::F64, 1, 0);
    ir::Extents sizes{{"i", 8}, {"r", 3}};
    Tensor x = random_tensor(DType::F64, {9}), w = random_tensor(DType::F64, {3}); // needs 10
    passes::Plan plan = passes::lower(p, sizes, passes::Device::Host);
    Tensor out(DType::F64, {8});
    CHECK_THROWS_WITH_AS(HostExecutor(plan).run(plan.kernels.front(), {&x, &w, &out}, sizes),
                         "x's index i + r reaches 9 in dimension 0 of size 9", UserError);
    CHECK_THROWS_AS(ir::evaluate_reference(p, {&x, &w}, sizes), UserError);
}

TEST_CASE("host: strided and padded layouts of an affine operand") {
    // x read through a stride of 3 (every third element of a longer buffer).
    const int64_t I = 16, R = 4, X = I - 1 + R;
    Tensor wide = random_tensor(DType::F64, {3 * X});
    Tensor x = Tensor::borrow(wide.data(), DType::F64, {X}, {3});
    Tensor w = random_tensor(DType::F64, {R});
    CHECK(run_against_reference(convolution(DType::F64, 1, 0), {{"i", I}, {"r", R}}, x, w) <= 1e-14);
}
