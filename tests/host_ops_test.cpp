// The host backend's operators end to end: every Unary, the new Binary ops (pow, comparisons)
// and Select, JIT-compiled per type and run on fresh random inputs in each op's domain against a
// long double reference (tests/ElementwiseOps.h), plus a loop nest with two accumulators (the
// Gaussian kernel sum) and the internal errors for what the frontend never emits.
#include "ElementwiseOps.h"

#include "backends/llvm/HostJit.h"
#include "support/Error.h"

#include <doctest/doctest.h>

using namespace einfuse;
using namespace einfuse::test;
using einfuse::llvm_backend::HostModule;

namespace {

/** JIT-compiles k alone and runs it over its whole outer loop in one call. */
void run_on_host(const Kernel &k, const std::vector<const Tensor *> &ins, Tensor &out,
                 const std::vector<int64_t> &extents) {
    auto module = HostModule::compile({k});
    std::vector<void *> data;
    std::vector<int64_t> strides;
    for (const Tensor *x : ins) {
        data.push_back(const_cast<void *>(x->data()));
        strides.insert(strides.end(), x->strides().begin(), x->strides().end());
    }
    data.push_back(out.data());
    strides.insert(strides.end(), out.strides().begin(), out.strides().end());
    module->function(k.name)(data.data(), strides.data(), extents.data(), 0, std::numeric_limits<int64_t>::max());
}

const DType kFloats[] = {DType::F32, DType::F64};
const DType kInts[] = {DType::I8, DType::I16, DType::I32, DType::I64, DType::U8, DType::U16, DType::U32, DType::U64};

} // namespace

TEST_CASE("host ops: every unary operator in f32 and f64, and on i32/i64 where defined") {
    for (const auto &row : kUnaryRows) {
        for (DType t : kFloats) {
            SUBCASE((std::string(unary_op_name(row.op)) + " " + std::string(dtype_name(t))).c_str()) {
                check_unary(run_on_host, row, t);
            }
        }
        if (!row.integers) continue;
        for (DType t : kInts) {
            SUBCASE((std::string(unary_op_name(row.op)) + " " + std::string(dtype_name(t))).c_str()) {
                check_unary(run_on_host, row, t);
            }
        }
    }
}

TEST_CASE("host ops: pow, max, min and the comparisons (NaN compares false except !=)") {
    for (const auto &row : kBinaryRows) {
        for (DType t : kFloats)
            SUBCASE((std::string(binary_op_symbol(row.op)) + " " + std::string(dtype_name(t))).c_str()) {
                check_binary(run_on_host, row, t);
            }
        if (!row.integers) continue;
        for (DType t : kInts)
            SUBCASE((std::string(binary_op_symbol(row.op)) + " " + std::string(dtype_name(t))).c_str()) {
                check_binary(run_on_host, row, t);
            }
    }
}

TEST_CASE("host ops: where(c, a, b) picks a where c != 0 (NaN included)") {
    for (DType t : {DType::F32, DType::F64, DType::I32, DType::I64, DType::I8, DType::U16, DType::U64, DType::Bool})
        SUBCASE(dtype_name(t).data()) { check_select(run_on_host, t); }
}

TEST_CASE("host ops: the Gaussian kernel sum, two nested accumulators") {
    for (DType t : kFloats) {
        SUBCASE(dtype_name(t).data()) {
            check_gauss(run_on_host, t, 37, 53, 3);
            check_gauss(run_on_host, t, 5, 300, 7);
        }
    }
}

TEST_CASE("host ops: a nest of operators in one expression") {
    // out[i] = where(in0[i] > 0, -(-sqrt(|in0[i]|)), relu(sign(in0[i]) * exp(in0[i]))): the
    // arms share the operand; checked against the same composition in long double.
    for (DType t : kFloats) {
        CAPTURE(dtype_name(t));
        Expr x = in(t, 0);
        Expr pos = Unary::make(UnaryOp::Neg,
                               Unary::make(UnaryOp::Neg, Unary::make(UnaryOp::Sqrt, Unary::make(UnaryOp::Abs, x))));
        Expr neg = Unary::make(
            UnaryOp::Relu, Binary::make(BinaryOp::Mul, Unary::make(UnaryOp::Sign, x), Unary::make(UnaryOp::Exp, x)));
        Kernel k =
            elementwise_kernel("nest", t, 1, Select::make(Binary::make(BinaryOp::Gt, x, Const::make(t, 0)), pos, neg));
        std::vector<Tensor> ins = {random_input(t, kOpsLength, -3, 3)};
        const Tensor &a = ins[0];
        check_elementwise(
            run_on_host, k, ins,
            [&](int64_t i) {
                long double v = get(a, i);
                return v > 0 ? std::sqrt(std::fabs(v)) : std::max(0.0L, ((v > 0) - (v < 0)) * std::exp(v));
            },
            [](int64_t) { return 4.0; });
    }
}

TEST_CASE("host ops: what the frontend never emits is an internal error, not wrong code") {
    for (DType t : kInts) {
        CAPTURE(dtype_name(t));
        for (UnaryOp op : {UnaryOp::Exp, UnaryOp::Log, UnaryOp::Sqrt, UnaryOp::Rsqrt, UnaryOp::Tanh, UnaryOp::Sigmoid,
                           UnaryOp::Gelu, UnaryOp::Sin, UnaryOp::Cos, UnaryOp::Floor, UnaryOp::Ceil}) {
            CAPTURE(unary_op_name(op));
            CHECK_THROWS_AS(HostModule::compile({unary_kernel(op, t)}), InternalError);
        }
        CHECK_THROWS_AS(HostModule::compile({binary_kernel(BinaryOp::Pow, t)}), InternalError);
    }
    for (DType t : {DType::F16, DType::BF16}) {
        CAPTURE(dtype_name(t));
        CHECK_THROWS_AS(HostModule::compile({unary_kernel(UnaryOp::Exp, t)}), InternalError);
        CHECK_THROWS_AS(HostModule::compile({binary_kernel(BinaryOp::Lt, t)}), InternalError);
        CHECK_THROWS_AS(HostModule::compile({select_kernel(t)}), InternalError);
    }
}

TEST_CASE("host ops: tanh and erfc are libm calls the JIT resolves, f64 exp an intrinsic, f32 exp written out") {
    auto ir = einfuse::llvm_backend::emit_llvm_ir({unary_kernel(UnaryOp::Tanh, DType::F32),
                                                   unary_kernel(UnaryOp::Gelu, DType::F64),
                                                   unary_kernel(UnaryOp::Exp, DType::F64)});
    CHECK(ir.find("@tanhf(") != std::string::npos);
    CHECK(ir.find("@erfc(") != std::string::npos);
    CHECK(ir.find("@llvm.exp.") != std::string::npos);
    auto f32 = einfuse::llvm_backend::emit_llvm_ir({unary_kernel(UnaryOp::Exp, DType::F32)});
    CHECK(f32.find("@llvm.exp.") == std::string::npos); // so that it vectorises (VectorMath.h)
    CHECK(f32.find("@expf(") == std::string::npos);
}
