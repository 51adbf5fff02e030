// The C ABI with bool and the 8-64-bit integers as numpy and torch export them through DLPack
// (issue 15 item 1): kDLBool (code 6, 8 bits), kDLInt and kDLUInt with their bits. The expected
// values are numpy 1.24's np.einsum on the same arrays: sums wrap in the result type, bools sum
// as the or of ands, and the result type is numpy's promotion (an output of another type is
// refused).
#include "einfuse/einfuse.h"

#include <doctest/doctest.h>

#include <complex>
#include <cstdint>
#include <string>
#include <vector>

namespace {

constexpr uint8_t kBool = 6; // kDLBool of DLPack 0.8; the installed header is 0.6

template <class T> DLTensor host(std::vector<T> &v, uint8_t code, int ndim, int64_t *shape) {
    DLTensor t{};
    t.data = v.data();
    t.device = {kDLCPU, 0};
    t.ndim = ndim;
    t.dtype = {code, static_cast<uint8_t>(8 * sizeof(T)), 1};
    t.shape = shape;
    return t;
}

/** einfuse_einsum(spec) of the 1-D a and b (or a alone when b is empty) into a scalar of T. */
template <class T> T contract(const char *spec, std::vector<T> a, std::vector<T> b, uint8_t code) {
    int64_t n[1] = {static_cast<int64_t>(a.size())};
    std::vector<T> out{T(7)};
    DLTensor in[2] = {host(a, code, 1, n), host(b, code, 1, n)};
    DLTensor o = host(out, code, 0, nullptr);
    CHECK(einfuse_einsum(spec, b.empty() ? 1 : 2, in, &o) == EINFUSE_OK);
    return out[0];
}

} // namespace

TEST_CASE("C ABI dtypes: bool sums are the or of ands, as np.einsum gives them") {
    CHECK(contract<uint8_t>("i,i->", {1, 0, 1}, {0, 0, 1}, kBool) == 1);
    CHECK(contract<uint8_t>("i,i->", {1, 0, 1}, {0, 1, 0}, kBool) == 0);
    // np.einsum('ij,jk->ik', [[1,0],[0,0]], [[0,1],[1,1]]) = [[0,1],[0,0]]
    std::vector<uint8_t> x{1, 0, 0, 0}, y{0, 1, 1, 1}, z(4, 7);
    int64_t sq[2] = {2, 2};
    DLTensor m[2] = {host(x, kBool, 2, sq), host(y, kBool, 2, sq)};
    DLTensor mo = host(z, kBool, 2, sq);
    REQUIRE(einfuse_einsum("ij,jk->ik", 2, m, &mo) == EINFUSE_OK);
    CHECK(z == std::vector<uint8_t>{0, 1, 0, 0});
    // 'i->' of 256 trues is True, never a count that wraps to 0
    CHECK(contract<uint8_t>("i->", std::vector<uint8_t>(256, 1), {}, kBool) == 1);
}

TEST_CASE("C ABI dtypes: integer sums wrap in the result type, as np.einsum's") {
    // i8: ten 10*10 products are 1000, which wraps to -24; u8: 300 x 200 is 96; i16: 300 x
    // 1000*1000 is -23808; u32: 3 x 70000^2 is 1815098112
    CHECK(contract<int8_t>("i,i->", std::vector<int8_t>(10, 10), std::vector<int8_t>(10, 10), kDLInt) == -24);
    CHECK(contract<uint8_t>("i->", std::vector<uint8_t>(300, 200), {}, kDLUInt) == 96);
    CHECK(contract<int16_t>("i,i->", std::vector<int16_t>(300, 1000), std::vector<int16_t>(300, 1000), kDLInt) ==
          -23808);
    CHECK(contract<uint32_t>("i,i->", std::vector<uint32_t>(3, 70000), std::vector<uint32_t>(3, 70000), kDLUInt) ==
          1815098112u);
    // u64 beyond 2^53, exact: (2^63 + 1) * 1 + 3 * 2^62 is 2^62 + 1 modulo 2^64
    CHECK(contract<uint64_t>("i,i->", {(uint64_t{1} << 63) + 1, 3}, {1, uint64_t{1} << 62}, kDLUInt) ==
          (uint64_t{1} << 62) + 1);
    SUBCASE("u16 diagonal") {
        std::vector<uint16_t> a{1, 2, 3, 4}, out(2, 0);
        int64_t sq[2] = {2, 2}, n[1] = {2};
        DLTensor in = host(a, kDLUInt, 2, sq), o = host(out, kDLUInt, 1, n);
        REQUIRE(einfuse_einsum("ii->i", 1, &in, &o) == EINFUSE_OK);
        CHECK(out == std::vector<uint16_t>{1, 4});
    }
}

