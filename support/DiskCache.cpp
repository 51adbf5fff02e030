// The cache's trust rule: an entry is used only if it authenticates under the folder's secret,
// a 32-byte random file that the owner alone can read. Anyone who can write the folder could
// plant an entry, so the folder must be the owner's and writable by nobody else; anyone who can
// read the secret could forge one, so it is 0600 in a 0700 folder. Whoever has the user's account
// has everything anyway (docs/security.md).
//
// Entry format (version 02), one file "<key>.bin":
//   "EINFCA02" | payload size (u64 LE) | HMAC-SHA256(secret, "EINFCA02" | key size (u64 LE) |
//   key | payload size (u64 LE) | payload) | payload
// The key is inside the MAC: an f32 kernel's entry copied onto the f64 key does not authenticate.
#include "support/DiskCache.h"

#include "support/AtomicFile.h"

// Compiled into this file (xxHash's documented inline mode): no library to link or install.
#define XXH_INLINE_ALL
#include <xxhash.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <dirent.h>
#include <fcntl.h>
#include <mutex>
#include <set>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>
#include <vector>

namespace einfuse {

namespace {

constexpr char kMagic[8] = {'E', 'I', 'N', 'F', 'C', 'A', '0', '2'};
constexpr std::size_t kMacBytes = 32;
constexpr std::size_t kHeader = sizeof(kMagic) + 8 + kMacBytes;
constexpr std::size_t kSecretBytes = 32;
constexpr const char *kSecretName = "secret";
constexpr uint64_t kDefaultMaxBytes = uint64_t{256} << 20; // tens of thousands of small host kernels
constexpr time_t kStaleTemporarySeconds = 3600; // a writer that died mid-write left it

void put_u64(std::string &out, uint64_t v) {
    for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

uint64_t get_u64(const char *p) {
    uint64_t v = 0;
    for (int i = 0; i < 8; ++i) v |= static_cast<uint64_t>(static_cast<unsigned char>(p[i])) << (8 * i);
    return v;
}

bool valid_key(const std::string &key) {
    if (key.empty() || key.size() > 200) return false;
    for (char c : key)
        if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_')) return false;
    return true;
}

std::string entry_name(const std::string &key) { return key + ".bin"; }

/** HMAC-SHA256 of the entry's authenticated data (the format above); empty if OpenSSL fails. */
std::string entry_mac(const std::string &secret, const std::string &key, std::string_view payload) {
    std::string prefix(kMagic, sizeof kMagic);
    put_u64(prefix, key.size());
    prefix += key;
    put_u64(prefix, payload.size());
    std::string out(kMacBytes, '\0');
    EVP_MAC *mac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
    EVP_MAC_CTX *ctx = mac ? EVP_MAC_CTX_new(mac) : nullptr;
    char digest[] = "SHA256";
    OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0), OSSL_PARAM_construct_end()};
    std::size_t length = 0;
    bool ok = ctx && EVP_MAC_init(ctx, reinterpret_cast<const unsigned char *>(secret.data()), secret.size(), params) &&
              EVP_MAC_update(ctx, reinterpret_cast<const unsigned char *>(prefix.data()), prefix.size()) &&
              EVP_MAC_update(ctx, reinterpret_cast<const unsigned char *>(payload.data()), payload.size()) &&
              EVP_MAC_final(ctx, reinterpret_cast<unsigned char *>(out.data()), &length, out.size()) &&
              length == kMacBytes;
    EVP_MAC_CTX_free(ctx);
    EVP_MAC_free(mac);
    return ok ? out : std::string();
}

/** Reads exactly n bytes from fd; false on a short read or an error. */
bool read_exact(int fd, char *to, std::size_t n) {
    while (n > 0) {
        ssize_t got = ::read(fd, to, n);
        if (got < 0 && errno == EINTR) continue;
        if (got <= 0) return false;
        to += got;
        n -= static_cast<std::size_t>(got);
    }
    return true;
}

/** Why a file or folder we opened may not be trusted, or "". */
std::string untrusted(const struct stat &st) {
    if (st.st_uid != ::geteuid())
        return "it belongs to user " + std::to_string(st.st_uid) + ", not to this user (" + std::to_string(::geteuid()) + ")";
    if (st.st_mode & (S_IWGRP | S_IWOTH)) {
        char mode[8];
        std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
        return std::string("it is writable by group or others (mode ") + mode + ")";
    }
    return "";
}

/** Makes every missing folder of `path` with mode 0700; true if the last one was made here. */
bool make_folders(const std::string &path) {
    bool made = false;
    for (std::size_t end = path.find('/', 1);; end = path.find('/', end + 1)) {
        std::string prefix = path.substr(0, end);
        if (!prefix.empty()) made = ::mkdir(prefix.c_str(), 0700) == 0;
        if (end == std::string::npos) break;
    }
    return made;
}

/** Says once per process and folder why the cache is not used. */
void warn_once(const std::string &folder, const std::string &why) {
    static std::mutex lock;
    static std::set<std::string> told;
    std::lock_guard<std::mutex> hold(lock);
    if (told.insert(folder).second)
        std::fprintf(stderr, "einfuse: warning: not using the cache folder '%s': %s; running without the disk cache\n",
                     folder.c_str(), why.c_str());
}

} // namespace

