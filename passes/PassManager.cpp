#include "passes/PassManager.h"

#include <algorithm>
#include <cstdlib>
#include <iostream>
#include <sstream>

namespace einfuse::passes {

namespace {

std::string env(const char *name) {
    const char *v = std::getenv(name);
    return v ? v : "";
}

} // namespace

// EINFUSE_DEBUG=2 is the older spelling of EINFUSE_PRINT_AFTER=all; both work.
PassManager::PassManager()
    : PassManager(std::atoi(env("EINFUSE_DEBUG").c_str()) >= 2 ? "all" : env("EINFUSE_PRINT_AFTER"),
                  env("EINFUSE_TIME_PASSES") == "1", std::cerr) {}

PassManager::PassManager(std::string print_after, bool time_passes, std::ostream &log) : time_(time_passes), log_(log) {
    std::stringstream names(print_after);
    for (std::string name; std::getline(names, name, ',');)
        if (!name.empty()) print_after_.push_back(name);
    all_ = std::find(print_after_.begin(), print_after_.end(), "all") != print_after_.end();
}

bool PassManager::prints(const std::string &name) const {
    return all_ || std::find(print_after_.begin(), print_after_.end(), name) != print_after_.end();
}

void PassManager::note_time(const std::string &name, double us) { log_ << "einfuse: pass " << name << ": " << us << " us\n"; }

void PassManager::print(const std::string &name, const std::string &ir) {
    log_ << "einfuse: after " << name << ":\n" << ir << "\n";
}

} // namespace einfuse::passes
