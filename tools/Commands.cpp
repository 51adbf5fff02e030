#include "tools/Commands.h"

#include "ir/Reference.h"
#include "support/Npy.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <fstream>
#include <iostream>

namespace einfuse::cli {

namespace {

/** The operands as the command line describes them, before compiling: .npy inputs read (their
 * types become the kernel's signature, their shapes bind sizes) and reconciled with --dtype and
 * --shape. Operands with no file take --dtype's type (default f32) and --shape/--dims' sizes. */
struct Operands {
    std::vector<std::optional<Tensor>> files;
    std::vector<std::string> paths;
    std::vector<std::optional<Shape>> shapes;
    std::vector<DType> dtypes;
    std::vector<int> ranks; // -1: unknown (allowed where the operand has no '...')
};

std::string shape_text(const Shape &s) {
    std::string out;
    for (auto d : s) out += (out.empty() ? "" : "x") + std::to_string(d);
    return out.empty() ? "scalar" : out;
}

Operands describe_operands(const Options &o, const frontend::EinsumAst &ast) {
    const std::size_t n = ast.operands.size();
    // Every option is parsed (exit 1 on a malformed one) before any file is opened (exit 2).
    std::vector<std::optional<std::string>> paths = parse_inputs(o.inputs, n);
    std::vector<std::optional<DType>> dtypes = parse_dtypes(o.dtypes, n);
    Operands ops;
    ops.shapes = parse_shapes(o.shapes, n);
    ops.files.resize(n);
    ops.paths.resize(n);
    for (std::size_t i = 0; i < n; ++i) {
        if (!paths[i]) continue;
        Tensor t = read_npy(*paths[i]);
        const std::string operand = "operand " + std::to_string(i);
        const std::string file = "'" + *paths[i] + "'";
        if (dtypes[i] && *dtypes[i] != t.dtype())
            throw UserError(Diagnostic{"--dtype gives " + operand + " type " + std::string(dtype_name(*dtypes[i])) +
                                           " but " + file + " holds " + std::string(dtype_name(t.dtype())),
                                       {ast.operands[i].where}, {}});
        if (ops.shapes[i] && *ops.shapes[i] != t.shape())
            throw UserError(Diagnostic{"--shape gives " + operand + " shape " + shape_text(*ops.shapes[i]) + " but " +
                                           file + " holds " + shape_text(t.shape()),
                                       {ast.operands[i].where}, {}});
        dtypes[i] = t.dtype();
        ops.shapes[i] = t.shape();
        ops.paths[i] = *paths[i];
        ops.files[i] = std::move(t);
    }
    for (std::size_t i = 0; i < n; ++i) {
        ops.dtypes.push_back(dtypes[i].value_or(DType::F32));
        // The rank of an operand with '...' comes from its shape; others from their labels.
        int rank = ops.shapes[i] ? static_cast<int>(ops.shapes[i]->size()) : -1;
        if (rank < 0 && !ast.operands[i].ellipsis) rank = static_cast<int>(ast.operands[i].labels.size());
        ops.ranks.push_back(rank);
    }
    return ops;
}

/** Runs f; a UserError it throws gets a note per .npy input, since the operand's shape or type
 * in the message came from that file, not from the command line. */
template <class F>
auto noting_files(const Operands &ops, F &&f) -> decltype(f()) {
    try {
        return f();
    } catch (const UserError &e) {
        Diagnostic d = e.diagnostic();
        for (std::size_t i = 0; i < ops.files.size(); ++i)
            if (ops.files[i])
                d.notes.push_back("operand " + std::to_string(i) + " is " + std::string(dtype_name(ops.files[i]->dtype())) +
                                  "[" + shape_text(ops.files[i]->shape()) + "] from '" + ops.paths[i] + "'");
        if (d.notes.size() == e.diagnostic().notes.size()) throw;
        throw UserError(std::move(d));
    }
}

CompiledEinsum compile_expr(const Options &o, Target target, const Operands &ops) {
    return noting_files(ops, [&] {
        return CompiledEinsum(o.expr, ops.dtypes, CompileOptions{target, o.arch, o.threads}, ops.ranks);
    });
}

void write_text(const std::string &text, const std::string &file) {
    if (file.empty() || file == "-") {
        std::cout << text;
        return;
    }
    std::ofstream out(file, std::ios::binary);
    out << text;
    if (!out) throw UserError("cannot write '" + file + "'");
}

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    std::size_t n = v.size();
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

} // namespace

int run_compile(const Options &o) {
    if (o.check || o.repeat || o.threads || !o.inputs.empty() || !o.outputs.empty())
        throw UsageError("--check, --repeat, --threads, --input and --output belong to `einfuse run`");
    Target target = o.target.empty() ? Target::Cuda : parse_target(o.target);
    Operands ops = describe_operands(o, frontend::parse_einsum(o.expr));
    CompiledEinsum compiled = compile_expr(o, target, ops);
    if (!o.dims.empty() || !o.shapes.empty()) // sizes are optional here; when given, check and plan for them
        compiled.plan_for(compiled.bind(ops.shapes, parse_dims(o.dims)));
    std::string kind = o.emit.empty() ? (compiled.options().target == Target::Cuda ? "cu" : "llvm") : o.emit;
    if (kind != "cu" && kind != "ptx" && kind != "llvm" && kind != "plan")
        throw UsageError("--emit " + kind + ": expected cu, ptx, llvm or plan");
    write_text(emit(compiled, kind), o.output_file);
    return kOk;
}

int run_run(const Options &o) {
    if (!o.emit.empty() || !o.output_file.empty()) throw UsageError("--emit and -o belong to `einfuse compile`");
    if (o.repeat < 0) throw UsageError("--repeat must be at least 0");
    std::optional<std::string> output_file = parse_einsum_output(o.outputs);
    ir::Extents dims = parse_dims(o.dims);
    Target target = o.target.empty() ? Target::Host : parse_target(o.target);
    Operands ops = describe_operands(o, frontend::parse_einsum(o.expr));
    CompiledEinsum compiled = compile_expr(o, target, ops);
    std::size_t operands = compiled.ast().operands.size();
    ir::Extents extents = noting_files(ops, [&] { return compiled.bind(ops.shapes, dims); });
    compiled.plan_for(extents);

    // Inputs from files as they are (strides, size-1 broadcast dimensions and all); the others
    // fresh and random every run: a kernel that is right only on zeros or on one seed fails.
    std::mt19937_64 rng(std::random_device{}());
    std::vector<Tensor> inputs;
    std::vector<const Tensor *> ptrs;
    std::size_t bytes = 0;
    for (std::size_t i = 0; i < operands; ++i) {
        if (ops.files[i]) {
            inputs.push_back(*ops.files[i]);
        } else {
            inputs.emplace_back(compiled.program().inputs[i].dtype, compiled.operand_shape(static_cast<int>(i), extents));
            inputs.back().fill_random(rng);
        }
        bytes += inputs.back().nbytes();
    }
    for (const auto &t : inputs) ptrs.push_back(&t);

    int timed = std::max(o.repeat, 1);
    RunResult result = compiled.run(ptrs, extents, timed);
    const Tensor &out = result.outputs.front();
    bytes += out.nbytes();
    double median_us = median(result.times_us);
    double gbps = median_us > 0 ? static_cast<double>(bytes) / (median_us * 1e3) : 0;

    nlohmann::json report;
    report["expression"] = o.expr;
    report["target"] = std::string(target_name(compiled.options().target));
    report["plan"] = emit(compiled, "plan");
    report["output_shape"] = out.shape();
    report["median_us"] = median_us;
    report["runs"] = timed;
    report["gb_per_s"] = gbps;
    if (output_file) {
        write_npy(*output_file, out);
        report["output_file"] = *output_file;
    }

    bool ok = true;
    if (o.check) {
        Tensor want = einsum_reference(compiled, ptrs, extents);
        double err = ir::max_relative_error(out, want);
        double tol = tolerance(out.dtype(), reduction_length(compiled, extents));
        ok = err <= tol;
        report["max_rel_err"] = err;
        report["tolerance"] = tol;
        report["check"] = ok ? "pass" : "fail";
    }

    if (o.json) {
        std::cout << report.dump(2) << "\n";
    } else {
        std::cout << report["plan"].get<std::string>();
        std::cout << "output: out " << dtype_name(out.dtype()) << "[" << shape_text(out.shape()) << "]"
                  << (output_file ? " written to " + *output_file : "") << "\n";
        std::cout << "time: " << median_us << " us (median of " << timed << (timed == 1 ? " run" : " runs")
                  << ", " << gbps << " GB/s moved)\n";
        if (o.check)
            std::cout << "check: max relative error " << report["max_rel_err"].get<double>()
                      << " against the float64 reference (tolerance " << report["tolerance"].get<double>()
                      << "): " << (ok ? "ok" : "FAILED") << "\n";
    }
    return ok ? kOk : kCheckFailed;
}

} // namespace einfuse::cli