struct DiskCache::Folder {
    std::once_flag opened;
    int fd = -1;
    std::string secret;  // kSecretBytes, when fd >= 0
    std::string refusal; // why fd < 0, "" when the cache is disabled or works
    ~Folder() {
        if (fd >= 0) ::close(fd);
    }
    void open(const std::string &path);
    std::string read_secret();
};

/** Opens the folder (made 0700 if missing), checks it is ours and writable by nobody else, and
 * reads (or makes) its secret. Every later access goes through `fd`, relative to the folder
 * checked here: renaming a folder above it cannot redirect us afterwards. */
void DiskCache::Folder::open(const std::string &path) {
    bool made = make_folders(path);
    fd = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        refusal = errno == ELOOP || errno == ENOTDIR ? "it is a symbolic link or not a folder" : std::strerror(errno);
        return;
    }
    if (made) ::fchmod(fd, 0700); // mkdir's mode passed through the umask; a made folder is 0700
    struct stat st {};
    if (::fstat(fd, &st) != 0) refusal = std::strerror(errno);
    else refusal = untrusted(st);
    if (refusal.empty()) refusal = read_secret();
    if (!refusal.empty()) {
        ::close(fd);
        fd = -1;
    }
}

/** The folder's secret, made on first use: written to an exclusive temporary and linked into
 * place (link fails if the name exists), so racing processes agree on one whole secret. */
