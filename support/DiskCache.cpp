#include "support/DiskCache.h"

// Compiled into this file (xxHash's documented inline mode): no library to link or install.
#define XXH_INLINE_ALL
#include <xxhash.h>

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <unistd.h>

namespace einfuse {

namespace fs = std::filesystem;

namespace {

/** An entry is kMagic, the payload's size (8 bytes, little-endian), XXH3-128 of the payload
 * (16 bytes), then the payload. */
constexpr char kMagic[8] = {'E', 'I', 'N', 'F', 'C', 'A', '0', '1'};
constexpr std::size_t kHeader = sizeof(kMagic) + 8 + 16;

void put_u64(std::string &out, uint64_t v) {
    for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

uint64_t get_u64(const char *p) {
    uint64_t v = 0;
    for (int i = 0; i < 8; ++i) v |= static_cast<uint64_t>(static_cast<unsigned char>(p[i])) << (8 * i);
    return v;
}

std::string checksum(std::string_view bytes) {
    XXH128_hash_t h = XXH3_128bits(bytes.data(), bytes.size());
    std::string out;
    put_u64(out, h.low64);
    put_u64(out, h.high64);
    return out;
}

bool valid_key(const std::string &key) {
    if (key.empty() || key.size() > 200) return false;
    for (char c : key)
        if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_')) return false;
    return true;
}

} // namespace

std::string content_hash(std::string_view bytes) {
    XXH128_hash_t h = XXH3_128bits(bytes.data(), bytes.size());
    char text[33];
    std::snprintf(text, sizeof text, "%016llx%016llx", static_cast<unsigned long long>(h.high64),
                  static_cast<unsigned long long>(h.low64));
    return text;
}

DiskCache DiskCache::from_environment(const std::string &subfolder) {
    const char *env = std::getenv("EINFUSE_CACHE_DIR");
    if (env && std::string(env) == "off") return DiskCache("");
    fs::path root;
    if (env && *env) {
        root = env;
    } else if (const char *xdg = std::getenv("XDG_CACHE_HOME"); xdg && *xdg) {
        root = fs::path(xdg) / "einfuse";
    } else if (const char *home = std::getenv("HOME"); home && *home) {
        root = fs::path(home) / ".cache" / "einfuse";
    } else {
        return DiskCache("");
    }
    return DiskCache((root / subfolder).string());
}

DiskCache::DiskCache(std::string folder) : folder_(std::move(folder)) {}

std::string DiskCache::path(const std::string &key) const { return (fs::path(folder_) / (key + ".bin")).string(); }

std::optional<std::string> DiskCache::load(const std::string &key) const {
    if (!enabled() || !valid_key(key)) return std::nullopt;
    std::ifstream in(path(key), std::ios::binary);
    if (!in) return std::nullopt;
    std::ostringstream all;
    all << in.rdbuf();
    std::string file = all.str();
    bool ok = file.size() >= kHeader && std::memcmp(file.data(), kMagic, sizeof kMagic) == 0 &&
              get_u64(file.data() + sizeof kMagic) == file.size() - kHeader;
    std::string_view payload(file.data() + std::min(file.size(), kHeader), file.size() - std::min(file.size(), kHeader));
    ok = ok && file.compare(sizeof kMagic + 8, 16, checksum(payload)) == 0;
    if (!ok) { // corrupt or from another format: drop it, the caller rebuilds and stores again
        std::error_code ignored;
        fs::remove(path(key), ignored);
        return std::nullopt;
    }
    return std::string(payload);
}

void DiskCache::store(const std::string &key, std::string_view bytes) const {
    if (!enabled() || !valid_key(key)) return;
    std::error_code error;
    fs::create_directories(folder_, error);
    if (error) return;
    // A name no other writer uses: this process, this call. rename() then replaces atomically.
    static std::atomic<unsigned long> counter{0};
    std::string temporary = path(key) + ".tmp." + std::to_string(::getpid()) + "." + std::to_string(counter++);
    {
        std::ofstream out(temporary, std::ios::binary | std::ios::trunc);
        std::string header(kMagic, sizeof kMagic);
        put_u64(header, bytes.size());
        header += checksum(bytes);
        out.write(header.data(), static_cast<std::streamsize>(header.size()));
        out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
        if (!out.flush()) {
            out.close();
            fs::remove(temporary, error);
            return;
        }
    }
    fs::rename(temporary, path(key), error);
    if (error) fs::remove(temporary, error);
}

} // namespace einfuse
