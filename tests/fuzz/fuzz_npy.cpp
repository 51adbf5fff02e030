// libFuzzer target for the .npy reader (support/Npy.cpp). The input bytes are the whole file,
// read twice: as a regular file (a memfd, whose size bounds every length the header claims) and
// through a pipe (size unknown: the streamed path). Both must agree, as a UserError or as the
// same tensor; a tensor that reads must survive write_npy and read back bit-identical. Any
// other exception aborts, and so does every sanitizer finding and any allocation over
// -rss_limit_mb / -malloc_limit_mb. Built and run by scripts/fuzz.sh, not by CMake.
#include "support/Error.h"
#include "support/Npy.h"

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <optional>
#include <string>
#include <sys/mman.h>
#include <unistd.h>

namespace {

using einfuse::Tensor;

/** read_npy's answer: the tensor, or nothing for a UserError (the right answer to bad input). */
std::optional<Tensor> read(const std::string &path) {
    try {
        return einfuse::read_npy(path);
    } catch (const einfuse::UserError &) {
        return std::nullopt;
    }
}

[[noreturn]] void die(const char *what) {
    std::fprintf(stderr, "fuzz_npy: %s\n", what);
    std::abort();
}

bool same(const Tensor &a, const Tensor &b) {
    return a.dtype() == b.dtype() && a.shape() == b.shape() &&
           std::memcmp(a.data(), b.data(),
                       static_cast<std::size_t>(a.storage_elements()) * einfuse::dtype_size(a.dtype())) == 0;
}

/** Element-wise equality through each tensor's strides (a Fortran-order file reads with
 * column-major strides, and write_npy writes C order). */
bool same_values(const Tensor &a, const Tensor &b) {
    if (a.dtype() != b.dtype() || a.shape() != b.shape()) return false;
    const std::size_t width = einfuse::dtype_size(a.dtype());
    einfuse::Shape index(a.shape().size(), 0);
    for (int64_t i = 0; i < a.size(); ++i) {
        int64_t oa = 0, ob = 0;
        for (std::size_t d = 0; d < index.size(); ++d) {
            oa += index[d] * a.strides()[d];
            ob += index[d] * b.strides()[d];
        }
        if (std::memcmp(static_cast<const char *>(a.data()) + oa * width,
                        static_cast<const char *>(b.data()) + ob * width, width))
            return false;
        for (int d = static_cast<int>(index.size()) - 1; d >= 0; --d) {
            if (++index[d] < a.shape()[d]) break;
            index[d] = 0;
        }
    }
    return true;
}

std::string scratch_folder() {
    static std::string dir = [] {
        char name[] = "/tmp/einfuse-fuzz-npy-XXXXXX";
        if (!mkdtemp(name)) die("mkdtemp failed");
        return std::string(name);
    }();
    return dir;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, std::size_t size) {
    static int file = memfd_create("fuzz.npy", 0);
    if (file < 0) die("memfd_create failed");
    if (ftruncate(file, 0) != 0 || pwrite(file, data, size, 0) != static_cast<ssize_t>(size)) die("memfd write failed");
    std::optional<Tensor> regular;
    try {
        regular = read("/proc/self/fd/" + std::to_string(file));
    } catch (const std::exception &e) {
        std::fprintf(stderr, "fuzz_npy: not a UserError: %s\n", e.what());
        std::abort();
    }

    // The same bytes through a pipe (they fit in its buffer: scripts/fuzz.sh passes -max_len).
    if (size <= 60000) {
        int ends[2];
        if (pipe(ends) != 0) die("pipe failed");
        if (size && write(ends[1], data, size) != static_cast<ssize_t>(size)) die("pipe write failed");
        close(ends[1]);
        std::optional<Tensor> piped;
        try {
            piped = read("/proc/self/fd/" + std::to_string(ends[0]));
        } catch (const std::exception &e) {
            std::fprintf(stderr, "fuzz_npy: not a UserError (pipe): %s\n", e.what());
            std::abort();
        }
        close(ends[0]);
        if (regular.has_value() != piped.has_value()) die("a file and a pipe of the same bytes disagree");
        if (regular && !same(*regular, *piped)) die("a file and a pipe of the same bytes read differently");
    }

    if (regular && regular->dtype() != einfuse::DType::BF16) {
        const std::string path = scratch_folder() + "/roundtrip.npy";
        einfuse::write_npy(path, *regular);
        std::optional<Tensor> back = read(path);
        if (!back || !same_values(*regular, *back)) die("write_npy then read_npy changed the tensor");
    }
    return 0;
}
