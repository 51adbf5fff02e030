#pragma once
// Replacing a file so that nothing is lost on failure: the new content goes to an exclusive
// temporary with an unpredictable name in the target's own folder (O_CREAT|O_EXCL|O_NOFOLLOW,
// so a planted file or symlink there is never written through), is fsync'ed, then renamed over
// the target. A full disk, a killed process or a thrown exception leaves the old file as it was,
// even when the same run read it as its input. Used by write_npy (einfuse run --output) and the
// disk cache's entries.
#include <string>
#include <string_view>
#include <sys/types.h>

namespace einfuse {

/** `prefix` + ".tmp-" + 16 hex digits from the system's random source (getrandom). */
std::string unpredictable_name(const std::string &prefix);

class AtomicFile {
  public:
    /** Starts replacing `path`. The new file gets the old one's permission bits, else
     * 0666 less the umask. A target that exists and is not a regular file (/dev/null, a FIFO,
     * a terminal) cannot be replaced by a rename: it is written in place, as a plain open would.
     * Throws UserError naming the path when the temporary cannot be created. */
    explicit AtomicFile(const std::string &path);
    /** Starts replacing `name` inside the open folder `dir_fd` (borrowed, not closed), with
     * exactly `mode` (fchmod, whatever the umask). For callers that checked the folder once
     * and must not follow a renamed path afterwards (the disk cache). */
    AtomicFile(int dir_fd, const std::string &name, mode_t mode);
    /** Removes the temporary if commit() did not run: the target is untouched. */
    ~AtomicFile();
    AtomicFile(const AtomicFile &) = delete;
    AtomicFile &operator=(const AtomicFile &) = delete;

    /** Appends bytes; throws UserError (with strerror: ENOSPC, EFBIG, EIO) on failure. */
    void write(std::string_view bytes);
    /** fsync, close, rename over the target, fsync the folder. Throws UserError on failure
     * (the target then keeps its old content). */
    void commit();

  private:
    void open_beside(const std::string &path);
    void release(); // closes what is open, removes an uncommitted temporary
    [[noreturn]] void fail(const std::string &what, int error) const;
    std::string shown_;    // the path for messages
    int dir_fd_ = -1;      // the target's folder
    bool own_dir_ = false; // dir_fd_ opened here (closed in the destructor)
    std::string name_;     // the target's name inside dir_fd_
    std::string temp_;     // the temporary's name inside dir_fd_; empty when writing in place
    int fd_ = -1;
    bool committed_ = false;
};

/** Replaces `path`'s content with `bytes` through an AtomicFile. */
void write_file_atomically(const std::string &path, std::string_view bytes);

} // namespace einfuse
