// The LLVM host backend on hand-built loop nests: each kernel runs on fresh random data under
// contiguous, permuted-and-padded and stride-0 layouts, with the outer parallel loop split over
// several calls, and is compared with a plain double loop written here.
#include "HostKernelTestUtil.h"


TEST_CASE_TEMPLATE("host backend: bij,bjk->bik matches a double loop", T, float, double) {
    auto module = HostModule::compile({bmm_kernel(dtype_of<T>())});
    HostKernelFn fn = module->function("bmm");
    for (const BmmRow &row : kBmmRows) {
        SUBCASE(row.name) { check_bmm<T>(fn, row); }
    }
}

namespace {

/** out[i,j] = max(x[i,j] - y[j], 0.25) / (min(x[i,j], y[j]) + 3), both loops parallel. */
ir::Kernel elementwise_kernel(DType t) {
    using ir::Binary;
    using Op = ir::BinaryOp;
    auto x = ir::Access::make(t, "x", {"i", "j"});
    auto y = ir::Access::make(t, "y", {"j"});
    auto value = Binary::make(Op::Div, Binary::make(Op::Max, Binary::make(Op::Sub, x, y), ir::Const::make(t, 0.25)),
                              Binary::make(Op::Add, Binary::make(Op::Min, x, y), ir::Const::make(t, 3.0)));
    return kernel("elementwise", t, {{"x", t, 2}, {"y", t, 1}, {"out", t, 2}}, 2, {"i", "j"},
                  nest({"i", "j"}, ir::LoopKind::Parallel, ir::Store::make("out", {"i", "j"}, value)));
}

/** out[i] = max[j](x[i,j]) - min[j](x[i,j]): two scalars, infinite initial values. */
ir::Kernel range_kernel(DType t) {
    using ir::Binary;
    auto x = ir::Access::make(t, "x", {"i", "j"});
    auto hi = ir::ScalarRef::make(t, "hi"), lo = ir::ScalarRef::make(t, "lo");
    auto inf = std::numeric_limits<double>::infinity();
    auto body = ir::Block::make({
        ir::DeclareScalar::make("hi", t, ir::Const::make(t, -inf)),
        ir::DeclareScalar::make("lo", t, ir::Const::make(t, inf)),
        ir::For::make("j", ir::LoopKind::Serial,
                      ir::Block::make({ir::AssignScalar::make("hi", Binary::make(ir::BinaryOp::Max, hi, x)),
                                       ir::AssignScalar::make("lo", Binary::make(ir::BinaryOp::Min, lo, x))})),
        ir::Store::make("out", {"i"}, Binary::make(ir::BinaryOp::Sub, hi, lo)),
    });
    return kernel("range", t, {{"x", t, 2}, {"out", t, 1}}, 1, {"i", "j"},
                  ir::For::make("i", ir::LoopKind::Parallel, body));
}

/** out[] = sum[i](x[i]): no parallel loop, so begin and end are ignored. */
ir::Kernel total_kernel(DType t) {
    auto acc = ir::ScalarRef::make(t, "acc");
    return kernel("total", t, {{"x", t, 1}, {"out", t, 0}}, 1, {"i"},
                  ir::Block::make({
                      ir::DeclareScalar::make("acc", t, ir::Const::make(t, 0.0)),
                      ir::For::make("i", ir::LoopKind::Serial,
                                    ir::AssignScalar::make("acc", ir::Binary::make(ir::BinaryOp::Add, acc,
                                                                                   ir::Access::make(t, "x", {"i"})))),
                      ir::Store::make("out", {}, acc),
                  }));
}

struct MatrixRow {
    const char *name;
    int64_t I, J;
    bool transposed;  // x stored column-major with padding
    bool y_broadcast; // y's stride is 0
    int parts;
};

const MatrixRow kMatrixRows[] = {
    {"contiguous", 37, 45, false, false, 1},
    {"transposed and padded x, split in two", 33, 20, true, false, 2},
    {"stride-0 y, split in three", 20, 67, false, true, 3},
};

} // namespace

