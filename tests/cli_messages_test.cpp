// The einfuse command's messages and files (issue 14 items 4 and 12): a thread the system will
// not start is a clear error (exit 4), not "internal error (please report)"; control bytes of an
// expression are escaped on stderr; EINFUSE_CACHE_DIR=OFF makes no folder ./OFF; and
// `einfuse compile -o FILE` replaces FILE atomically, like run --output.
#include "CliFiles.h"
#include <doctest/doctest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <sys/wait.h>
#include <unistd.h>

namespace {

using test_files::slurp;
using test_files::cli;

namespace fs = std::filesystem;

/** A scratch folder of this test process, removed at the end. */
struct Scratch {
    fs::path dir = fs::temp_directory_path() / ("einfuse_cli_messages_" + std::to_string(getpid()));
    Scratch() { fs::create_directories(dir); }
    ~Scratch() {
        std::error_code ignored;
        fs::remove_all(dir, ignored);
    }
};

struct Result {
    int code;
    std::string err;
};

/** Runs a shell command line with stdout dropped; its exit code and stderr. */
Result shell(const Scratch &s, const std::string &command) {
    fs::path err = s.dir / "stderr.txt";
    int status = std::system(("(" + command + ") >/dev/null 2>" + err.string()).c_str());
    return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, slurp(err)};
}

bool has(const std::string &text, const std::string &part) { return text.find(part) != std::string::npos; }

} // namespace

TEST_CASE("cli messages: a worker thread the system refuses is exit 4 with a clear message") {
    Scratch s;
    // Each thread's stack is as large as the stack limit (16 GiB) and the address space is
    // limited to 8 GiB: the process itself runs, its first worker thread cannot start.
    Result r = shell(s, "{ ulimit -s 16777216 && ulimit -v 8388608; } 2>/dev/null || exit 77; exec " + cli() +
                            " run \"i->i\" --dims i=1000000 --threads 4");
    if (r.code == 77) {
        MESSAGE("skipped: this shell may not raise the stack limit to 16 GiB");
        return;
    }
    CAPTURE(r.err);
    CHECK(r.code == 4);
    CHECK(has(r.err, "einfuse: error: cannot start host worker thread"));
    CHECK(has(r.err, "--threads"));
    CHECK(!has(r.err, "internal error"));
    // The same run without the limits is fine.
    CHECK(shell(s, cli() + " run \"i->i\" --dims i=1000000 --threads 4").code == 0);
}

TEST_CASE("cli messages: control bytes of the expression are escaped on stderr") {
    Scratch s;
    Result r = shell(s, cli() + " run \"$(printf 'ab\\033[31m,bc->ac\\007')\" --dims a=2,b=2,c=2");
    CAPTURE(r.err);
    CHECK(r.code == 2);
    CHECK(has(r.err, "ab\\x1b[31m"));
    for (char c : r.err)
        CHECK((static_cast<unsigned char>(c) >= 0x20 || c == '\n'));
}

TEST_CASE("cli messages: control bytes of option values are escaped too") {
    Scratch s;
    for (std::string args : {"--target \"$(printf 'x\\033')\"", "\"$(printf -- '--x\\033')\"",
                             "--dims i=3 --output \"$(printf 'zz\\007=a.npy')\""}) {
        CAPTURE(args);
        Result r = shell(s, cli() + " run \"i->i\" " + args);
        CAPTURE(r.err);
        CHECK(r.code == 1);
        CHECK((has(r.err, "\\x1b") || has(r.err, "\\x07")));
        for (char c : r.err)
            CHECK((static_cast<unsigned char>(c) >= 0x20 || c == '\n'));
    }
}

TEST_CASE("cli messages: EINFUSE_CACHE_DIR=OFF (any case) makes no folder") {
    Scratch s;
    for (std::string off : {"OFF", "Off", "off"}) {
        CAPTURE(off);
        CHECK(shell(s, "cd " + s.dir.string() + " && EINFUSE_CACHE_DIR=" + off + " exec " + cli() +
                           " run \"ij->ji\" --dims i=3,j=5")
                  .code == 0);
        CHECK(!fs::exists(s.dir / off));
    }
}

TEST_CASE("cli messages: compile -o replaces the file atomically") {
    Scratch s;
    const fs::path file = s.dir / "kernel.cu";
    std::ofstream(file) << "the old file\n";
    SUBCASE("a write that fails (a file size limit, as a full disk) leaves the old file whole") {
        // SIGXFSZ ignored: the write fails with EFBIG instead of killing the process.
        Result r =
            shell(s, "ulimit -f 1 && trap '' XFSZ && exec " + cli() + " compile \"bij,bjk->bik\" -o " + file.string());
        CAPTURE(r.err);
        CHECK(r.code == 2);
        CHECK(has(r.err, "cannot write '" + file.string() + "'"));
        CHECK(slurp(file) == "the old file\n");
        int temporaries = 0;
        for (const auto &e : fs::directory_iterator(s.dir))
            temporaries += has(e.path().filename().string(), ".tmp-");
        CHECK(temporaries == 0);
    }
    SUBCASE("a write that succeeds replaces it with what stdout would show") {
        CHECK(shell(s, cli() + " compile \"bij,bjk->bik\" -o " + file.string()).code == 0);
        CHECK(shell(s, cli() + " compile \"bij,bjk->bik\" >" + (s.dir / "stdout.cu").string()).code == 0);
        CHECK(slurp(file) == slurp(s.dir / "stdout.cu"));
        CHECK(slurp(file).size() > 1024);
    }
}
