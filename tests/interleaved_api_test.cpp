// numpy's interleaved einsum form in the C++ API (issue 15 item 6):
// einfuse::einsum(a, {0, 1}, b, {1, 2}, {0, 2}) as numpy's einsum(a, [0, 1], b, [1, 2], [0, 2]).
#include "einfuse/einfuse.hpp"

#include <doctest/doctest.h>

#include <cstdint>
#include <string>
#include <vector>

using einfuse::View;

namespace {

std::vector<double> ramp(std::size_t n, double scale) {
    std::vector<double> v(n);
    for (std::size_t i = 0; i < n; ++i) v[i] = scale * static_cast<double>((i * 13) % 7) - 0.5;
    return v;
}

bool same(const einfuse::Array &a, const einfuse::Array &b) { return a.shape() == b.shape() && a.to_doubles() == b.to_doubles(); }

} // namespace

TEST_CASE("interleaved einsum: the label lists give the subscripts numpy would") {
    std::vector<double> a = ramp(12, 0.5), b = ramp(20, 0.25), m = ramp(9, 1.0), x = ramp(24, 0.125);
    View A(a.data(), {3, 4}), B(b.data(), {4, 5}), M(m.data(), {3, 3}), X(x.data(), {2, 3, 4});
    CHECK(einfuse::interleaved_subscripts({A, {0, 1}, B, {1, 2}, {0, 2}}) == "ab,bc->ac");
    CHECK(einfuse::interleaved_subscripts({X, {einfuse::ellipsis, 25, 26}, {26, einfuse::ellipsis}}) == "...zA->A...");

    CHECK(same(einfuse::einsum(A, {0, 1}, B, {1, 2}, {0, 2}), einfuse::einsum("ab,bc->ac", A, B)));
    CHECK(same(einfuse::einsum(A, {0, 1}, B, {1, 2}), einfuse::einsum("ab,bc", A, B))); // implicit output
    CHECK(same(einfuse::einsum(M, {0, 0}), einfuse::einsum("aa", M)));                   // the trace
    CHECK(same(einfuse::einsum(M, {0, 0}, {0}), einfuse::einsum("aa->a", M)));           // the diagonal
    CHECK(same(einfuse::einsum(A, {0, 1}, {}), einfuse::einsum("ab->", A)));             // {}: a scalar, as numpy's []
    CHECK(same(einfuse::einsum(X, {einfuse::ellipsis, 1}, B, {1, 2}, {einfuse::ellipsis, 2}),
               einfuse::einsum("...b,bc->...c", X, B)));
    std::vector<int> labels = {1, 0};
    CHECK(same(einfuse::einsum(A, labels), einfuse::einsum("ba", A)));
}

TEST_CASE("interleaved einsum: malformed argument lists are Input errors") {
    std::vector<double> a = ramp(4, 1.0);
    View A(a.data(), {2, 2});
    auto message = [](auto &&f) {
        try {
            f();
        } catch (const einfuse::Error &e) {
            CHECK(e.kind() == einfuse::ErrorKind::Input);
            return std::string(e.what());
        }
        return std::string("no error");
    };
    CHECK(message([&] { einfuse::einsum(A, {0, 52}); }).find("label 52") != std::string::npos);
    CHECK(message([&] { einfuse::einsum(A, A); }).find("no label list") != std::string::npos);
    CHECK(message([&] { einfuse::einsum(A, {0, 1}, A); }).find("no label list") != std::string::npos);
    CHECK(message([&] { einfuse::einsum(A, {0, 1}, {0}, {1}); }).find("where a view belongs") != std::string::npos);
    CHECK(message([&] { einfuse::einsum(A, {0}); }).find("rank") != std::string::npos); // the einsum's own check
}
