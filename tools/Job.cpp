#include "Job.h"

namespace einfuse::cli {

InputOptions describe_inputs(const Options &o, const ExpressionInfo &expression) {
    std::vector<std::string> names;
    for (const auto &in : expression.inputs) names.push_back(in.name);
    // Every option is parsed (exit 1 on a malformed one) before any file is opened (exit 2).
    std::vector<std::optional<std::string>> paths = parse_inputs(o.inputs, names);
    InputOptions in;
    in.names = names;
    in.dtypes = parse_dtypes(o.dtypes, names);
    in.shapes = parse_shapes(o.shapes, names);
    in.files.resize(names.size());
    in.paths.resize(names.size());
    for (std::size_t i = 0; i < names.size(); ++i) {
        if (!paths[i]) continue;
        NpyTensor t = load_npy(*paths[i]);
        ScalarType dtype = t.storage.dtype();
        const std::string input = "input " + names[i];
        const std::string file = "'" + *paths[i] + "'";
        const TextRange where = expression.inputs[i].where;
        if (in.dtypes[i] && *in.dtypes[i] != dtype)
            throw Error::input("--dtype gives " + input + " type " + std::string(scalar_type_name(*in.dtypes[i])) +
                                   " but " + file + " holds " + std::string(scalar_type_name(dtype)),
                               o.expr, {where});
        if (in.shapes[i] && *in.shapes[i] != t.shape)
            throw Error::input("--shape gives " + input + " shape " + shape_text(*in.shapes[i]) + " but " + file +
                                   " holds " + shape_text(t.shape),
                               o.expr, {where});
        in.dtypes[i] = dtype;
        in.shapes[i] = t.shape;
        in.paths[i] = *paths[i];
        in.files[i] = std::move(t);
    }
    return in;
}

Job make_job(const Options &o, DeviceKind target) {
    ExpressionInfo expression = inspect(o.expr);
    Job job;
    job.inputs = describe_inputs(o, expression);
    Signature signature;
    for (std::size_t i = 0; i < expression.inputs.size(); ++i) {
        const std::optional<ScalarType> &dtype = job.inputs.dtypes[i];
        if (expression.is_program) {
            if (dtype) signature.input_dtypes[expression.inputs[i].name] = *dtype;
            continue;
        }
        // An operand with '...' takes its rank from its shape (-1: not known yet).
        const std::optional<Shape> &shape = job.inputs.shapes[i];
        signature.dtypes.push_back(dtype.value_or(ScalarType::F32));
        signature.ranks.push_back(shape ? static_cast<int>(shape->size()) : expression.inputs[i].rank);
    }
    job.kernel = noting_files(job.inputs, [&] { return compile_uncached(expression, signature, target, kernel_options(o)); });
    for (const auto &t : job.kernel.outputs()) job.output_names.push_back(t.name);
    job.dims = parse_dims(o.dims);
    return job;
}

} // namespace einfuse::cli
