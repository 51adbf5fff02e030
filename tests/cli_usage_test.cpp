// The einfuse command's usage (issue 17 item 5): --version and help, suggestions for mistyped
// commands and options, repeated --dims and --shape, spaces in lists, usage errors as exit 1
// (--repeat -1, --arch sm_9, --emit llvm --target cuda), compile --json, failures as one JSON
// object on stdout with --json, and the disk cache bounded by EINFUSE_CACHE_MAX_BYTES.
#include "CliFiles.h"
#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

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

/** A scratch folder of its own (mode 0700, as the disk cache wants), removed at the end. */
struct Scratch {
    static inline int made = 0;
    fs::path dir = fs::temp_directory_path() /
                   ("einfuse_cli_usage_" + std::to_string(getpid()) + "_" + std::to_string(made++));
    Scratch() {
        fs::create_directories(dir);
        fs::permissions(dir, fs::perms::owner_all);
    }
    ~Scratch() {
        std::error_code ignored;
        fs::remove_all(dir, ignored);
    }
};

struct Result {
    int code;
    std::string out, err;
};

/** `einfuse ARGS` through the shell, with `env` (VAR=value ...) before it. */
Result einfuse(const std::string &args, const std::string &env = "") {
    Scratch s;
    int status = std::system(("cd " + s.dir.string() + " && " + env + " " + cli() + " " + args + " >out.txt 2>err.txt").c_str());
    return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, slurp(s.dir / "out.txt"), slurp(s.dir / "err.txt")};
}

bool has(const std::string &text, const std::string &part) { return text.find(part) != std::string::npos; }

} // namespace

TEST_CASE("cli usage: --version and help") {
    Result v = einfuse("--version");
    CHECK(v.code == 0);
    CHECK(v.out.rfind("einfuse ", 0) == 0);
    CHECK(v.out.find('.') != std::string::npos); // MAJOR.MINOR.PATCH
    CHECK(v.err.empty());

    for (const char *args : {"help", "--help"}) {
        CAPTURE(args);
        Result h = einfuse(args);
        CHECK(h.code == 0);
        CHECK(has(h.out, "compile"));
        CHECK(has(h.out, "Examples:"));
        CHECK(has(h.out, "einfuse run \"bij,bjk->bik\""));
        CHECK(has(h.out, "Exit codes:"));
        CHECK(has(h.out, "EINFUSE_CACHE_DIR"));
        CHECK(has(h.out, "EINFUSE_CACHE_MAX_BYTES"));
    }
    Result hc = einfuse("help compile");
    CHECK(hc.code == 0);
    CHECK(has(hc.out, "--emit"));
    Result hr = einfuse("run --help");
    CHECK(hr.code == 0);
    CHECK(has(hr.out, "--repeat"));
    CHECK(has(hr.out, "Exit codes:"));
}

TEST_CASE("cli usage: the help's examples run as written (the host ones; cuda ones where a GPU is)") {
    std::istringstream help(einfuse("help").out);
    int examples = 0;
    for (std::string line; std::getline(help, line);) {
        if (line.rfind("  einfuse ", 0) != 0) continue;
        ++examples;
        CAPTURE(line);
        Result r = einfuse(line.substr(std::string("  einfuse ").size()));
        if (has(line, "--target cuda") && r.code == 4) continue; // no GPU here
        if (r.code == 4 && has(r.err, "the host backend is not part of this build")) continue; // the GPU machine's build
        CHECK(r.code == 0);
    }
    CHECK(examples >= 4);
}

TEST_CASE("cli usage: mistyped commands and options get a suggestion and exit 1") {
    const struct {
        const char *args;
        const char *stderr_part;
    } rows[] = {
        {"compil 'ij->i'", "unknown command 'compil'; did you mean 'compile'?"},
        {"rnu 'ij->i'", "did you mean 'run'?"},
        {"help cmopile", "did you mean 'compile'?"},
        {"frobnicate", "unknown command 'frobnicate'"},
        {"", "a command is required"},
        {"--verison", "unknown option '--verison'; did you mean '--version'?"},
        {"--dims i=2 run 'ij->i'", "a command comes first"},
        {"run 'ij->i' --dims i=2,j=2 --dimz i=2", "unknown option '--dimz' for `einfuse run`; did you mean '--dims'?"},
        {"run 'ij->i' --dims i=2,j=2 --repaet 3", "did you mean '--repeat'?"},
        {"run 'ij->i' --dims i=2,j=2 --chek", "did you mean '--check'?"},
        {"compile 'ij->i' --emti cu", "did you mean '--emit'?"},
        {"compile 'ij->i' --check", "--check belongs to `einfuse run`"},
        {"run 'ij->i' --emit cu", "--emit belongs to `einfuse compile`"},
        {"run 'ij->i' --dims i=2,j=2 --bogus", "unknown option '--bogus'"},
    };
    for (const auto &row : rows) {
        std::string args = row.args;
        CAPTURE(args);
        Result r = einfuse(args);
        CHECK(r.code == 1);
        CHECK(has(r.err, row.stderr_part));
        CHECK_FALSE(has(r.err, "A subcommand is required"));
    }
    CHECK_FALSE(has(einfuse("frobnicate").err, "did you mean")); // nothing near: no guess
}

