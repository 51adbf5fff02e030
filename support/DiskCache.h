#pragma once
// A cache of compiled code on disk, shared by processes: one file per key, written to a
// temporary name and renamed into place (readers never see half a file, concurrent writers of
// one key both succeed), with a checksum in a small header so that a corrupt or truncated entry
// reads as a miss and is replaced. Knows nothing of what it stores: the host backend keeps
// object code in it, the CUDA runtime may keep cubins.
#include <optional>
#include <string>
#include <string_view>

namespace einfuse {

/** 32 hex digits of XXH3-128 of `bytes` (xxHash): a cache key for compiled code. */
std::string content_hash(std::string_view bytes);

class DiskCache {
  public:
    /** The folder named by $EINFUSE_CACHE_DIR, else $XDG_CACHE_HOME/einfuse, else
     * ~/.cache/einfuse, with `subfolder` appended; EINFUSE_CACHE_DIR=off disables the cache. */
    static DiskCache from_environment(const std::string &subfolder);
    /** A cache in `folder`, made on the first store; an empty folder disables it. */
    explicit DiskCache(std::string folder);

    bool enabled() const { return !folder_.empty(); }
    const std::string &folder() const { return folder_; }

    /** The bytes stored under key (letters, digits, '-', '_'), or nothing: no entry, a corrupt
     * one (removed), a disabled cache, or an unreadable folder. Never throws. */
    std::optional<std::string> load(const std::string &key) const;
    /** Stores bytes under key, replacing what was there. Best effort: a read-only or full disk
     * leaves the cache as it was. Never throws. */
    void store(const std::string &key, std::string_view bytes) const;

  private:
    std::string path(const std::string &key) const;
    std::string folder_;
};

} // namespace einfuse
