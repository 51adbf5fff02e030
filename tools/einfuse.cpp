// The einfuse command: `einfuse compile EXPR ...`, `einfuse run EXPR ...`, `einfuse help`,
// `einfuse --version`. Exit codes: 0 ok, 1 usage, 2 bad input, 3 check failed, 4 target or
// backend failure, 5 internal error (a bug in einfuse). With --json every failure is also one
// JSON object on stdout (Failure.h).
#include "Commands.h"
#include "Failure.h"
#include "Suggest.h"

#include <CLI/CLI.hpp>
#include <einfuse/version.h>

#include <charconv>
#include <iostream>
#include <string>
#include <string_view>

using namespace einfuse;
using namespace einfuse::cli;

namespace {

const char *const kFooter = R"text(Examples:
  einfuse run "bij,bjk->bik" --dims b=262144,i=2,j=2,k=2 --check
  einfuse run "bij,bjk->bik" --shape 0=8x2x3 --shape 1=8x3x4 --repeat 10 --json
  einfuse run "out[i] = sum[j](exp(-sum[d]((x[i,d] - y[j,d])^2)) * w[j])" --dims i=100000,j=100000,d=3 --target cuda
  einfuse compile "bij,bjk->bik" --dims b=262144,i=2,j=2,k=2 -o bmm.cu
  einfuse compile "ij,jk->ik" --target host --emit plan
  einfuse compile "out[i] = max[j](S[i,j])" --name rowmax -o rowmax.cu
  einfuse compile "out[i] = max[j](S[i,j])" --name rowmax --emit h -o rowmax.h

Exit codes:
  0 ok, 1 usage (unknown command or option, malformed value), 2 bad input (expression, shape,
  size, type, .npy file), 3 --check failed, 4 target unavailable or backend failure,
  5 internal error (please report). With --json a failure is also a JSON object on stdout.

Environment:
  EINFUSE_CACHE_DIR        disk cache root (default $XDG_CACHE_HOME/einfuse, ~/.cache/einfuse); off disables
  EINFUSE_CACHE_MAX_BYTES  size limit of each cache folder, e.g. 512M (default 256M); least recently used go first
  EINFUSE_PRINT_AFTER      print the IR after these passes (comma list, or all); EINFUSE_DEBUG=2 is all
  EINFUSE_TIME_PASSES=1    print each pass's time
  EINFUSE_HOST_GEMM=0      host gemm kernels run their loop nest instead of the packed GEMM
  EINFUSE_CUBLASLT         the cuBLASLt library to load (default libcublasLt.so.13)
  EINFUSE_NVRTC            the NVRTC library to load (default libnvrtc.so.13)

docs/cli.md has the whole reference.)text";

/** A whole number of `what` from 0 to INT_MAX, for --repeat and --threads: CLI11's own range
 * check prints a 300-digit bound. */
CLI::Validator count_of(const char *what) {
    return CLI::Validator(
        [what](std::string &value) -> std::string {
            int v = 0;
            auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), v);
            if (ec == std::errc() && end == value.data() + value.size() && v >= 0) return "";
            return "'" + value + "' is not a number of " + what + " (a whole number, 0 or more)";
        },
        "N");
}

void add_common(CLI::App &cmd, Options &o) {
    cmd.add_option("EXPR", o.expr, "einsum subscripts (\"bij,bjk->bik\") or an index-notation program (\"D[i] = relu(A[i,j] * x[j])\")")->required();
    cmd.add_option("--dims", o.dims, "sizes of index labels: i=2,j=3,... (repeatable; merged)")->allow_extra_args(false);
    cmd.add_option("--shape", o.shapes, "an input's shape: NAME=2x3x4 (NAME: 0, 1, ... for an einsum; a program's tensor name)")->allow_extra_args(false);
    cmd.add_option("--dtype", o.dtypes, "element type f16|bf16|f32|f64|i32|i64, or NAME=TYPE for one input")->allow_extra_args(false);
    cmd.add_option("--target", o.target, "host | cuda");
    cmd.add_option("--arch", o.arch, "CUDA architecture, e.g. sm_90");
    cmd.add_option("--input", o.inputs, "(run) an input from numpy's .npy file: NAME=FILE.npy")->allow_extra_args(false);
    cmd.add_option("--output", o.outputs, "(run) write an output to a .npy file: NAME=FILE.npy (an einsum's is out)")->allow_extra_args(false);
    cmd.add_option("--threads", o.threads, "host worker threads (default: all cores)")->check(count_of("threads"));
    cmd.add_flag("--tf32", o.tf32, "f32 matrix products may round their inputs to tf32 (tensor cores, about 3 digits)");
    cmd.add_flag("--json", o.json, "one JSON object on stdout, also for a failure");
    cmd.footer(kFooter);
}

/** The long options `cmd` takes ("--dims", ...), and which of them take a value. */
std::vector<std::string> long_options(const CLI::App &cmd, std::vector<std::string> *with_value = nullptr) {
    std::vector<std::string> names;
    for (const CLI::Option *opt : cmd.get_options()) {
        for (const auto &n : opt->get_lnames()) {
            names.push_back("--" + n);
            if (with_value && opt->get_type_size_min() > 0) with_value->push_back("--" + n);
        }
        for (const auto &n : opt->get_snames()) {
            names.push_back("-" + n);
            if (with_value && opt->get_type_size_min() > 0) with_value->push_back("-" + n);
        }
    }
    return names;
}

bool contains(const std::vector<std::string> &v, const std::string &s) { return std::find(v.begin(), v.end(), s) != v.end(); }

