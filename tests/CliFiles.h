#pragma once
// What the CLI and disk cache tests share: the einfuse command under test and whole-file reads.
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

// Not in namespace einfuse: cli_test.cpp has a function of that name.
namespace test_files {

/** The einfuse command: $EINFUSE_CLI (the GPU machine's copy), else the one built with the tests. */
inline std::string cli() {
    const char *env = std::getenv("EINFUSE_CLI");
    return env ? env : EINFUSE_CLI;
}

/** A whole file's bytes ("" when it cannot be read). */
inline std::string slurp(const std::filesystem::path &path) {
    std::ifstream f(path, std::ios::binary);
    std::stringstream s;
    s << f.rdbuf();
    return s.str();
}

} // namespace test_files