TEST_CASE("cli usage: malformed values are short usage errors, exit 1") {
    const struct {
        const char *args;
        const char *stderr_part;
    } rows[] = {
        {"run 'ij->i' --dims i=2,j=2 --repeat -1", "--repeat: '-1' is not a number of runs"},
        {"run 'ij->i' --dims i=2,j=2 --repeat lots", "is not a number of runs"},
        {"run 'ij->i' --dims i=2,j=2 --threads -2", "--threads: '-2' is not a number of threads"},
        {"compile 'ij->i' --dims i=2,j=2 --arch sm_9", "--arch sm_9: expected a CUDA architecture such as sm_90"},
        {"compile 'ij->i' --dims i=2,j=2 --arch 90", "--arch 90"},
        {"compile 'ij->i' --dims i=2,j=2 --arch sm_52", "NN >= 75"},
        {"run 'ij->i' --dims i=2,j=2 --arch sm_9x", "--arch sm_9x"},
        {"compile 'ij->i' --emit llvm --target cuda", "--emit llvm is host code"},
        {"compile 'ij->i' --emit cu --target host", "--emit cu is CUDA code"},
        {"run 'ij->i' --dims i=2 --dims i=3", "--dims gives 'i' twice, as 2 and 3"},
        {"run 'ij->i' --dims 'i=2,,j=3'", "an empty entry"},
        {"run 'ij->i' --shape 0=2x3 --shape 0=4x4", "--shape gives '0' twice, as 2x3 and 4x4"},
        {"compile 'ij->i' --name 9x", "--name 9x: expected a C identifier"},
        {"compile 'ij->i' --name 'a b'", "--name a b: expected a C identifier"},
        {"compile 'ij->i' --name rows --emit plan", "--name prefixes the symbols of --emit cu, h or ptx"},
        {"compile 'ij->i' --emit h --target host", "--emit h is CUDA code"},
    };
    for (const auto &row : rows) {
        std::string args = row.args;
        CAPTURE(args);
        Result r = einfuse(args);
        CHECK(r.code == 1);
        CHECK(has(r.err, row.stderr_part));
        CHECK(r.err.size() < 400); // no 300-digit bound
    }
}

TEST_CASE("cli usage: --dims repeats and merges, --shape repeats when it agrees, spaces in lists") {
    const char *ok[] = {
        "run 'bij,bjk->bik' --dims b=4 --dims i=2,j=3 --dims k=2 --check",
        "run 'bij,bjk->bik' --dims 'b=4, i=2, j=3, k=2' --check",
        "run 'bij,bjk->bik' --dims ' b = 4 ,i=2' --dims 'j=3,k=2' --dims i=2 --check", // i twice, same value
        "run 'bij,bjk->bik' --shape 0=4x2x3 --shape 0=4x2x3 --shape '1=4 x 3 x 2' --check",
        "run 'bij,bjk->bik' --dims=b=4,i=2 --shape=1=4x3x2 --check",
        "run --dims b=4,i=2,j=3,k=2 'bij,bjk->bik' --check", // a repeatable option does not swallow EXPR
    };
    for (const char *args : ok) {
        CAPTURE(args);
        Result r = einfuse(args);
        CHECK(r.code == 0);
        CHECK(has(r.out, ": ok"));
    }
    Result bad = einfuse("run 'bij,bjk->bik' --dims b=4,i=2 --dims j=3,k=2 --shape 0=4x2x5");
    CHECK(bad.code == 2); // a --shape that disagrees with --dims is bad input, as before
}

TEST_CASE("cli usage: compile --name prefixes every exported symbol; --emit h is the header") {
    const std::string expr = "'out[i] = max[j](S[i,j])'";
    Result cu = einfuse("compile " + expr + " --name rowmax");
    REQUIRE(cu.code == 0);
    CHECK(has(cu.out, "extern \"C\" int rowmax_out_launch("));
    CHECK(has(cu.out, "extern \"C\" int rowmax_launch_with_workspace("));
    CHECK(has(cu.out, "extern \"C\" const char *rowmax_error_string(int code)"));
    CHECK(!has(cu.out, "einfuse_out"));
    Result h = einfuse("compile " + expr + " --name rowmax --emit h");
    REQUIRE(h.code == 0);
    CHECK(has(h.out, "#ifndef ROWMAX_H"));
    CHECK(has(h.out, "int rowmax_workspace_bytes(const int64_t *sizes, int num_sizes, size_t *bytes);"));
    CHECK(!has(h.out, "__global__"));
    // Without --name: einfuse's own names, as before.
    Result plain = einfuse("compile " + expr);
    REQUIRE(plain.code == 0);
    CHECK(has(plain.out, "extern \"C\" int einfuse_out_launch("));
    CHECK(has(plain.out, "extern \"C\" int einfuse_out_launch_with_workspace("));
}

