#pragma once
// What the command line asks for, whichever form the expression takes: the expression compiled,
// its inputs as the options describe them (.npy files read, --dtype and --shape reconciled with
// them), and how to bind index sizes. `run` and `compile` work on a Job and know no form.
#include "tools/CliOptions.h"

#include <functional>
#include <memory>

namespace einfuse::cli {

struct InputOptions {
    std::vector<std::string> names;           // as options name them: "0", "1" or "A", "x"
    std::vector<std::optional<Tensor>> files; // read from --input
    std::vector<std::string> paths;
    std::vector<std::optional<Shape>> shapes;  // from --shape or the file
    std::vector<std::optional<DType>> dtypes;  // from --dtype or the file
};

/** Reads the --input files and reconciles them with --dtype and --shape (exit 2 on a conflict,
 * with a caret at `where[i]`, the input's place in the expression). */
InputOptions describe_inputs(const Options &o, const std::vector<std::string> &names,
                             const std::vector<SourceRange> &where);

/** Runs f; a UserError it throws gets a note per .npy input, since a shape or type in the
 * message came from that file, not from the command line. */
template <class F> auto noting_files(const InputOptions &in, F &&f) -> decltype(f()) {
    try {
        return f();
    } catch (const UserError &e) {
        Diagnostic d = e.diagnostic();
        for (std::size_t i = 0; i < in.files.size(); ++i)
            if (in.files[i])
                d.notes.push_back("input " + in.names[i] + " is " + std::string(dtype_name(in.files[i]->dtype())) +
                                  "[" + shape_text(in.files[i]->shape()) + "] from '" + in.paths[i] + "'");
        if (d.notes.size() == e.diagnostic().notes.size()) throw;
        throw UserError(std::move(d));
    }
}

struct Job {
    std::unique_ptr<Compiled> compiled;
    InputOptions inputs;                    // in the order of compiled->program().inputs
    std::vector<std::string> output_names;  // in the order of compiled->program().outputs
    std::function<ir::Extents(const InputOptions &)> bind; // index sizes from shapes, files and --dims
    std::function<Shape(std::size_t input, const ir::Extents &)> input_shape;
};

Job make_einsum_job(const Options &o, Target target);
Job make_program_job(const Options &o, Target target);

} // namespace einfuse::cli