std::string DiskCache::Folder::read_secret() {
    int file = ::openat(fd, kSecretName, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (file < 0 && errno == ENOENT) {
        unsigned char random[kSecretBytes];
        if (RAND_bytes(random, sizeof random) != 1) return "the random source failed";
        try {
            std::string temp = unpredictable_name(std::string(".") + kSecretName);
            int out = ::openat(fd, temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
            if (out < 0) return std::string("cannot make its secret: ") + std::strerror(errno);
            bool ok = ::fchmod(out, 0600) == 0 && ::write(out, random, sizeof random) == sizeof random && ::fsync(out) == 0;
            ok = ::close(out) == 0 && ok;
            if (ok && ::linkat(fd, temp.c_str(), fd, kSecretName, 0) != 0 && errno != EEXIST) ok = false;
            const int error = errno;
            ::unlinkat(fd, temp.c_str(), 0);
            if (!ok) return std::string("cannot make its secret: ") + std::strerror(error);
        } catch (const std::exception &e) {
            return e.what();
        }
        file = ::openat(fd, kSecretName, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    }
    if (file < 0) return std::string("its secret cannot be opened: ") + std::strerror(errno);
    struct stat st {};
    std::string why;
    if (::fstat(file, &st) != 0) why = std::strerror(errno);
    else if (!S_ISREG(st.st_mode) || st.st_size != static_cast<off_t>(kSecretBytes)) why = "it is not a 32-byte file";
    else if (st.st_uid != ::geteuid() || (st.st_mode & 077)) why = "others may read it or it is not ours";
    secret.assign(kSecretBytes, '\0');
    if (why.empty() && !read_exact(file, secret.data(), kSecretBytes)) why = "it cannot be read";
    ::close(file);
    return why.empty() ? "" : "its secret '" + std::string(kSecretName) + "' is unusable (" + why + "; remove it)";
}

std::string content_hash(std::string_view bytes) {
    XXH128_hash_t h = XXH3_128bits(bytes.data(), bytes.size());
    char text[33];
    std::snprintf(text, sizeof text, "%016llx%016llx", static_cast<unsigned long long>(h.high64),
                  static_cast<unsigned long long>(h.low64));
    return text;
}

DiskCache DiskCache::from_environment(const std::string &subfolder) {
    const char *env = std::getenv("EINFUSE_CACHE_DIR");
    if (env && strcasecmp(env, "off") == 0) return DiskCache("");
    std::string root;
    if (env && *env) {
        root = env;
    } else if (const char *xdg = std::getenv("XDG_CACHE_HOME"); xdg && *xdg) {
        root = std::string(xdg) + "/einfuse";
    } else if (const char *home = std::getenv("HOME"); home && *home) {
        root = std::string(home) + "/.cache/einfuse";
    } else {
        return DiskCache("");
    }
    while (root.size() > 1 && root.back() == '/') root.pop_back();
    return DiskCache(root + "/" + subfolder);
}

DiskCache::DiskCache(std::string folder) : folder_(std::move(folder)), state_(std::make_shared<Folder>()) {}

const DiskCache::Folder &DiskCache::open() const {
    std::call_once(state_->opened, [&] {
        if (!enabled()) return;
        state_->open(folder_);
        if (!state_->refusal.empty()) warn_once(folder_, state_->refusal);
    });
    return *state_;
}

std::string DiskCache::refusal() const { return open().refusal; }

uint64_t DiskCache::max_bytes() {
    const char *env = std::getenv("EINFUSE_CACHE_MAX_BYTES");
    if (!env || !*env) return kDefaultMaxBytes;
    char *end = nullptr;
    errno = 0;
    unsigned long long v = std::strtoull(env, &end, 10);
    const bool digits = end != env;
    int shift = 0;
    if (*end == 'K' || *end == 'k') shift = 10;
    else if (*end == 'M' || *end == 'm') shift = 20;
    else if (*end == 'G' || *end == 'g') shift = 30;
    if (shift) ++end;
    if (errno || !digits || *end || *env == '-' || (shift && v > (~0ULL >> shift))) {
        warn_once("EINFUSE_CACHE_MAX_BYTES", std::string("'") + env + "' is not a size such as 536870912 or 512M");
        return kDefaultMaxBytes;
    }
    return static_cast<uint64_t>(v) << shift;
}

std::optional<std::string> DiskCache::load(const std::string &key) const {
    if (!enabled() || !valid_key(key)) return std::nullopt;
    const Folder &f = open();
    if (f.fd < 0) return std::nullopt;
    const std::string name = entry_name(key);
    // O_NOFOLLOW: a symlink (to /dev/zero, to someone's file) is refused; O_NONBLOCK: opening a
    // FIFO does not wait for a writer. Then only a regular file of ours, of bounded size, is read.
    int fd = ::openat(f.fd, name.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        if (errno != ENOENT) ::unlinkat(f.fd, name.c_str(), 0);
        return std::nullopt;
    }
    struct stat st {};
    std::string file;
    bool ok = ::fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && untrusted(st).empty() &&
              static_cast<uint64_t>(st.st_size) >= kHeader && static_cast<uint64_t>(st.st_size) - kHeader <= max_bytes();
    if (ok) {
        file.resize(static_cast<std::size_t>(st.st_size));
        ok = read_exact(fd, file.data(), file.size());
    }
    ok = ok && std::memcmp(file.data(), kMagic, sizeof kMagic) == 0 && get_u64(file.data() + sizeof kMagic) == file.size() - kHeader;
    std::string_view payload = ok ? std::string_view(file).substr(kHeader) : std::string_view();
    if (ok) {
        std::string mac = entry_mac(f.secret, key, payload);
        ok = mac.size() == kMacBytes && CRYPTO_memcmp(mac.data(), file.data() + sizeof kMagic + 8, kMacBytes) == 0;
    }
    if (ok) ::futimens(fd, nullptr); // the modification time orders eviction: a hit is recent
    ::close(fd);
    if (!ok) { // planted, copied, corrupt, or from an older format: drop it, the caller rebuilds
        ::unlinkat(f.fd, name.c_str(), 0);
        return std::nullopt;
    }
    return std::string(payload);
}

void DiskCache::remove(const std::string &key) const {
    if (!enabled() || !valid_key(key)) return;
    const Folder &f = open();
    if (f.fd >= 0) ::unlinkat(f.fd, entry_name(key).c_str(), 0);
}

namespace {

/** Deletes the least recently used entries (by modification time; load() touches it) until the
 * folder's entries fit in `limit` bytes, and temporaries that a killed writer left an hour ago. */
void evict(int dir, uint64_t limit) {
    int listing = ::dup(dir);
    DIR *d = listing >= 0 ? ::fdopendir(listing) : nullptr;
    if (!d) {
        if (listing >= 0) ::close(listing);
        return;
    }
    ::rewinddir(d);
    struct Entry {
        struct timespec modified;
        uint64_t bytes;
        std::string name;
    };
    std::vector<Entry> entries;
    uint64_t total = 0;
    const time_t now = ::time(nullptr);
    while (const dirent *e = ::readdir(d)) {
        std::string name = e->d_name;
        struct stat st {};
        if (::fstatat(dir, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(st.st_mode)) continue;
        if (name.find(".tmp-") != std::string::npos) {
            if (now - st.st_mtime > kStaleTemporarySeconds) ::unlinkat(dir, name.c_str(), 0);
        } else if (name.size() > 4 && name.compare(name.size() - 4, 4, ".bin") == 0) {
            entries.push_back({st.st_mtim, static_cast<uint64_t>(st.st_size), name});
            total += static_cast<uint64_t>(st.st_size);
        }
    }
    ::closedir(d);
    if (total <= limit) return;
    std::sort(entries.begin(), entries.end(), [](const Entry &a, const Entry &b) {
        return a.modified.tv_sec != b.modified.tv_sec ? a.modified.tv_sec < b.modified.tv_sec
                                                      : a.modified.tv_nsec < b.modified.tv_nsec;
    });
    for (const Entry &e : entries) {
        if (total <= limit) break;
        if (::unlinkat(dir, e.name.c_str(), 0) == 0) total -= e.bytes;
    }
}

} // namespace

void DiskCache::store(const std::string &key, std::string_view bytes) const {
    if (!enabled() || !valid_key(key)) return;
    const uint64_t limit = max_bytes();
    if (bytes.size() + kHeader > limit) return;
    const Folder &f = open();
    if (f.fd < 0) return;
    std::string mac = entry_mac(f.secret, key, bytes);
    if (mac.size() != kMacBytes) return;
    std::string header(kMagic, sizeof kMagic);
    put_u64(header, bytes.size());
    header += mac;
    try {
        AtomicFile out(f.fd, entry_name(key), 0600);
        out.write(header);
        out.write(bytes);
        out.commit();
    } catch (const std::exception &) { // a full or read-only disk: the cache stays as it was
        return;
    }
    evict(f.fd, limit);
}

} // namespace einfuse
