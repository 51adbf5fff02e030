#pragma once
// `einfuse compile` and `einfuse run`: each returns the process exit code.
#include "CliOptions.h"

namespace einfuse::cli {

int run_compile(const Options &o);
int run_run(const Options &o);

} // namespace einfuse::cli