TEST_CASE("C ABI dtypes: mixed types promote as numpy; an output of another type is refused") {
    SUBCASE("u8 with i8 gives i16: [200, 100] . [-3, 2] = -400") {
        std::vector<uint8_t> a{200, 100};
        std::vector<int8_t> b{-3, 2};
        std::vector<int16_t> out{0};
        int64_t n[1] = {2};
        DLTensor in[2] = {host(a, kDLUInt, 1, n), host(b, kDLInt, 1, n)};
        DLTensor o = host(out, kDLInt, 0, nullptr);
        REQUIRE(einfuse_einsum("i,i->", 2, in, &o) == EINFUSE_OK);
        CHECK(out[0] == -400);
        std::vector<int8_t> narrow{0};
        DLTensor wrong = host(narrow, kDLInt, 0, nullptr);
        CHECK(einfuse_einsum("i,i->", 2, in, &wrong) != EINFUSE_OK);
        CHECK(std::string(einfuse_last_error()).find("i16") != std::string::npos);
    }
    SUBCASE("u64 with i64 gives f64: 2^63 * -1") {
        std::vector<uint64_t> a{uint64_t{1} << 63};
        std::vector<int64_t> b{-1};
        std::vector<double> out{0};
        int64_t n[1] = {1};
        DLTensor in[2] = {host(a, kDLUInt, 1, n), host(b, kDLInt, 1, n)};
        DLTensor o = host(out, kDLFloat, 0, nullptr);
        REQUIRE(einfuse_einsum("i,i->", 2, in, &o) == EINFUSE_OK);
        CHECK(out[0] == -0x1p63);
    }
    SUBCASE("bool with f32 gives f32") {
        std::vector<uint8_t> a{1, 0, 1};
        std::vector<float> b{0.5f, 8.0f, 0.25f}, out{0};
        int64_t n[1] = {3};
        DLTensor in[2] = {host(a, kBool, 1, n), host(b, kDLFloat, 1, n)};
        DLTensor o = host(out, kDLFloat, 0, nullptr);
        REQUIRE(einfuse_einsum("i,i->", 2, in, &o) == EINFUSE_OK);
        CHECK(out[0] == 0.75f);
    }
    SUBCASE("a DLPack integer of another width is refused, naming the supported ones") {
        std::vector<int32_t> a{1};
        int64_t n[1] = {1};
        DLTensor in = host(a, kDLInt, 1, n), o = host(a, kDLInt, 1, n);
        in.dtype.bits = 24;
        CHECK(einfuse_einsum("i->i", 1, &in, &o) != EINFUSE_OK);
        CHECK(std::string(einfuse_last_error()).find("uint8/16/32/64") != std::string::npos);
    }
}

TEST_CASE("C ABI dtypes: complex64 and complex128 (kDLComplex) as numpy's einsum, c64 with f64 giving c128") {
    // (1+2i)(2-i) + (3-i)(i) = 5+6i; np.einsum('i,i->', a.astype(np.complex64), b) is the same
    std::vector<std::complex<float>> a{{1, 2}, {3, -1}}, b{{2, -1}, {0, 1}}, out{{7, 7}};
    int64_t n[1] = {2};
    DLTensor in[2] = {host(a, kDLComplex, 1, n), host(b, kDLComplex, 1, n)};
    DLTensor o = host(out, kDLComplex, 0, nullptr);
    REQUIRE(einfuse_einsum("i,i->", 2, in, &o) == EINFUSE_OK);
    CHECK(out[0] == std::complex<float>(5, 6));
    CHECK(o.dtype.bits == 64);
    std::vector<double> real{2, 0.5};
    std::vector<std::complex<double>> wide{{0, 0}};
    DLTensor mixed[2] = {host(a, kDLComplex, 1, n), host(real, kDLFloat, 1, n)};
    DLTensor narrow = host(out, kDLComplex, 0, nullptr), o128 = host(wide, kDLComplex, 0, nullptr);
    CHECK(einfuse_einsum("i,i->", 2, mixed, &narrow) != EINFUSE_OK); // the result is c128
    CHECK(std::string(einfuse_last_error()).find("c128") != std::string::npos);
    REQUIRE(einfuse_einsum("i,i->", 2, mixed, &o128) == EINFUSE_OK);
    CHECK(wide[0] == std::complex<double>(3.5, 3.5)); // (1+2i)2 + (3-i)0.5
}