TEST_CASE("cli usage: run --json says its exit code") {
    Result r = einfuse("run 'ij->i' --dims i=2,j=3 --check --json");
    CHECK(r.code == 0);
    CHECK(nlohmann::json::parse(r.out)["exit_code"] == 0);
}

TEST_CASE("cli usage: compile --json is one object with the code, or the file it went to") {
    Result r = einfuse("compile 'bij,bjk->bik' --dims b=8,i=2,j=2,k=2 --json");
    REQUIRE(r.code == 0);
    nlohmann::json j = nlohmann::json::parse(r.out);
    CHECK(j["target"] == "cuda");
    CHECK(j["emit"] == "cu");
    CHECK(j["code"].get<std::string>().rfind("// Generated by einfuse", 0) == 0);
    CHECK(has(j["plan"].get<std::string>(), "kernel "));

    Scratch s;
    const std::string file = (s.dir / "k.ll").string();
    Result h = einfuse("compile 'ij->i' --target host --json -o " + file);
    REQUIRE(h.code == 0);
    nlohmann::json jh = nlohmann::json::parse(h.out);
    CHECK(jh["emit"] == "llvm");
    CHECK(jh["output_file"] == file);
    CHECK_FALSE(jh.contains("code"));
    CHECK(has(slurp(file), "einfuse"));
}

TEST_CASE("cli usage: with --json a failure is a JSON object on stdout") {
    SUBCASE("bad input: the diagnostic, exit code and position") {
        Result r = einfuse("run 'ij,jk->ik' --dims i=2,j=3 --json");
        CHECK(r.code == 2);
        CHECK(has(r.err, "no size for index 'k'")); // stderr as without --json
        nlohmann::json j = nlohmann::json::parse(r.out);
        CHECK(j["exit_code"] == 2);
        CHECK(j["kind"] == "input");
        CHECK(has(j["error"].get<std::string>(), "no size for index 'k'"));
        CHECK(has(j["diagnostic"].get<std::string>(), "^"));
        CHECK(j["position"]["begin"] == 4); // the k of "jk"
        CHECK(j["position"]["end"] == 5);
    }
    SUBCASE("usage") {
        for (const char *args : {"run 'ij->i' --dims i=2,j=2 --repeat -1 --json", "run 'ij->i' --dimz i=2 --json",
                                 "compile 'ij->i' --emit llvm --target cuda --json"}) {
            CAPTURE(args);
            Result r = einfuse(args);
            CHECK(r.code == 1);
            nlohmann::json j = nlohmann::json::parse(r.out);
            CHECK(j["exit_code"] == 1);
            CHECK(j["kind"] == "usage");
            CHECK(j["position"].is_null());
        }
    }
    SUBCASE("a program's error") {
        Result r = einfuse("run 'C[i] = foo(A[i])' --dims i=3 --json");
        CHECK(r.code == 2);
        nlohmann::json j = nlohmann::json::parse(r.out);
        CHECK(j["exit_code"] == 2);
        CHECK(j["position"]["begin"].get<int>() >= 7);
    }
}

TEST_CASE("cli usage: the disk cache stays within EINFUSE_CACHE_MAX_BYTES") {
    Scratch s;
    const fs::path cache = s.dir / "cache";
    // Host objects of these are 1-4 KB each: six of them (about 12 KB) do not fit in 4 KB.
    const char *runs[] = {"'ij->i' --dims i=3,j=5",         "'ij->j' --dims i=3,j=5", "'i,i->' --dims i=3",
                          "'ij,jk->ik' --dims i=3,j=5,k=7", "'ij->ji' --dims i=3,j=5", "'ij,ij->ij' --dims i=3,j=5"};
    for (const char *args : runs) {
        CAPTURE(args);
        Result r = einfuse(std::string("run ") + args,
                           "EINFUSE_CACHE_DIR=" + cache.string() + " EINFUSE_CACHE_MAX_BYTES=4K");
        CHECK(r.code == 0);
    }
    std::uintmax_t total = 0;
    int entries = 0;
    for (const auto &e : fs::directory_iterator(cache / "host"))
        if (e.path().extension() == ".bin") total += e.file_size(), ++entries;
    CHECK(entries >= 1);
    CHECK(entries < 6); // some were evicted
    CHECK(total <= 4 * 1024);
}
