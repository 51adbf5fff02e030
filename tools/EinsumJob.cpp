// The command line's einsum: operands named 0, 1, ...; one output named `out`.
#include "tools/Job.h"

namespace einfuse::cli {

Job make_einsum_job(const Options &o, Target target) {
    frontend::EinsumAst ast = frontend::parse_einsum(o.expr);
    std::vector<std::string> names;
    std::vector<SourceRange> where;
    for (std::size_t i = 0; i < ast.operands.size(); ++i) {
        names.push_back(std::to_string(i));
        where.push_back(ast.operands[i].where);
    }
    Job job;
    job.inputs = describe_inputs(o, names, where);
    job.output_names = {"out"};
    std::vector<DType> dtypes;
    std::vector<int> ranks; // an operand with '...' takes its rank from its shape
    for (std::size_t i = 0; i < names.size(); ++i) {
        dtypes.push_back(job.inputs.dtypes[i].value_or(DType::F32));
        int rank = job.inputs.shapes[i] ? static_cast<int>(job.inputs.shapes[i]->size()) : -1;
        if (rank < 0 && !ast.operands[i].ellipsis) rank = static_cast<int>(ast.operands[i].labels.size());
        ranks.push_back(rank);
    }
    auto compiled = noting_files(job.inputs, [&] {
        return std::make_unique<CompiledEinsum>(o.expr, dtypes, compile_options(o, target), ranks);
    });
    const CompiledEinsum *einsum = compiled.get();
    job.compiled = std::move(compiled);
    ir::Extents dims = parse_dims(o.dims);
    job.bind = [einsum, dims](const InputOptions &in) {
        return noting_files(in, [&] { return einsum->bind(in.shapes, dims); });
    };
    job.input_shape = [einsum](std::size_t i, const ir::Extents &e) {
        return einsum->operand_shape(static_cast<int>(i), e);
    };
    return job;
}

} // namespace einfuse::cli
