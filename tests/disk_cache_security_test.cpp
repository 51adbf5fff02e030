// support/DiskCache against a hostile or careless neighbour (issue 14, item 2): planted entries
// (the old format's valid checksum, another folder's MAC, another key's entry), symlinks where
// entries and temporaries go, /dev/zero and FIFOs as entries, folders and entries that others own
// or may write, the folder's mode under umask 000, and eviction to EINFUSE_CACHE_MAX_BYTES.
#include "CliFiles.h"
#include "support/DiskCache.h"

#include <doctest/doctest.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

#include <cstdio>
#include <cstdlib>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

using einfuse::DiskCache;
namespace fs = std::filesystem;

namespace {

using test_files::slurp;

struct TempFolder {
    fs::path path;
    TempFolder() {
        std::random_device r;
        path = fs::temp_directory_path() / ("einfuse-cache-sec-" + std::to_string(r()) + std::to_string(::getpid()));
        fs::create_directories(path);
        fs::permissions(path, fs::perms::owner_all);
    }
    ~TempFolder() {
        std::error_code ignored;
        fs::remove_all(path, ignored);
    }
};

void put_u64(std::string &out, uint64_t v) {
    for (int i = 0; i < 8; ++i)
        out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

/** An entry in the format before the MAC ("EINFCA01", size, XXH3-128): a valid checksum that
 * anyone can compute. */
std::string old_style_entry(const std::string &payload) {
    std::string out = "EINFCA01";
    put_u64(out, payload.size());
    XXH128_hash_t h = XXH3_128bits(payload.data(), payload.size());
    put_u64(out, h.low64);
    put_u64(out, h.high64);
    return out + payload;
}

mode_t mode_of(const fs::path &p) {
    struct stat st {};
    REQUIRE(::lstat(p.c_str(), &st) == 0);
    return st.st_mode & 07777;
}

/** What `body` writes to stderr. */
template <class F> std::string stderr_of(F body) {
    std::fflush(stderr);
    char name[] = "/tmp/einfuse-stderr-XXXXXX";
    int file = ::mkstemp(name);
    int saved = ::dup(2);
    ::dup2(file, 2);
    body();
    std::fflush(stderr);
    ::dup2(saved, 2);
    ::close(saved);
    ::close(file);
    std::string text = slurp(name);
    ::unlink(name);
    return text;
}

bool has(const std::string &text, const std::string &part) { return text.find(part) != std::string::npos; }

} // namespace

TEST_CASE("disk cache security: planted and copied entries are never loaded") {
    TempFolder dir;
    DiskCache cache(dir.path.string());
    const std::string f32 = einfuse::content_hash("kernel f32"), f64 = einfuse::content_hash("kernel f64");
    SUBCASE("an object planted with the old format's valid checksum") {
        cache.store(f64, "the real f64 object"); // makes the folder and its secret
        std::ofstream(dir.path / (f32 + ".bin"), std::ios::binary) << old_style_entry("planted code");
        CHECK_FALSE(cache.load(f32));
        CHECK_FALSE(fs::exists(dir.path / (f32 + ".bin"))); // removed: the caller rebuilds
    }
    SUBCASE("an f32 kernel's entry copied onto the f64 key") {
        cache.store(f32, "f32 object");
        fs::copy_file(dir.path / (f32 + ".bin"), dir.path / (f64 + ".bin"));
        CHECK_FALSE(cache.load(f64));
        CHECK(cache.load(f32) == std::string("f32 object"));
    }
    SUBCASE("an entry from another cache folder (another secret) under the same key") {
        TempFolder other;
        DiskCache(other.path.string()).store(f32, "someone else's object");
        cache.store(f64, "ours");
        fs::copy_file(other.path / (f32 + ".bin"), dir.path / (f32 + ".bin"));
        CHECK_FALSE(cache.load(f32));
    }
    SUBCASE("the secret is 32 bytes, 0600, and differs between folders") {
        cache.store(f32, "x");
        TempFolder other;
        DiskCache(other.path.string()).store(f32, "x");
        CHECK(fs::file_size(dir.path / "secret") == 32);
        CHECK(mode_of(dir.path / "secret") == 0600);
        CHECK(mode_of(dir.path / (f32 + ".bin")) == 0600);
        CHECK(slurp(dir.path / "secret") != slurp(other.path / "secret"));
    }
}

TEST_CASE("disk cache security: symlinks, devices and FIFOs are neither read nor written through") {
    TempFolder dir, outside;
    DiskCache cache(dir.path.string());
    const std::string key = einfuse::content_hash("k");
    const fs::path entry = dir.path / (key + ".bin");
    const fs::path victim = outside.path / "victim";
    std::ofstream(victim) << "root's secret file";
    cache.store(einfuse::content_hash("other"), "y"); // the folder and its secret exist
    SUBCASE("temporaries at every name the old scheme could pick are symlinks to a victim") {
        for (int n = 0; n < 64; ++n)
            fs::create_symlink(victim,
                               dir.path / (key + ".bin.tmp." + std::to_string(::getpid()) + "." + std::to_string(n)));
        cache.store(key, "new object");
        CHECK(slurp(victim) == "root's secret file");
        CHECK(cache.load(key) == std::string("new object"));
    }
    SUBCASE("the entry itself is a symlink to a victim: store replaces the link, load refuses it") {
        fs::create_symlink(victim, entry);
        CHECK_FALSE(cache.load(key));
        CHECK_FALSE(fs::is_symlink(entry));
        fs::create_symlink(victim, entry);
        cache.store(key, "new object");
        CHECK(slurp(victim) == "root's secret file");
        CHECK(cache.load(key) == std::string("new object"));
    }
    SUBCASE("a symlink to /dev/zero is a miss at once, and removed") {
        fs::create_symlink("/dev/zero", entry);
        CHECK_FALSE(cache.load(key));
        CHECK_FALSE(fs::is_symlink(entry));
    }
    SUBCASE("a FIFO does not hang the reader, and is removed") {
        REQUIRE(::mkfifo(entry.c_str(), 0600) == 0);
        CHECK_FALSE(cache.load(key));
        CHECK_FALSE(fs::exists(entry));
        cache.store(key, "rebuilt");
        CHECK(cache.load(key) == std::string("rebuilt"));
    }
    SUBCASE("an entry writable by others, or another user's, is refused") {
        cache.store(key, "object");
        ::chmod(entry.c_str(), 0666);
        CHECK_FALSE(cache.load(key));
        if (::geteuid() == 0) {
            cache.store(key, "object");
            REQUIRE(::chown(entry.c_str(), 65534, 65534) == 0);
            CHECK_FALSE(cache.load(key));
        }
    }
    SUBCASE("remove() drops an entry the caller could not use") {
        cache.store(key, "object the JIT refused");
        cache.remove(key);
        CHECK_FALSE(cache.load(key));
    }
}

TEST_CASE("disk cache security: the folder is the user's own, 0700, and refused otherwise") {
    TempFolder dir;
    SUBCASE("made 0700 (and the secret 0600) even under umask 000") {
        mode_t old = ::umask(0);
        DiskCache cache((dir.path / "a" / "b").string());
        cache.store(einfuse::content_hash("x"), "object");
        ::umask(old);
        CHECK(mode_of(dir.path / "a") == 0700);
        CHECK(mode_of(dir.path / "a" / "b") == 0700);
        CHECK(mode_of(dir.path / "a" / "b" / "secret") == 0600);
        CHECK(cache.refusal().empty());
    }
    SUBCASE("a folder writable by others is refused, with one warning, and nothing is stored") {
        fs::path shared = dir.path / "shared";
        fs::create_directories(shared);
        ::chmod(shared.c_str(), 0777);
        const std::string key = einfuse::content_hash("y");
        std::string err = stderr_of([&] {
            DiskCache cache(shared.string());
            cache.store(key, "object");
            CHECK_FALSE(cache.load(key));
            DiskCache again(shared.string());
            CHECK_FALSE(again.load(key));
            CHECK(has(again.refusal(), "writable by group or others (mode 0777)"));
        });
        CHECK(has(err, "not using the cache folder '" + shared.string() + "'"));
        CHECK(err.find("warning") == err.rfind("warning")); // said once
        CHECK_FALSE(fs::exists(shared / (key + ".bin")));
        CHECK_FALSE(fs::exists(shared / "secret"));
    }
    SUBCASE("a folder that is a symlink is refused") {
        fs::create_directories(dir.path / "real");
        fs::create_directory_symlink(dir.path / "real", dir.path / "link");
        DiskCache cache((dir.path / "link").string());
        stderr_of([&] { CHECK(has(cache.refusal(), "symbolic link")); });
    }
    SUBCASE("another user's folder is refused") {
        fs::path theirs = dir.path / "theirs";
        fs::create_directories(theirs);
        ::chmod(theirs.c_str(), 0755);
        if (::geteuid() == 0)
            REQUIRE(::chown(theirs.c_str(), 65534, 65534) == 0);
        else
            theirs = "/"; // root's
        DiskCache cache(theirs.string());
        stderr_of([&] { CHECK(has(cache.refusal(), "belongs to user")); });
        CHECK_FALSE(cache.load(einfuse::content_hash("z")));
    }
    SUBCASE("a secret that others may read is refused") {
        DiskCache cache(dir.path.string());
        cache.store(einfuse::content_hash("x"), "object");
        ::chmod((dir.path / "secret").c_str(), 0644);
        DiskCache again(dir.path.string());
        stderr_of([&] { CHECK(has(again.refusal(), "secret")); });
        CHECK_FALSE(again.load(einfuse::content_hash("x")));
    }
}

TEST_CASE("disk cache security: processes racing to make a folder agree on one secret") {
    TempFolder dir;
    const std::string folder = (dir.path / "fresh").string(), key = einfuse::content_hash("race");
    std::vector<pid_t> children;
    for (int p = 0; p < 4; ++p) {
        pid_t pid = ::fork();
        if (pid == 0) {
            DiskCache cache(folder);
            cache.store(key, "object " + std::to_string(p));
            ::_exit(cache.refusal().empty() ? 0 : 1);
        }
        children.push_back(pid);
    }
    for (pid_t pid : children) {
        int status = 0;
        ::waitpid(pid, &status, 0);
        CHECK((WIFEXITED(status) && WEXITSTATUS(status) == 0));
    }
    auto got = DiskCache(folder).load(key); // the last writer's entry, under the one secret
    REQUIRE(got);
    CHECK(got->rfind("object ", 0) == 0);
    int files = 0;
    for (const auto &e : fs::directory_iterator(folder))
        files += (void(e), 1);
    CHECK(files == 2); // the entry and the secret; no temporary left
}

TEST_CASE("disk cache security: evicted to EINFUSE_CACHE_MAX_BYTES, least recently used first") {
    const char *old = std::getenv("EINFUSE_CACHE_MAX_BYTES");
    std::string saved = old ? old : "";
    TempFolder dir;
    DiskCache cache(dir.path.string());
    SUBCASE("sizes") {
        setenv("EINFUSE_CACHE_MAX_BYTES", "512M", 1);
        CHECK(DiskCache::max_bytes() == (uint64_t{512} << 20));
        setenv("EINFUSE_CACHE_MAX_BYTES", "1000", 1);
        CHECK(DiskCache::max_bytes() == 1000);
        unsetenv("EINFUSE_CACHE_MAX_BYTES");
        CHECK(DiskCache::max_bytes() == (uint64_t{256} << 20));
        setenv("EINFUSE_CACHE_MAX_BYTES", "lots", 1);
        stderr_of([] { CHECK(DiskCache::max_bytes() == (uint64_t{256} << 20)); });
        setenv("EINFUSE_CACHE_MAX_BYTES", "0", 1);
        cache.store(einfuse::content_hash("a"), "x");
        CHECK_FALSE(cache.load(einfuse::content_hash("a")));
    }
    SUBCASE("the least recently used entry goes; a hit counts as a use") {
        setenv("EINFUSE_CACHE_MAX_BYTES", "10K", 1); // three entries of 3000 + 48 bytes fit, four do not
        const std::string a = einfuse::content_hash("a"), b = einfuse::content_hash("b"),
                          c = einfuse::content_hash("c"), d = einfuse::content_hash("d");
        const std::string payload(3000, 'p');
        cache.store(a, payload);
        cache.store(b, payload);
        cache.store(c, payload);
        const auto now = fs::file_time_type::clock::now();
        fs::last_write_time(dir.path / (a + ".bin"), now - std::chrono::seconds(300));
        fs::last_write_time(dir.path / (b + ".bin"), now - std::chrono::seconds(200));
        fs::last_write_time(dir.path / (c + ".bin"), now - std::chrono::seconds(100));
        CHECK(cache.load(a)); // now the most recent of the three
        cache.store(d, payload);
        CHECK(cache.load(a));
        CHECK_FALSE(cache.load(b));
        CHECK(cache.load(c));
        CHECK(cache.load(d));
    }
    SUBCASE("an entry larger than the limit is neither stored nor read") {
        cache.store(einfuse::content_hash("big"), std::string(5000, 'b'));
        setenv("EINFUSE_CACHE_MAX_BYTES", "4K", 1);
        CHECK_FALSE(cache.load(einfuse::content_hash("big")));
        cache.store(einfuse::content_hash("big"), std::string(5000, 'b'));
        CHECK_FALSE(fs::exists(dir.path / (einfuse::content_hash("big") + ".bin")));
    }
    SUBCASE("a temporary a killed writer left an hour ago is removed by the next store") {
        cache.store(einfuse::content_hash("a"), "x");
        fs::path stale = dir.path / ".dead.bin.tmp-0123456789abcdef";
        std::ofstream(stale) << "half an object";
        fs::last_write_time(stale, fs::file_time_type::clock::now() - std::chrono::hours(2));
        cache.store(einfuse::content_hash("b"), "y");
        CHECK_FALSE(fs::exists(stale));
    }
    if (old)
        setenv("EINFUSE_CACHE_MAX_BYTES", saved.c_str(), 1);
    else
        unsetenv("EINFUSE_CACHE_MAX_BYTES");
}
