// The LLVM host backend on hand-built loop nests: each kernel runs on fresh random data under
// contiguous, permuted-and-padded and stride-0 layouts, with the outer parallel loop split over
// several calls, and is compared with a plain double loop written here.
#include "backends/llvm/HostJit.h"
#include "support/Error.h"

#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <random>

namespace {

namespace ir = einfuse::ir;
using einfuse::DType;
using einfuse::llvm_backend::HostKernelFn;
using einfuse::llvm_backend::HostModule;

std::mt19937_64 &rng() {
    static std::mt19937_64 r(std::random_device{}()); // fresh inputs on every run
    return r;
}

template <class T> DType dtype_of() { return std::is_same_v<T, float> ? DType::F32 : DType::F64; }

/** Worst-case rounding of a length-n reduction in T, relative to the sum of magnitudes. */
template <class T> double tolerance(int64_t n) { return 2.0 * std::numeric_limits<T>::epsilon() * double(n + 1); }

/** Strides of a tensor of `extents` laid out with dimension order[0] innermost, order[1] next, ...,
 * and `pad` unused elements after each dimension (so nothing is contiguous when pad > 0). */
std::vector<int64_t> packed(const std::vector<int64_t> &extents, const std::vector<int> &order, int64_t pad) {
    std::vector<int64_t> strides(extents.size());
    int64_t step = 1;
    for (int d : order) {
        strides[d] = step;
        step *= extents[d] + pad;
    }
    return strides;
}

/** A tensor of T at arbitrary non-negative strides: element idx lives at sum idx[d] * strides[d]. */
template <class T> struct Strided {
    std::vector<int64_t> strides;
    std::vector<T> data;

    Strided(const std::vector<int64_t> &extents, std::vector<int64_t> s) : strides(std::move(s)) {
        int64_t size = 1;
        for (std::size_t d = 0; d < extents.size(); ++d)
            size += (extents[d] - 1) * strides[d];
        data.assign(size, std::numeric_limits<T>::quiet_NaN()); // an element never written fails
    }
    void randomize() {
        std::uniform_real_distribution<double> u(-1.0, 1.0);
        for (T &x : data)
            x = static_cast<T>(u(rng()));
    }
    T &at(std::initializer_list<int64_t> idx) {
        int64_t offset = 0, d = 0;
        for (int64_t i : idx)
            offset += i * strides[d++];
        return data[offset];
    }
};

std::vector<int64_t> concat(std::initializer_list<const std::vector<int64_t> *> parts) {
    std::vector<int64_t> all;
    for (const auto *p : parts)
        all.insert(all.end(), p->begin(), p->end());
    return all;
}

/** Runs fn over the outer extent n in `parts` calls, as the thread pool would. parts == 0: one
 * call with a range that overreaches [0, n) on both sides (the kernel clamps it); parts == -1:
 * one call over [1, n - 1) only. */
void run_split(HostKernelFn fn, void *const *data, const std::vector<int64_t> &strides,
               const std::vector<int64_t> &extents, int64_t n, int parts) {
    if (parts == 0) return fn(data, strides.data(), extents.data(), -3, n + 7);
    if (parts == -1) return fn(data, strides.data(), extents.data(), 1, n - 1);
    for (int p = 0; p < parts; ++p)
        fn(data, strides.data(), extents.data(), n * p / parts, n * (p + 1) / parts);
}

/** Counts elements outside the bound; NaN (never written) counts as wrong. */
struct Mismatches {
    int count = 0;
    void expect(double got, double want, double bound) {
        if (!(std::abs(got - want) <= bound)) ++count;
    }
};

ir::Kernel kernel(std::string name, DType t, std::vector<ir::TensorInfo> params, int num_inputs,
                  std::vector<std::string> vars, ir::Stmt body) {
    ir::Kernel k;
    k.name = std::move(name);
    k.comment = "hand-built for the host backend test";
    k.params = std::move(params);
    for (auto &p : k.params)
        p.dtype = t;
    k.num_inputs = num_inputs;
    k.index_vars = std::move(vars);
    k.body = std::move(body);
    return k;
}

ir::Stmt nest(std::vector<std::string> vars, ir::LoopKind kind, ir::Stmt body) {
    for (auto it = vars.rbegin(); it != vars.rend(); ++it)
        body = ir::For::make(*it, kind, body);
    return body;
}

/** "bij,bjk->bik": parallel b, i, k { acc = 0; for j { acc = acc + in0[b,i,j] * in1[b,j,k] }
 *  out[b,i,k] = acc } */
ir::Kernel bmm_kernel(DType t) {
    auto acc = ir::ScalarRef::make(t, "acc");
    auto product = ir::Binary::make(ir::BinaryOp::Mul, ir::Access::make(t, "in0", {"b", "i", "j"}),
                                    ir::Access::make(t, "in1", {"b", "j", "k"}));
    auto body = ir::Block::make({
        ir::DeclareScalar::make("acc", t, ir::Const::make(t, 0.0)),
        ir::For::make("j", ir::LoopKind::Serial,
                      ir::AssignScalar::make("acc", ir::Binary::make(ir::BinaryOp::Add, acc, product))),
        ir::Store::make("out", {"b", "i", "k"}, acc),
    });
    return kernel("bmm", t, {{"in0", t, 3}, {"in1", t, 3}, {"out", t, 3}}, 2, {"b", "i", "j", "k"},
                  nest({"b", "i", "k"}, ir::LoopKind::Parallel, body));
}

enum class Layout { Contiguous, Permuted, Broadcast };

struct BmmRow {
    const char *name;
    int64_t B, I, J, K;
    Layout layout;
    int parts; // calls that split the b loop (see run_split)
};

const BmmRow kBmmRows[] = {
    {"contiguous, one call", 5, 3, 7, 4, Layout::Contiguous, 1},
    {"contiguous, b split in two calls", 6, 3, 7, 4, Layout::Contiguous, 2},
    {"contiguous, 64x16x33x16, split in three", 64, 16, 33, 16, Layout::Contiguous, 3},
    {"permuted and padded", 9, 4, 5, 3, Layout::Permuted, 1},
    {"permuted and padded, 32x16x16x17, split in two", 32, 16, 16, 17, Layout::Permuted, 2},
    {"stride 0 on in0's b and in1's k, split in two", 8, 3, 3, 3, Layout::Broadcast, 2},
    {"range beyond [0, B) is clamped", 7, 2, 3, 2, Layout::Contiguous, 0},
    {"only b in [begin, end) is written", 6, 3, 4, 5, Layout::Permuted, -1},
};

template <class T> void check_bmm(HostKernelFn fn, const BmmRow &r) {
    std::vector<int64_t> e0{r.B, r.I, r.J}, e1{r.B, r.J, r.K}, e2{r.B, r.I, r.K};
    auto strides = [&](const std::vector<int64_t> &e, int operand) {
        switch (r.layout) {
        case Layout::Contiguous:
            return packed(e, {2, 1, 0}, 0);
        case Layout::Permuted:
            return operand == 1 ? packed(e, {1, 2, 0}, 1) : packed(e, {0, 2, 1}, 2);
        case Layout::Broadcast:
            if (operand == 0) return std::vector<int64_t>{0, r.J, 1}; // one matrix for every b
            if (operand == 1) return std::vector<int64_t>{r.J, 1, 0}; // every column equal
            return packed(e, {2, 1, 0}, 0);
        }
        return packed(e, {2, 1, 0}, 0);
    };
    Strided<T> a(e0, strides(e0, 0)), b(e1, strides(e1, 1)), out(e2, strides(e2, 2));
    a.randomize();
    b.randomize();
    void *data[] = {a.data.data(), b.data.data(), out.data.data()};
    run_split(fn, data, concat({&a.strides, &b.strides, &out.strides}), {r.B, r.I, r.J, r.K}, r.B, r.parts);

    Mismatches bad;
    for (int64_t ib = 0; ib < r.B; ++ib)
        for (int64_t i = 0; i < r.I; ++i)
            for (int64_t k = 0; k < r.K; ++k) {
                if (r.parts == -1 && (ib == 0 || ib == r.B - 1)) { // outside the range: untouched
                    bad.count += !std::isnan(out.at({ib, i, k}));
                    continue;
                }
                double want = 0, magnitude = 0;
                for (int64_t j = 0; j < r.J; ++j) {
                    double p = double(a.at({ib, i, j})) * double(b.at({ib, j, k}));
                    want += p;
                    magnitude += std::abs(p);
                }
                bad.expect(out.at({ib, i, k}), want, tolerance<T>(r.J) * magnitude);
            }
    CHECK(bad.count == 0);
}

} // namespace

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
    SUBCASE("an element type the host does not compute is a target error") {
        CHECK_THROWS_AS(HostModule::compile({bmm_kernel(DType::F16)}), einfuse::TargetError);
    }
    SUBCASE("malformed kernels are internal errors") {
        ir::Kernel unknown = elementwise_kernel(DType::F32);
        unknown.params[1].name = "z"; // y is read but is no parameter
        CHECK_THROWS_AS(HostModule::compile({unknown}), einfuse::InternalError);
        CHECK_THROWS_AS(HostModule::compile({bmm_kernel(DType::F32), bmm_kernel(DType::F32)}), einfuse::InternalError);
    }
}
