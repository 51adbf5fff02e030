// The einfuse command's files (issue 14): --output is atomic (its own input as output, a failed
// write keeping the old file), and the host JIT's disk cache rebuilds an entry that does not
// load. Apart from cli_test.cpp because these tests need the library's .npy and cache code
// (whose namespace, einfuse, would clash with cli_test.cpp's einfuse() helper).
#include "CliFiles.h"
#include "support/DiskCache.h"
#include "support/Npy.h"

#include <doctest/doctest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <sys/stat.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>
#include <vector>

namespace {

using test_files::cli;
using test_files::slurp;

/** Exit status of a shell command line, or -1 if it did not exit. */
int shell(const std::string &command) {
    int status = std::system(command.c_str());
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

} // namespace

TEST_CASE("run --output is atomic; the host JIT's disk cache rebuilds what does not load") {
    namespace fs = std::filesystem;
    using einfuse::DType;
    using einfuse::Shape;
    using einfuse::Tensor;
    fs::path dir = fs::temp_directory_path() / ("einfuse_cli_atomic_" + std::to_string(getpid()));
    fs::create_directories(dir);
    const std::string d = dir.string();
    Tensor x(DType::F32, {1000}), y(DType::F32, {1000});
    for (int64_t i = 0; i < 1000; ++i) {
        x.store(i, 0.5 + i);
        y.store(i, 2.0);
    }
    einfuse::write_npy(d + "/x.npy", x);
    einfuse::write_npy(d + "/y.npy", y);
    auto temporaries = [&] {
        int n = 0;
        for (const auto &e : fs::directory_iterator(dir))
            n += e.path().filename().string().find(".tmp-") != std::string::npos;
        return n;
    };

    SUBCASE("the output may be the run's own input") {
        CHECK(shell(cli() + " run \"i,i->i\" --input 0=" + d + "/x.npy --input 1=" + d +
                    "/y.npy --output out=" + d + "/x.npy >/dev/null") == 0);
        Tensor back = einfuse::read_npy(d + "/x.npy");
        CHECK(back.shape() == Shape{1000});
        CHECK(back.load(999) == 2 * 999.5);
        CHECK(temporaries() == 0);
    }
    SUBCASE("a write that fails (a file size limit, as a full disk) leaves the old file whole") {
        // SIGXFSZ ignored: the write fails with EFBIG instead of killing the process.
        std::string cmd = "(ulimit -f 4; trap '' XFSZ; exec " + cli() +
                          " run \"i,i->i\" --dims i=100000 --output out=" + d + "/x.npy) >/dev/null 2>" + d +
                          "/err.txt";
        CHECK(shell(cmd) == 2);
        CHECK(slurp(d + "/err.txt").find("cannot write '" + d + "/x.npy'") != std::string::npos);
        Tensor back = einfuse::read_npy(d + "/x.npy");
        CHECK(back.shape() == Shape{1000});
        CHECK(back.load(999) == 999.5);
        CHECK(temporaries() == 0);
    }
    SUBCASE("a cached object that authenticates but does not load is dropped and rebuilt") {
        const std::string cache = d + "/cache";
        const std::string run = "EINFUSE_CACHE_DIR=" + cache + " " + cli() +
                                " run \"ij,jk->ik\" --dims i=3,j=4,k=5 --check >/dev/null 2>&1";
        REQUIRE(shell(run) == 0);
        einfuse::DiskCache host(cache + "/host");
        std::vector<std::string> keys;
        for (const auto &e : fs::directory_iterator(cache + "/host"))
            if (e.path().extension() == ".bin") keys.push_back(e.path().stem().string());
        REQUIRE(!keys.empty());
        for (const auto &key : keys)
            host.store(key, "not an object file"); // a valid MAC over garbage
        CHECK(host.load(keys.front()) == std::string("not an object file"));
        CHECK(shell(run) == 0);
        CHECK(host.load(keys.front()) != std::string("not an object file"));
        CHECK(shell(run) == 0);
    }
    SUBCASE("a cache folder others may write: one warning, the run goes on without the cache") {
        const std::string shared = d + "/shared";
        fs::create_directories(shared + "/host");
        fs::permissions(shared + "/host", fs::perms::all);
        const std::string run = "EINFUSE_CACHE_DIR=" + shared + " " + cli() +
                                " run \"ij,jk->ik\" --dims i=3,j=4,k=5 --check >/dev/null 2>" + d + "/err.txt";
        CHECK(shell(run) == 0);
        const std::string err = slurp(d + "/err.txt");
        CHECK(err.find("not using the cache folder '" + shared + "/host'") != std::string::npos);
        CHECK(err.find("warning") == err.rfind("warning"));
        CHECK(fs::is_empty(shared + "/host"));
    }
    std::error_code ec;
    fs::remove_all(dir, ec);
}

namespace {

/** A version 1.0 .npy header for `dict`, padded to a multiple of 64 bytes as numpy pads it. */
std::string npy_header(const std::string &dict) {
    std::string text = dict;
    while ((10 + text.size() + 1) % 64 != 0) text += ' ';
    text += '\n';
    std::string out("\x93NUMPY\x01\x00", 8);
    out += static_cast<char>(text.size() & 0xff);
    out += static_cast<char>(text.size() >> 8);
    return out + text;
}

} // namespace

TEST_CASE("run --input: a .npy claiming (2^30,) and sending 16 bytes fails fast in 1 GiB (issue 14 item 8)") {
    // Already so before this test (support/Npy.cpp reads pipes a chunk at a time and bounds a
    // regular file's claims by its size); this checks it end to end, through the CLI and the
    // public load_npy, with the address space limited to a quarter of the claimed 4 GiB.
    namespace fs = std::filesystem;
    fs::path dir = fs::temp_directory_path() / ("einfuse_cli_npy_claims_" + std::to_string(getpid()));
    fs::create_directories(dir);
    const std::string bytes = npy_header("{'descr': '<f4', 'fortran_order': False, 'shape': (1073741824,), }") +
                              std::string(16, '\x01');
    const std::string run = "ulimit -v 1048576 && exec " + cli() + " run \"i->i\" --input 0=";
    SUBCASE("a truncated regular file") {
        const std::string file = (dir / "short.npy").string();
        std::ofstream(file, std::ios::binary) << bytes;
        CHECK(shell("(" + run + file + ") >/dev/null 2>" + (dir / "err.txt").string()) == 2);
        CHECK(slurp((dir / "err.txt").string()).find("data is truncated") != std::string::npos);
    }
    SUBCASE("a FIFO") {
        const std::string fifo = (dir / "stream.npy").string();
        REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
        int code = -1;
        std::thread reader([&] { code = shell("(" + run + fifo + ") >/dev/null 2>" + (dir / "err.txt").string()); });
        {
            std::ofstream(fifo, std::ios::binary) << bytes; // blocks until the reader opens it
        }
        reader.join();
        CHECK(code == 2);
        CHECK(slurp((dir / "err.txt").string()).find("data is truncated") != std::string::npos);
    }
    std::error_code ec;
    fs::remove_all(dir, ec);
}

TEST_CASE("run --dtype c64/c128 --check; complex .npy in and out (<c8, <c16)") {
    namespace fs = std::filesystem;
    using einfuse::DType;
    using einfuse::Tensor;
    CHECK(shell(cli() + " run \"bij,bjk->bik\" --dims b=100,i=3,j=3,k=3 --dtype c64 --check >/dev/null") == 0);
    CHECK(shell(cli() + " run \"ij,jk->ik\" --dims i=20,j=30,k=10 --dtype 0=c128 --dtype 1=f32 --check >/dev/null") == 0);
    CHECK(shell(cli() + " run \"y[i] = abs(z[i]) * conj(z[i])\" --dims i=50 --dtype z=c128 --check >/dev/null") == 0);
    fs::path dir = fs::temp_directory_path() / ("einfuse_cli_complex_" + std::to_string(getpid()));
    fs::create_directories(dir);
    const std::string d = dir.string();
    Tensor a(DType::C64, {2}), b(DType::C128, {2});
    a.store_complex(0, {1, 2});
    a.store_complex(1, {3, -1});
    b.store_complex(0, {2, -1});
    b.store_complex(1, {0, 1});
    einfuse::write_npy(d + "/a.npy", a);
    einfuse::write_npy(d + "/b.npy", b);
    CHECK(shell(cli() + " run \"i,i->\" --input 0=" + d + "/a.npy --input 1=" + d + "/b.npy --output out=" + d +
                "/out.npy --check >/dev/null") == 0);
    Tensor out = einfuse::read_npy(d + "/out.npy");
    CHECK(out.dtype() == DType::C128); // numpy's result_type(complex64, complex128)
    CHECK(out.load_complex(0) == std::complex<double>(5, 6));
    fs::remove_all(dir);
}
