// Why each step: O_EXCL with a random name means a file or symlink someone planted under a name
// we could have guessed is never opened (the old "out.npy.tmp.<pid>" scheme let a symlink there
// overwrite whatever it pointed to); the same folder keeps rename() atomic (one filesystem);
// fsync before rename means a crash after the rename cannot leave a renamed but empty file;
// fsync of the folder makes the rename itself durable.
#include "support/AtomicFile.h"

#include "support/Error.h"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

namespace einfuse {

std::string unpredictable_name(const std::string &prefix) {
    unsigned char random[8];
    std::size_t got = 0;
    while (got < sizeof random) {
        ssize_t n = ::getrandom(random + got, sizeof random - got, 0);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) throw TargetError(std::string("the system's random source failed: ") + std::strerror(errno));
        got += static_cast<std::size_t>(n);
    }
    std::string out = prefix + ".tmp-";
    for (unsigned char c : random) {
        out += "0123456789abcdef"[c >> 4];
        out += "0123456789abcdef"[c & 15];
    }
    return out;
}

namespace {

/** The folder and the name of `path`: "a/b/c.npy" -> ("a/b", "c.npy"), "c.npy" -> (".", "c.npy"). */
std::pair<std::string, std::string> split(const std::string &path) {
    std::size_t slash = path.find_last_of('/');
    if (slash == std::string::npos) return {".", path};
    return {slash == 0 ? "/" : path.substr(0, slash), path.substr(slash + 1)};
}

} // namespace

AtomicFile::AtomicFile(const std::string &path) : shown_(path) {
    try {
        open_beside(path);
    } catch (...) { // a constructor that throws runs no destructor
        release();
        throw;
    }
}

void AtomicFile::open_beside(const std::string &path) {
    auto [dir, name] = split(path);
    if (name.empty() || name == "." || name == "..") fail("it names a folder", EISDIR);
    struct stat old {};
    bool exists = ::stat(path.c_str(), &old) == 0;
    if (exists && S_ISDIR(old.st_mode)) fail("it is a directory", EISDIR);
    if (exists && !S_ISREG(old.st_mode)) { // a device or a FIFO: no rename can replace it
        fd_ = ::open(path.c_str(), O_WRONLY | O_TRUNC | O_CLOEXEC);
        if (fd_ < 0) fail("", errno);
        return;
    }
    // A file its owner made read-only stays so, as with a plain open: a rename would replace it.
    if (exists && ::access(path.c_str(), W_OK) != 0) fail("", errno);
    dir_fd_ = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dir_fd_ < 0) fail("", errno);
    own_dir_ = true;
    name_ = name;
    temp_ = unpredictable_name("." + name.substr(0, 200)); // within NAME_MAX (255)
    fd_ = ::openat(dir_fd_, temp_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0666);
    if (fd_ < 0) {
        temp_.clear();
        fail("", errno);
    }
    if (exists) ::fchmod(fd_, old.st_mode & 0777); // best effort: keep the old file's permissions
}

AtomicFile::AtomicFile(int dir_fd, const std::string &name, mode_t mode) : shown_(name), dir_fd_(dir_fd), name_(name) {
    temp_ = unpredictable_name("." + name.substr(0, 200)); // within NAME_MAX (255)
    fd_ = ::openat(dir_fd_, temp_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
    if (fd_ < 0) {
        temp_.clear();
        fail("", errno);
    }
    if (::fchmod(fd_, mode) != 0) {
        int error = errno;
        release();
        fail("", error);
    }
}

AtomicFile::~AtomicFile() { release(); }

void AtomicFile::release() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
    if (!committed_ && !temp_.empty()) ::unlinkat(dir_fd_, temp_.c_str(), 0);
    temp_.clear();
    if (own_dir_) ::close(dir_fd_);
    own_dir_ = false;
}

void AtomicFile::write(std::string_view bytes) {
    while (!bytes.empty()) {
        ssize_t n = ::write(fd_, bytes.data(), bytes.size());
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) fail("", n < 0 ? errno : EIO);
        bytes.remove_prefix(static_cast<std::size_t>(n));
    }
}

void AtomicFile::commit() {
    // fsync of a device or a pipe fails with EINVAL: only a real file's failure counts.
    if (::fsync(fd_) != 0 && !(temp_.empty() && (errno == EINVAL || errno == EROFS))) fail("", errno);
    int closed = ::close(fd_);
    fd_ = -1;
    if (closed != 0) fail("", errno);
    if (!temp_.empty()) {
        if (::renameat(dir_fd_, temp_.c_str(), dir_fd_, name_.c_str()) != 0) fail("", errno);
        ::fsync(dir_fd_); // best effort: some filesystems refuse fsync on a folder
    }
    committed_ = true;
}

void AtomicFile::fail(const std::string &what, int error) const {
    throw UserError("cannot write '" + shown_ + "': " + (what.empty() ? std::strerror(error) : what));
}

void write_file_atomically(const std::string &path, std::string_view bytes) {
    AtomicFile file(path);
    file.write(bytes);
    file.commit();
}

} // namespace einfuse
