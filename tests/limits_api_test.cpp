// Issue 14's probes through the public C++ API: sizes whose byte counts wrap, views whose reach
// overflows, and nesting deep enough to overflow a small thread stack. Each is an einfuse::Error
// of kind Input now; each crashed or wrote past a buffer before.
#include "einfuse/einfuse.hpp"

#include <doctest/doctest.h>

#include <functional>
#include <pthread.h>
#include <string>

namespace pub = einfuse;

namespace {

std::string repeat(const std::string &s, int n) {
    std::string out;
    for (int i = 0; i < n; ++i) out += s;
    return out;
}

/** Runs f on a thread with a 256 KiB stack (std::thread cannot choose its stack size). */
void on_small_stack(const std::function<void()> &f) {
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    REQUIRE(pthread_attr_setstacksize(&attr, 256 * 1024) == 0);
    pthread_t thread;
    auto call = [](void *p) -> void * {
        (*static_cast<const std::function<void()> *>(p))();
        return nullptr;
    };
    REQUIRE(pthread_create(&thread, &attr, call, const_cast<std::function<void()> *>(&f)) == 0);
    pthread_join(thread, nullptr);
    pthread_attr_destroy(&attr);
}

bool input_error(const std::function<void()> &f, const std::string &part) {
    try {
        f();
    } catch (const pub::Error &e) {
        return e.kind() == pub::ErrorKind::Input && e.message().find(part) != std::string::npos;
    }
    return false;
}

} // namespace

TEST_CASE("public API limits: an Array whose byte count wraps is refused, never a tiny buffer") {
    // (2^61 + 2) f64 elements: 16 bytes when the product wrapped.
    CHECK(input_error([] { pub::Array(pub::ScalarType::F64, {(int64_t{1} << 61) + 2}); }, "does not fit 64 bits"));
    CHECK(input_error([] { pub::Array(pub::ScalarType::F32, {int64_t{1} << 31, int64_t{1} << 31}); },
                      "does not fit 64 bits"));
    pub::Array small(pub::ScalarType::F64, {3, 4});
    CHECK(small.nbytes() == 96);
}

TEST_CASE("public API limits: a view whose reach overflows is refused; a broadcast view's output is too large") {
    float one = 1;
    // Broadcast over 2^62 + 16 elements: the view reaches one float, but the result would need
    // 2^64 + 64 bytes (64 when it wrapped, then written past).
    pub::View huge(&one, pub::ScalarType::F32, {(int64_t{1} << 62) + 16}, {0});
    CHECK(input_error([&] { pub::einsum("i->i", huge); }, "does not fit 64 bits"));
    CHECK(input_error([&] { pub::View(&one, pub::ScalarType::F32, {3}, {int64_t{1} << 62}); }, "reach"));
    DLTensor t{};
    int64_t shape[1] = {2}, strides[1] = {INT64_MAX / 2};
    t.data = &one;
    t.device = {kDLCPU, 0};
    t.ndim = 1;
    t.dtype = {kDLFloat, 32, 1};
    t.shape = shape;
    t.strides = strides;
    CHECK(input_error([&] { pub::from_dlpack(t); }, "reach"));
}

TEST_CASE("public API limits: nesting past the limits is an Input error on a 256 KiB stack; just under runs") {
    // Limits (frontend/Limits.h): nesting 96, tree depth 192.
    std::vector<float> b{-2, 0.5f, 3, 4};
    pub::View bv(b.data(), {4});
    bool refused = false;
    on_small_stack([&] {
        refused = input_error([&] { pub::einsum("a[i] = " + repeat("(", 2000) + "b[i]" + repeat(")", 2000), bv); },
                              "nests more than");
    });
    CHECK(refused);
    bool chain_refused = false;
    on_small_stack([&] {
        chain_refused = input_error([&] { pub::einsum("a[i] = b[i]" + repeat(" + b[i]", 12000), bv); }, "levels deep");
    });
    CHECK(chain_refused);

    // At both limits at once: 94 parentheses around a chain 191 deep.
    std::vector<double> got;
    on_small_stack([&] {
        try {
            got = pub::einsum("a[i] = " + repeat("(", 94) + "b[i]" + repeat(" + b[i]", 190) + repeat(")", 94), bv)
                      .to_doubles();
        } catch (const pub::Error &e) {
            MESSAGE(e.what());
        }
    });
    REQUIRE(got.size() == 4);
    for (int i = 0; i < 4; ++i) CHECK(got[i] == doctest::Approx(191.0 * b[i]));

    // Calls nest in the parser and in every later walk: 94 of them around a chain, 191 deep.
    std::vector<double> called;
    on_small_stack([&] {
        try {
            called = pub::einsum("a[i] = " + repeat("relu(", 94) + "b[i]" + repeat(" + b[i]", 96) + repeat(")", 94), bv)
                         .to_doubles();
        } catch (const pub::Error &e) {
            MESSAGE(e.what());
        }
    });
    REQUIRE(called.size() == 4);
    for (int i = 0; i < 4; ++i) CHECK(called[i] == doctest::Approx(b[i] > 0 ? 97.0 * b[i] : 0));
}

TEST_CASE("public API limits: opt_einsum's test_large_path (a 51-operand chain) runs on the host") {
    // ab,bc,...,YZ->aZ over 2x2 float64 matrices: 50 pairwise steps, against the chained product.
    const std::string letters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
    std::string spec;
    for (int k = 0; k + 1 < 52; ++k) spec += std::string(k ? "," : "") + letters[k] + letters[k + 1];
    spec += "->aZ";
    std::vector<std::vector<double>> mats;
    std::vector<pub::View> views;
    for (int k = 0; k < 51; ++k) mats.push_back({1.0 + 0.01 * k, -0.5, 0.25, 0.75 - 0.01 * k});
    for (auto &m : mats) views.emplace_back(m.data(), std::vector<int64_t>{2, 2});
    std::vector<double> got = pub::einsum(spec, views).to_doubles();
    std::vector<double> want = mats[0];
    for (int k = 1; k < 51; ++k) {
        const auto &b = mats[k];
        want = {want[0] * b[0] + want[1] * b[2], want[0] * b[1] + want[1] * b[3], want[2] * b[0] + want[3] * b[2],
                want[2] * b[1] + want[3] * b[3]};
    }
    REQUIRE(got.size() == 4);
    for (int e = 0; e < 4; ++e) CHECK(got[e] == doctest::Approx(want[e]).epsilon(1e-12));
}
