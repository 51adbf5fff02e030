// The einfuse command: `einfuse compile EXPR ...` and `einfuse run EXPR ...`.
// Exit codes: 0 ok, 1 usage, 2 bad input, 3 check failed, 4 target or backend failure,
// 5 internal error (a bug in einfuse).
#include "Commands.h"

#include <CLI/CLI.hpp>

#include <iostream>
#include <string>
#include <string_view>

using namespace einfuse;
using namespace einfuse::cli;

namespace {

void add_common(CLI::App &cmd, Options &o) {
    cmd.add_option("EXPR", o.expr, "einsum subscripts (\"bij,bjk->bik\") or an index-notation program (\"D[i] = relu(A[i,j] * x[j])\")")->required();
    cmd.add_option("--dims", o.dims, "sizes of index labels: i=2,j=3,...");
    cmd.add_option("--shape", o.shapes, "an input's shape: NAME=2x3x4 (NAME: 0, 1, ... for an einsum; a program's tensor name)");
    cmd.add_option("--dtype", o.dtypes, "element type f16|bf16|f32|f64|i32|i64, or NAME=TYPE for one input");
    cmd.add_option("--target", o.target, "host | cuda");
    cmd.add_option("--arch", o.arch, "CUDA architecture, e.g. sm_90");
    cmd.add_option("--input", o.inputs, "(run) an input from numpy's .npy file: NAME=FILE.npy");
    cmd.add_option("--output", o.outputs, "(run) write an output to a .npy file: NAME=FILE.npy (an einsum's is out)");
    cmd.add_option("--threads", o.threads, "host worker threads (default: all cores)")->check(CLI::NonNegativeNumber);
    cmd.add_flag("--tf32", o.tf32, "f32 matrix products may round their inputs to tf32 (tensor cores, about 3 digits)");
    cmd.add_flag("--json", o.json, "one JSON object on stdout");
}

/** `text` with control bytes (C0 but tab and newline, and DEL) as \xHH: option values echoed in
 * a message must not drive the terminal, as the expression's do not (its diagnostics are
 * rendered by the library, which escapes them the same way). */
std::string printable(std::string_view text) {
    static const char digits[] = "0123456789abcdef";
    std::string out;
    for (char c : text) {
        unsigned char u = static_cast<unsigned char>(c);
        bool control = (u < 0x20 && c != '\t' && c != '\n') || u == 0x7f;
        out += control ? std::string("\\x") + digits[u >> 4] + digits[u & 15] : std::string(1, c);
    }
    return out;
}

} // namespace

int main(int argc, char **argv) {
    CLI::App app{"einfuse: a tensor-expression compiler (einsum -> CUDA C or host code via LLVM)"};
    app.require_subcommand(1);
    Options o;
    CLI::App *compile = app.add_subcommand("compile", "write code for an expression");
    add_common(*compile, o);
    compile->add_option("--emit", o.emit, "cu | ptx | llvm | plan (default: cu for cuda, llvm for host)");
    compile->add_option("-o", o.output_file, "output file (default: stdout)");
    CLI::App *run = app.add_subcommand("run", "compile, run on given or random inputs, optionally check and time");
    add_common(*run, o);
    run->add_flag("--check", o.check, "compare with the float64 reference interpreter");
    run->add_option("--repeat", o.repeat, "time N runs and report the median")->check(CLI::NonNegativeNumber);
    run->add_option("--gemm", o.gemm, "what runs a GEMM: auto | cublaslt | emitted | loops (default auto; host: auto or loops)");

    try {
        app.parse(argc, argv);
    } catch (const CLI::CallForHelp &e) {
        return app.exit(e);
    } catch (const CLI::CallForAllHelp &e) {
        return app.exit(e);
    } catch (const CLI::ParseError &e) {
        std::cerr << "einfuse: error: " << printable(e.what()) << "\n  (einfuse --help for usage)\n";
        return kUsage;
    }

    try {
        return compile->parsed() ? run_compile(o) : run_run(o);
    } catch (const UsageError &e) {
        std::cerr << "einfuse: error: " << printable(e.what()) << "\n";
        return kUsage;
    } catch (const Error &e) {
        switch (e.kind()) {
        case ErrorKind::Input: std::cerr << e.what(); return kBadInput; // rendered (escaped), with carets
        case ErrorKind::Target: std::cerr << "einfuse: error: " << printable(e.message()) << "\n"; return kTargetFailure;
        case ErrorKind::Internal: break;
        }
        std::cerr << "einfuse: internal error (please report): " << printable(e.message()) << "\n";
        return kInternal;
    } catch (const std::bad_alloc &) {
        std::cerr << "einfuse: error: out of memory\n";
        return kTargetFailure;
    } catch (const std::exception &e) {
        std::cerr << "einfuse: internal error (please report): " << printable(e.what()) << "\n";
        return kInternal;
    }
}