/** An option of `args` (the words after the command) that `cmd` does not take, as a message with
 * a suggestion, or "" when every option is known. */
std::string unknown_option(const CLI::App &cmd, const CLI::App &other, const std::vector<std::string> &args) {
    std::vector<std::string> with_value;
    const std::vector<std::string> known = long_options(cmd, &with_value);
    for (std::size_t i = 0; i < args.size(); ++i) {
        const std::string &word = args[i];
        if (word == "--") break;
        if (word.size() < 2 || word[0] != '-' || (word[1] >= '0' && word[1] <= '9') || word[1] == '.') continue;
        const std::string name = word.substr(0, word.find('='));
        if (contains(known, name)) {
            if (name == word && contains(with_value, name)) ++i; // its value
            continue;
        }
        if (contains(long_options(other), name))
            return "option " + name + " belongs to `einfuse " + other.get_name() + "`, not `einfuse " + cmd.get_name() + "`";
        std::string near = suggest(name, known);
        return "unknown option '" + name + "' for `einfuse " + cmd.get_name() + "`" +
               (near.empty() ? "" : "; did you mean '" + near + "'?");
    }
    return "";
}

bool has_word(int argc, char **argv, std::string_view word) {
    for (int i = 1; i < argc; ++i) {
        if (std::string_view(argv[i]) == "--") return false;
        if (argv[i] == word) return true;
    }
    return false;
}

} // namespace

int main(int argc, char **argv) {
    CLI::App app{"einfuse " EINFUSE_VERSION_STRING ": a tensor-expression compiler (einsum -> CUDA C or host code via LLVM)",
                 "einfuse"};
    app.require_subcommand(1);
    app.set_version_flag("--version", "einfuse " EINFUSE_VERSION_STRING);
    app.footer(kFooter);
    Options o;
    CLI::App *compile = app.add_subcommand("compile", "write code for an expression");
    add_common(*compile, o);
    compile->add_option("--emit", o.emit, "cu | h | ptx | llvm | plan (default: cu for cuda, llvm for host; h: the .cu's header)");
    compile->add_option("--name", o.name, "prefix of every exported symbol of the .cu, its header and PTX (a C identifier)");
    compile->add_option("-o", o.output_file, "output file (default: stdout)");
    CLI::App *run = app.add_subcommand("run", "compile, run on given or random inputs, optionally check and time");
    add_common(*run, o);
    run->add_flag("--check", o.check, "compare with the float64 reference interpreter");
    run->add_option("--repeat", o.repeat, "time N runs and report the median")->check(count_of("runs"));
    run->add_option("--gemm", o.gemm, "what runs a GEMM: auto | cublaslt | emitted | loops (default auto; host: auto or loops)");

    const bool json = has_word(argc, argv, "--json");
    const std::vector<std::string> commands{"compile", "run", "help"};
    const std::string first = argc > 1 ? argv[1] : "";

    // What CLI11 would answer with "A subcommand is required": `help`, --version, no command,
    // and a mistyped one.
    if (has_word(argc, argv, "--version")) {
        std::cout << "einfuse " EINFUSE_VERSION_STRING "\n";
        return kOk;
    }
    if (first == "help") {
        const std::string topic = argc > 2 ? argv[2] : "";
        if (topic.empty() || topic == "help") std::cout << app.help();
        else if (topic == "compile" || topic == "run") std::cout << app.get_subcommand(topic)->help();
        else return report(Failure::usage("unknown command '" + topic + "'" + did_you_mean(topic, commands)), json);
        return kOk;
    }
    if (first.empty())
        return report(Failure::usage("a command is required: compile, run or help (einfuse help for usage)"), json);
    if (first[0] != '-' && !contains(commands, first))
        return report(Failure::usage("unknown command '" + first + "'" + did_you_mean(first, commands) +
                                     " (commands: compile, run, help)"),
                      json);

    try {
        app.parse(argc, argv);
    } catch (const CLI::CallForHelp &e) {
        return app.exit(e);
    } catch (const CLI::CallForAllHelp &e) {
        return app.exit(e);
    } catch (const CLI::ParseError &e) {
        std::string message = e.what();
        if (first == "compile" || first == "run") {
            std::vector<std::string> rest(argv + 2, argv + argc);
            const CLI::App &cmd = first == "compile" ? *compile : *run;
            const CLI::App &other = first == "compile" ? *run : *compile;
            if (std::string unknown = unknown_option(cmd, other, rest); !unknown.empty()) message = unknown;
        } else if (const std::string name = first.substr(0, first.find('=')); !contains(long_options(app), name)) {
            // An option before the command: one of a command's ("einfuse --dims ..."), or a typo.
            if (contains(long_options(*run), name) || contains(long_options(*compile), name))
                message = "a command comes first: einfuse run EXPR " + name + " ... (or compile)";
            else
                message = "unknown option '" + name + "'" + did_you_mean(name, long_options(app));
        }
        return report(Failure::usage(message + "\n  (einfuse help " + (first[0] == '-' ? "" : first + " ") + "for usage)"),
                      json);
    }

    try {
        return compile->parsed() ? run_compile(o) : run_run(o);
    } catch (const UsageError &e) {
        return report(Failure::usage(e.what()), json);
    } catch (const Error &e) {
        return report(Failure::of(e), json);
    } catch (const std::bad_alloc &) {
        return report(Failure::target("out of memory"), json);
    } catch (const std::exception &e) {
        return report(Failure::internal(e.what()), json);
    }
}
