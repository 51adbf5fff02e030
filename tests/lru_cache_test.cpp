// api/LruCache.h: the library's one compile cache keeps the most recently used entries up to its
// capacity, counts hits and misses, and never invalidates a value a caller still holds.
#include "api/LruCache.h"

#include <doctest/doctest.h>

#include <string>

using einfuse::LruCache;

namespace {
std::shared_ptr<int> get(LruCache<int> &c, const std::string &key, int value, int *made = nullptr) {
    return c.get_or_make(key, [&] {
        if (made) ++*made;
        return std::make_shared<int>(value);
    });
}
} // namespace

TEST_CASE("lru cache: a hit returns the same value without making it again") {
    LruCache<int> c(4);
    int made = 0;
    auto a = get(c, "a", 1, &made);
    auto again = get(c, "a", 2, &made);
    CHECK(a.get() == again.get());
    CHECK(*again == 1);
    CHECK(made == 1);
    auto s = c.stats();
    CHECK(s.hits == 1);
    CHECK(s.misses == 1);
    CHECK(s.entries == 1);
    CHECK(s.capacity == 4);
}

TEST_CASE("lru cache: beyond its capacity the least recently used goes first") {
    LruCache<int> c(2);
    auto a = get(c, "a", 1);
    get(c, "b", 2);
    get(c, "a", 0);             // a is now the most recently used
    get(c, "c", 3);             // drops b, not a
    CHECK(c.stats().entries == 2);
    int made = 0;
    get(c, "a", 0, &made);
    CHECK(made == 0);           // still cached
    get(c, "b", 2, &made);
    CHECK(made == 1);           // was dropped, so made again; c, now the least recently used, goes
    CHECK(c.stats().entries == 2);
    CHECK(*a == 1);             // a value handed out stays valid whatever the cache does
}

TEST_CASE("lru cache: clear drops every entry; values held stay valid; capacity is at least 1") {
    LruCache<int> c(0);
    CHECK(c.stats().capacity == 1);
    auto a = get(c, "a", 7);
    get(c, "b", 8);
    CHECK(c.stats().entries == 1);
    c.clear();
    CHECK(c.stats().entries == 0);
    CHECK(*a == 7);
}
