#pragma once
// Helpers for the host backend tests: hand-built loop nests, strided buffers, double-loop
// references. Internal linkage (an anonymous namespace) on purpose: each test file gets its own.
#include "backends/llvm/HostJit.h"
#include "support/Error.h"
#include "support/Half.h"
#include "support/Tensor.h"
#include <doctest/doctest.h>
#include <cmath>
#include <cstring>
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

/** A kernel whose params keep the dtypes given. */
ir::Kernel typed_kernel(std::string name, std::vector<ir::TensorInfo> params, int num_inputs,
                        std::vector<std::string> vars, ir::Stmt body) {
    ir::Kernel k;
    k.name = std::move(name);
    k.comment = "hand-built for the host backend test";
    k.params = std::move(params);
    k.num_inputs = num_inputs;
    k.index_vars = std::move(vars);
    k.body = std::move(body);
    return k;
}

/** A kernel whose params all have type t. */
ir::Kernel kernel(std::string name, DType t, std::vector<ir::TensorInfo> params, int num_inputs,
                  std::vector<std::string> vars, ir::Stmt body) {
    for (auto &p : params)
        p.dtype = t;
    return typed_kernel(std::move(name), std::move(params), num_inputs, std::move(vars), std::move(body));
}

ir::Stmt nest(std::vector<std::string> vars, ir::LoopKind kind, ir::Stmt body) {
    for (auto it = vars.rbegin(); it != vars.rend(); ++it)
        body = ir::For::make(*it, kind, body);
    return body;
}

/** "bij,bjk->bik": parallel b, i, k { acc = 0; for j { acc = acc + in0[b,i,j] * in1[b,j,k] }
 *  out[b,i,k] = acc } */
[[maybe_unused]] ir::Kernel bmm_kernel(DType t) {
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
