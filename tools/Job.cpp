#include "tools/Job.h"

#include "support/Npy.h"

namespace einfuse::cli {

InputOptions describe_inputs(const Options &o, const std::vector<std::string> &names,
                             const std::vector<SourceRange> &where) {
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
        Tensor t = read_npy(*paths[i]);
        const std::string input = "input " + names[i];
        const std::string file = "'" + *paths[i] + "'";
        if (in.dtypes[i] && *in.dtypes[i] != t.dtype())
            throw UserError(Diagnostic{"--dtype gives " + input + " type " + std::string(dtype_name(*in.dtypes[i])) +
                                           " but " + file + " holds " + std::string(dtype_name(t.dtype())),
                                       {where[i]}, {}});
        if (in.shapes[i] && *in.shapes[i] != t.shape())
            throw UserError(Diagnostic{"--shape gives " + input + " shape " + shape_text(*in.shapes[i]) + " but " +
                                           file + " holds " + shape_text(t.shape()),
                                       {where[i]}, {}});
        in.dtypes[i] = t.dtype();
        in.shapes[i] = t.shape();
        in.paths[i] = *paths[i];
        in.files[i] = std::move(t);
    }
    return in;
}

} // namespace einfuse::cli
