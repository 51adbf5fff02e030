#pragma once
// A cache of compiled code on disk, shared by this user's processes, that only loads what this
// user's einfuse wrote: each entry carries an HMAC-SHA256 (OpenSSL) over its key and content
// under a random per-folder secret that only the owner can read, so a file planted by anyone
// else, or an entry copied onto another key, reads as a miss. The folder must be the user's own
// and writable by nobody else (else a warning, once, and no cache); entries are opened with
// O_NOFOLLOW and read only if they are regular files of bounded size; writes go through an
// exclusive temporary (support/AtomicFile.h); the folder is evicted, oldest first, to
// EINFUSE_CACHE_MAX_BYTES. Knows nothing of what it stores: the host backend keeps object code
// in it, the CUDA runtime cubins. docs/security.md states what it trusts and why.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace einfuse {

/** 32 hex digits of XXH3-128 of `bytes` (xxHash): a cache key for compiled code. Not a
 * security boundary: the HMAC of each entry is. */
std::string content_hash(std::string_view bytes);

class DiskCache {
  public:
    /** The folder named by $EINFUSE_CACHE_DIR, else $XDG_CACHE_HOME/einfuse, else
     * ~/.cache/einfuse, with `subfolder` appended; EINFUSE_CACHE_DIR=off (any case) disables. */
    static DiskCache from_environment(const std::string &subfolder);
    /** A cache in `folder`, checked (and made, mode 0700) on the first load or store; an empty
     * folder disables it. */
    explicit DiskCache(std::string folder);

    bool enabled() const { return !folder_.empty(); }
    const std::string &folder() const { return folder_; }

    /** The bytes this user's einfuse stored under key (letters, digits, '-', '_'), or nothing: no
     * entry, one that does not authenticate, is not a regular file of ours or is too large
     * (each removed), a disabled or refused cache. Never throws, never blocks on a FIFO. */
    std::optional<std::string> load(const std::string &key) const;
    /** Stores bytes under key, replacing what was there, then evicts the oldest entries past the
     * size limit. Best effort: a read-only or full disk leaves the cache as it was. Never throws. */
    void store(const std::string &key, std::string_view bytes) const;
    /** Removes key's entry: for a caller that could not use what load() returned (an object
     * the JIT refuses), so that the next run rebuilds it instead of failing again. */
    void remove(const std::string &key) const;
    /** Why the folder is not used (owner, mode, a symlink, ...), or "" when it is. Checks it. */
    std::string refusal() const;

    /** The size limit of one folder: $EINFUSE_CACHE_MAX_BYTES (bytes, or with a K, M or G
     * suffix), default 256 MiB. 0 disables storing. */
    static uint64_t max_bytes();

  private:
    struct Folder; // the open, checked folder and its secret, made on first use
    const Folder &open() const;
    std::string folder_;
    std::shared_ptr<Folder> state_;
};

} // namespace einfuse
