// support/DiskCache: round trip, keys it refuses, the environment's folder, a corrupt or
// truncated entry read as a miss and replaced, and writers racing on one key (threads and
// processes) leaving one whole entry and no temporary files. The hostile probes of issue 14 are
// in disk_cache_security_test.cpp.
#include "support/DiskCache.h"

#include <doctest/doctest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <set>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

using einfuse::DiskCache;
namespace fs = std::filesystem;

namespace {

/** A fresh folder under the system's temporary directory, removed at the end of the test. */
struct TempFolder {
    fs::path path;
    TempFolder() {
        std::random_device r;
        path = fs::temp_directory_path() / ("einfuse-cache-test-" + std::to_string(r()) + std::to_string(::getpid()));
    }
    ~TempFolder() {
        std::error_code ignored;
        fs::remove_all(path, ignored);
    }
};

std::string payload(std::size_t n, unsigned seed) {
    std::mt19937 g(seed);
    std::string s(n, '\0');
    for (char &c : s) c = static_cast<char>(g());
    return s;
}

} // namespace

TEST_CASE("disk cache: round trip, misses, refused keys, hashes") {
    TempFolder dir;
    DiskCache cache(dir.path.string());
    std::string key = einfuse::content_hash("some IR");
    CHECK(key.size() == 32);
    CHECK(key != einfuse::content_hash("some IR "));
    CHECK(key == einfuse::content_hash("some IR"));
    CHECK_FALSE(cache.load(key));
    std::string bytes = payload(10000, 1);
    bytes[5] = '\0'; // binary data, zeros included
    cache.store(key, bytes);
    CHECK(cache.load(key) == bytes);
    cache.store(key, "replaced");
    CHECK(cache.load(key) == std::string("replaced"));
    cache.store(key, "");
    CHECK(cache.load(key) == std::string());
    cache.store("../escape", "x"); // not a key: nothing written outside the folder
    CHECK_FALSE(cache.load("../escape"));
    CHECK_FALSE(fs::exists(dir.path.parent_path() / "escape.bin"));
    CHECK_FALSE(DiskCache("").enabled());
}

TEST_CASE("disk cache: EINFUSE_CACHE_DIR names the folder, off disables it") {
    const char *old = std::getenv("EINFUSE_CACHE_DIR");
    std::string saved = old ? old : "";
    setenv("EINFUSE_CACHE_DIR", "off", 1);
    CHECK_FALSE(DiskCache::from_environment("host").enabled());
    setenv("EINFUSE_CACHE_DIR", "OFF", 1); // not a folder named ./OFF
    CHECK_FALSE(DiskCache::from_environment("host").enabled());
    setenv("EINFUSE_CACHE_DIR", "/somewhere", 1);
    CHECK(DiskCache::from_environment("host").folder() == "/somewhere/host");
    if (old) setenv("EINFUSE_CACHE_DIR", saved.c_str(), 1);
    else unsetenv("EINFUSE_CACHE_DIR");
}

TEST_CASE("disk cache: a corrupt or truncated entry is a miss, removed, and rebuilt") {
    TempFolder dir;
    DiskCache cache(dir.path.string());
    std::string key = einfuse::content_hash("kernel"), bytes = payload(4096, 2);
    fs::path file = dir.path / (key + ".bin");
    SUBCASE("one flipped byte in the payload") {
        cache.store(key, bytes);
        std::fstream f(file, std::ios::in | std::ios::out | std::ios::binary);
        f.seekp(100);
        f.put(static_cast<char>(bytes[100 - 48] ^ 0x40)); // 48 bytes of header come first
    }
    SUBCASE("truncated") {
        cache.store(key, bytes);
        fs::resize_file(file, 1000);
    }
    SUBCASE("not an entry at all") {
        fs::create_directories(dir.path);
        std::ofstream(file) << "garbage";
    }
    CHECK_FALSE(cache.load(key));
    CHECK_FALSE(fs::exists(file));
    cache.store(key, bytes);
    CHECK(cache.load(key) == bytes);
}

TEST_CASE("disk cache: concurrent writers of one key, threads and processes") {
    TempFolder dir;
    std::string key = einfuse::content_hash("shared");
    std::string bytes = payload(1 << 20, 3); // 1 MiB: writes take long enough to overlap
    std::vector<std::thread> writers;
    for (int t = 0; t < 4; ++t)
        writers.emplace_back([&] {
            DiskCache cache(dir.path.string());
            for (int r = 0; r < 10; ++r) {
                cache.store(key, bytes);
                auto got = cache.load(key);
                CHECK((got && *got == bytes));
            }
        });
    for (auto &w : writers) w.join();

    std::vector<pid_t> children;
    for (int p = 0; p < 3; ++p) {
        pid_t pid = fork();
        if (pid == 0) {
            DiskCache cache(dir.path.string());
            bool ok = true;
            for (int r = 0; r < 10; ++r) {
                cache.store(key, bytes);
                auto got = cache.load(key);
                ok = ok && got && *got == bytes;
            }
            _exit(ok ? 0 : 1);
        }
        children.push_back(pid);
    }
    for (pid_t pid : children) {
        int status = 0;
        waitpid(pid, &status, 0);
        CHECK((WIFEXITED(status) && WEXITSTATUS(status) == 0));
    }
    CHECK(DiskCache(dir.path.string()).load(key) == bytes);
    std::set<std::string> files;
    for (const auto &e : fs::directory_iterator(dir.path)) files.insert(e.path().filename().string());
    CHECK(files == std::set<std::string>{key + ".bin", "secret"}); // no temporary file left behind
}
