#include "tools/Commands.h"

#include "ir/Reference.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <fstream>
#include <iostream>

namespace einfuse::cli {

namespace {

void reject_unhonoured(const Options &o) {
    if (!o.inputs.empty() || !o.outputs.empty())
        throw UsageError("--input and --output (.npy files) are not supported yet by this build");
}

CompiledEinsum compile_expr(const Options &o, Target default_target) {
    Target target = o.target.empty() ? default_target : parse_target(o.target);
    frontend::EinsumAst ast = frontend::parse_einsum(o.expr); // for the operand count
    std::size_t operands = ast.operands.size();
    std::vector<DType> dtypes = parse_dtypes(o.dtypes, operands);
    std::vector<int> ranks; // from --shape where given: an operand with '...' needs one
    for (const auto &shape : parse_shapes(o.shapes, operands))
        ranks.push_back(shape ? static_cast<int>(shape->size()) : -1);
    for (std::size_t i = 0; i < operands; ++i)
        if (ranks[i] < 0 && !ast.operands[i].ellipsis) ranks[i] = static_cast<int>(ast.operands[i].labels.size());
    return CompiledEinsum(o.expr, dtypes, CompileOptions{target, o.arch, o.threads}, ranks);
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

std::string shape_text(const Shape &s) {
    std::string out;
    for (auto d : s) out += (out.empty() ? "" : "x") + std::to_string(d);
    return out.empty() ? "scalar" : out;
}

} // namespace

int run_compile(const Options &o) {
    reject_unhonoured(o);
    if (o.check || o.repeat || o.threads) throw UsageError("--check, --repeat and --threads belong to `einfuse run`");
    CompiledEinsum compiled = compile_expr(o, Target::Cuda);
    if (!o.dims.empty() || !o.shapes.empty()) // sizes are optional here; when given, check them
        compiled.bind(parse_shapes(o.shapes, compiled.ast().operands.size()), parse_dims(o.dims));
    std::string kind = o.emit.empty() ? (compiled.options().target == Target::Cuda ? "cu" : "llvm") : o.emit;
    if (kind != "cu" && kind != "ptx" && kind != "llvm" && kind != "plan")
        throw UsageError("--emit " + kind + ": expected cu, ptx, llvm or plan");
    write_text(emit(compiled, kind), o.output_file);
    return kOk;
}

int run_run(const Options &o) {
    reject_unhonoured(o);
    if (!o.emit.empty() || !o.output_file.empty()) throw UsageError("--emit and -o belong to `einfuse compile`");
    if (o.repeat < 0) throw UsageError("--repeat must be at least 0");
    CompiledEinsum compiled = compile_expr(o, Target::Host);
    std::size_t operands = compiled.ast().operands.size();
    ir::Extents extents = compiled.bind(parse_shapes(o.shapes, operands), parse_dims(o.dims));

    // Fresh random inputs every run: a kernel that is right only on zeros or on one seed fails.
    std::mt19937_64 rng(std::random_device{}());
    std::vector<Tensor> inputs;
    std::vector<const Tensor *> ptrs;
    std::size_t bytes = 0;
    for (std::size_t i = 0; i < operands; ++i) {
        inputs.emplace_back(compiled.program().inputs[i].dtype, compiled.operand_shape(static_cast<int>(i), extents));
        inputs.back().fill_random(rng);
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
        std::cout << "output: out " << dtype_name(out.dtype()) << "[" << shape_text(out.shape()) << "]\n";
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
