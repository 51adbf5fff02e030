// The command line's index-notation program: inputs and outputs named as the program names them.
#include "tools/Job.h"

namespace einfuse::cli {

Job make_program_job(const Options &o, Target target) {
    auto ast = frontend::parse_program(o.expr);
    std::vector<std::string> names;
    for (const auto &[name, rank] : frontend::program_inputs(ast)) names.push_back(name);
    // Carets for a conflict with a file point at the whole program: the tensor may be read in
    // several places.
    std::vector<SourceRange> where(names.size(), SourceRange{0, static_cast<int>(o.expr.size())});

    Job job;
    job.inputs = describe_inputs(o, names, where);
    std::map<std::string, DType> dtypes;
    for (std::size_t i = 0; i < names.size(); ++i)
        if (job.inputs.dtypes[i]) dtypes[names[i]] = *job.inputs.dtypes[i];
    auto compiled = noting_files(job.inputs, [&] {
        return std::make_unique<CompiledProgram>(o.expr, dtypes, compile_options(o, target));
    });
    for (std::size_t i = 0; i < names.size(); ++i)
        if (compiled->program().inputs.at(i).name != names[i])
            throw InternalError("the program's inputs are in the order of first use");
    for (const auto &t : compiled->program().outputs) job.output_names.push_back(t.name);

    const CompiledProgram *program = compiled.get();
    job.compiled = std::move(compiled);
    ir::Extents dims = parse_dims(o.dims);
    job.bind = [program, dims](const InputOptions &in) {
        std::map<std::string, Shape> shapes;
        for (std::size_t i = 0; i < in.names.size(); ++i)
            if (in.shapes[i]) shapes[in.names[i]] = *in.shapes[i];
        return noting_files(in, [&] { return program->bind(shapes, dims); });
    };
    job.input_shape = [program, names](std::size_t i, const ir::Extents &e) { return program->tensor_shape(names[i], e); };
    return job;
}

} // namespace einfuse::cli