TEST_CASE_TEMPLATE("host backend: elementwise, max/min reductions, no parallel loop", T, float, double) {
    DType t = dtype_of<T>();
    auto module = HostModule::compile({elementwise_kernel(t), range_kernel(t), total_kernel(t)});
    const double eps = std::numeric_limits<T>::epsilon();

    for (const MatrixRow &r : kMatrixRows) {
        Strided<T> x({r.I, r.J}, r.transposed ? packed({r.I, r.J}, {0, 1}, 3) : packed({r.I, r.J}, {1, 0}, 0));
        Strided<T> y({r.J}, {r.y_broadcast ? 0 : 1});
        x.randomize();
        y.randomize();
        std::vector<int64_t> extents{r.I, r.J};

        SUBCASE((std::string("elementwise: ") + r.name).c_str()) {
            Strided<T> out({r.I, r.J}, packed({r.I, r.J}, {1, 0}, 0));
            void *data[] = {x.data.data(), y.data.data(), out.data.data()};
            run_split(module->function("elementwise"), data, concat({&x.strides, &y.strides, &out.strides}), extents,
                      r.I, r.parts);
            Mismatches bad;
            for (int64_t i = 0; i < r.I; ++i)
                for (int64_t j = 0; j < r.J; ++j) {
                    double xv = x.at({i, j}), yv = y.at({j});
                    double want = std::max(xv - yv, 0.25) / (std::min(xv, yv) + 3.0);
                    bad.expect(out.at({i, j}), want, 8 * eps * (std::abs(want) + 1));
                }
            CHECK(bad.count == 0);
        }
        SUBCASE((std::string("max - min over j: ") + r.name).c_str()) {
            Strided<T> out({r.I}, {1});
            void *data[] = {x.data.data(), out.data.data()};
            run_split(module->function("range"), data, concat({&x.strides, &out.strides}), extents, r.I, r.parts);
            Mismatches bad;
            for (int64_t i = 0; i < r.I; ++i) {
                double hi = -INFINITY, lo = INFINITY;
                for (int64_t j = 0; j < r.J; ++j)
                    hi = std::max(hi, double(x.at({i, j}))), lo = std::min(lo, double(x.at({i, j})));
                bad.expect(out.at({i}), hi - lo, eps * (hi - lo)); // max/min are exact: one rounding
            }
            CHECK(bad.count == 0);
        }
    }

    SUBCASE("sum without a parallel loop ignores begin and end") {
        const int64_t n = 1000;
        Strided<T> x({n}, {3}), out({}, {});
        x.randomize();
        void *data[] = {x.data.data(), out.data.data()};
        std::vector<int64_t> strides{3}, extents{n};
        module->function("total")(data, strides.data(), extents.data(), 0, 0);
        double want = 0, magnitude = 0;
        for (int64_t i = 0; i < n; ++i)
            want += x.at({i}), magnitude += std::abs(double(x.at({i})));
        CHECK(std::abs(double(out.data[0]) - want) <= tolerance<T>(n) * magnitude);
    }
}

TEST_CASE("host backend: LLVM IR text and errors") {
    std::vector<ir::Kernel> kernels{bmm_kernel(DType::F32), elementwise_kernel(DType::F64)};
    SUBCASE("emit_llvm_ir defines every kernel, after a header naming einfuse") {
        std::string text = einfuse::llvm_backend::emit_llvm_ir(kernels);
        CHECK(text.rfind("; einfuse ", 0) == 0);
        CHECK(text.find("define void @bmm(") != std::string::npos);
        CHECK(text.find("define void @elementwise(") != std::string::npos);
        CHECK(text.find("@bmm.body") == std::string::npos); // the noalias helper is inlined away
    }
    SUBCASE("optimized_ir is the same text; the inner loop is vectorised") {
        auto module = HostModule::compile(kernels);
        CHECK(module->optimized_ir() == einfuse::llvm_backend::emit_llvm_ir(kernels));
        CHECK(module->optimized_ir().find(" x double>") != std::string::npos);
    }
    SUBCASE("an unknown kernel name is an internal error") {
        auto module = HostModule::compile(kernels);
        CHECK_THROWS_AS(module->function("nope"), einfuse::InternalError);
    }
    SUBCASE("arithmetic directly in f16 or bf16 is an internal error (the frontend computes in f32)") {
        CHECK_THROWS_AS(HostModule::compile({bmm_kernel(DType::F16)}), einfuse::InternalError);
        CHECK_THROWS_AS(HostModule::compile({elementwise_kernel(DType::BF16)}), einfuse::InternalError);
    }
    SUBCASE("malformed kernels are internal errors") {
        ir::Kernel unknown = elementwise_kernel(DType::F32);
        unknown.params[1].name = "z"; // y is read but is no parameter
        CHECK_THROWS_AS(HostModule::compile({unknown}), einfuse::InternalError);
        CHECK_THROWS_AS(HostModule::compile({bmm_kernel(DType::F32), bmm_kernel(DType::F32)}), einfuse::InternalError);
    }
}

// Every element type: f16/bf16 read through Cast(f32) and stored through Cast(f16|bf16), integer
// kernels (exact, wrapping), mixed precision, and the bits of every conversion against
// support/Half.cpp.

