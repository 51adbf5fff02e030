#pragma once
// What the command line asks for, whichever form the expression takes: the expression compiled,
// its inputs as the options describe them (.npy files read, --dtype and --shape reconciled with
// them), and the index sizes they bind. `run` and `compile` work on a Job and know no form.
#include "CliOptions.h"

#include <utility>

namespace einfuse::cli {

struct InputOptions {
    std::vector<std::string> names;             // as options name them: "0", "1" or "A", "x"
    std::vector<std::optional<NpyTensor>> files; // read from --input
    std::vector<std::string> paths;
    std::vector<std::optional<Shape>> shapes;      // from --shape or the file
    std::vector<std::optional<ScalarType>> dtypes; // from --dtype or the file
};

/** Reads the --input files and reconciles them with --dtype and --shape (exit 2 on a conflict,
 * with a caret at the input's place in the expression). */
InputOptions describe_inputs(const Options &o, const ExpressionInfo &expression);

/** Runs f; an input error it throws gets a note per .npy input, since a shape or type in the
 * message came from that file, not from the command line. */
template <class F> auto noting_files(const InputOptions &in, F &&f) -> decltype(f()) {
    try {
        return f();
    } catch (const Error &e) {
        std::vector<std::string> notes;
        for (std::size_t i = 0; i < in.files.size(); ++i)
            if (in.files[i])
                notes.push_back("input " + in.names[i] + " is " + std::string(scalar_type_name(in.files[i]->storage.dtype())) +
                                "[" + shape_text(in.files[i]->shape) + "] from '" + in.paths[i] + "'");
        if (e.kind() != ErrorKind::Input || notes.empty()) throw;
        throw e.with_notes(notes);
    }
}

struct Job {
    Kernel kernel;                         // compiled for the target, outside the compile cache
    InputOptions inputs;                   // in the order of kernel.inputs()
    std::vector<std::string> output_names; // in the order of kernel.outputs()
    Sizes dims;                            // --dims

    /** Index sizes from the shapes, the files and --dims. */
    Sizes bind() const {
        return noting_files(inputs, [&] { return kernel.bind(inputs.shapes, dims); });
    }
    /** The same, leaving out the sizes they do not give (compile: those stay free). */
    Sizes bind_known() const {
        return noting_files(inputs, [&] { return kernel.bind_known(inputs.shapes, dims); });
    }
};

/** An einsum's operands are named 0, 1, ... and its one output `out`; a program's inputs and
 * outputs go by its tensor names. */
Job make_job(const Options &o, DeviceKind target);

} // namespace einfuse::cli
