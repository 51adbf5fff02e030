// The C++ API's failures are einfuse::Error with a clear message (issue 14 item 12): an array of
// the caller's sizes that the machine will not give is an Error (Input, as an internal tensor's:
// "cannot allocate N bytes ...: out of memory"), where std::bad_alloc used to escape from Array
// and from the allocating calls.
#include "einfuse/einfuse.hpp"

#include <doctest/doctest.h>

#include <string>
#include <vector>

namespace {

/** The Error that f throws; fails the test on anything else (std::bad_alloc included). */
template <class F> einfuse::Error error_of(F &&f) {
    try {
        f();
    } catch (const einfuse::Error &e) {
        return e;
    } catch (const std::exception &e) {
        FAIL("not an einfuse::Error: " << e.what());
    }
    FAIL("no error");
    return einfuse::Error::input("", "");
}

} // namespace

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define EINFUSE_SANITIZED 1 // their allocators abort on a 16 TiB request rather than fail it
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define EINFUSE_SANITIZED 1
#endif
#endif

#ifndef EINFUSE_SANITIZED
TEST_CASE("messages: an allocation the machine refuses is einfuse::Error, not std::bad_alloc") {
    // 2^41 f64 elements (16 TiB): fits int64, so the checks of sizes pass, and malloc refuses it.
    einfuse::Error e = error_of([] { einfuse::Array a(einfuse::ScalarType::F64, {int64_t{1} << 41}); });
    CHECK(e.kind() == einfuse::ErrorKind::Input);
    CHECK(e.message().find("cannot allocate 17592186044416 bytes") != std::string::npos);
    CHECK(e.message().find("out of memory") != std::string::npos);
    CHECK(std::string(e.what()).rfind("einfuse: error: cannot allocate", 0) == 0);

    // The allocating einsum: an outer product of 2^21 x 2^21 f32 (16 TiB) for its result.
    std::vector<float> x(1 << 21, 1.0f);
    einfuse::View v(x.data(), {int64_t{1} << 21});
    e = error_of([&] { einfuse::einsum("i,j->ij", v, v); });
    CHECK(e.kind() == einfuse::ErrorKind::Input);
    CHECK(e.message().find("out of memory") != std::string::npos);
}
#endif
