#include "tools/Commands.h"

#include "ir/Reference.h"
#include "support/Npy.h"
#include "tools/Job.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <fstream>
#include <iostream>

namespace einfuse::cli {

namespace {


Job make_job(const Options &o, Target target) {
    return frontend::is_program(o.expr) ? make_program_job(o, target) : make_einsum_job(o, target);
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

/** The program's inputs: files as they are (strides, size-1 broadcast dimensions and all), the
 * others fresh and random on every run: a kernel right only on zeros or on one seed fails. */
std::vector<Tensor> make_inputs(const Job &job, const ir::Extents &extents) {
    std::mt19937_64 rng(std::random_device{}());
    std::vector<Tensor> inputs;
    const auto &params = job.compiled->program().inputs;
    for (std::size_t i = 0; i < params.size(); ++i) {
        if (job.inputs.files[i]) {
            inputs.push_back(*job.inputs.files[i]);
            continue;
        }
        inputs.emplace_back(params[i].dtype, job.input_shape(i, extents));
        inputs.back().fill_random(rng);
    }
    return inputs;
}

} // namespace

int run_compile(const Options &o) {
    if (o.check || o.repeat || o.threads || !o.inputs.empty() || !o.outputs.empty())
        throw UsageError("--check, --repeat, --threads, --input and --output belong to `einfuse run`");
    std::string kind = !o.emit.empty() ? o.emit : (o.target.empty() || o.target == "cuda") ? "cu" : "llvm";
    if (kind != "cu" && kind != "ptx" && kind != "llvm" && kind != "plan")
        throw UsageError("--emit " + kind + ": expected cu, ptx, llvm or plan");
    Job job = make_job(o, o.target.empty() ? Target::Cuda : parse_target(o.target));
    if (!o.dims.empty() || !o.shapes.empty()) // sizes are optional here; when given, check and plan for them
        job.compiled->plan_for(job.bind(job.inputs));
    write_text(emit(*job.compiled, kind), o.output_file);
    return kOk;
}

int run_run(const Options &o) {
    if (!o.emit.empty() || !o.output_file.empty()) throw UsageError("--emit and -o belong to `einfuse compile`");
    if (o.repeat < 0) throw UsageError("--repeat must be at least 0");
    Target target = o.target.empty() ? Target::Host : parse_target(o.target);
    Job job = make_job(o, target);
    std::vector<std::optional<std::string>> output_files = parse_outputs(o.outputs, job.output_names);
    ir::Extents extents = job.bind(job.inputs);
    Compiled &compiled = *job.compiled;
    compiled.plan_for(extents);

    std::vector<Tensor> inputs = make_inputs(job, extents);
    std::vector<const Tensor *> ptrs;
    std::size_t bytes = 0;
    for (const auto &t : inputs) {
        ptrs.push_back(&t);
        bytes += t.nbytes();
    }
    int timed = std::max(o.repeat, 1);
    RunResult result = compiled.run(ptrs, extents, timed);
    for (const auto &t : result.outputs) bytes += t.nbytes();
    double median_us = median(result.times_us);
    double gbps = median_us > 0 ? static_cast<double>(bytes) / (median_us * 1e3) : 0;

    nlohmann::json report;
    report["expression"] = o.expr;
    report["target"] = std::string(target_name(compiled.options().target));
    report["plan"] = emit(compiled, "plan");
    report["output_shape"] = result.outputs.front().shape();
    report["median_us"] = median_us;
    report["runs"] = timed;
    report["gb_per_s"] = gbps;
    if (!result.ran.empty()) report["ran"] = result.ran;
    if (target == Target::Cuda) report["device_peak_bytes"] = result.device_peak_bytes;
    std::vector<Tensor> want;
    if (o.check) want = compiled.reference(ptrs, extents);

    bool ok = true;
    double worst = 0, worst_tol = 0;
    std::string lines;
    for (std::size_t i = 0; i < result.outputs.size(); ++i) {
        const Tensor &out = result.outputs[i];
        const std::string &name = compiled.program().outputs[i].name;
        nlohmann::json entry{{"name", name}, {"dtype", std::string(dtype_name(out.dtype()))}, {"shape", out.shape()}};
        lines += "output: " + name + " " + std::string(dtype_name(out.dtype())) + "[" + shape_text(out.shape()) + "]";
        if (output_files[i]) {
            write_npy(*output_files[i], out);
            entry["file"] = *output_files[i];
            if (i == 0) report["output_file"] = *output_files[i];
            lines += " written to " + *output_files[i];
        }
        lines += "\n";
        if (o.check) {
            double err = ir::max_relative_error(out, want[i]);
            double tol = tolerance(out.dtype(), compiled.reduction_length(extents));
            entry["max_rel_err"] = err;
            entry["tolerance"] = tol;
            ok = ok && err <= tol;
            if (err / std::max(tol, 1e-300) >= worst / std::max(worst_tol, 1e-300)) worst = err, worst_tol = tol;
        }
        report["outputs"].push_back(entry);
    }
    if (o.check) {
        report["max_rel_err"] = worst;
        report["tolerance"] = worst_tol;
        report["check"] = ok ? "pass" : "fail";
    }

    if (o.json) {
        std::cout << report.dump(2) << "\n";
    } else {
        std::cout << report["plan"].get<std::string>() << lines;
        std::cout << "time: " << median_us << " us (median of " << timed << (timed == 1 ? " run" : " runs") << ", "
                  << gbps << " GB/s moved)\n";
        if (o.check)
            std::cout << "check: max relative error " << worst << " against the float64 reference (tolerance "
                      << worst_tol << "): " << (ok ? "ok" : "FAILED") << "\n";
    }
    return ok ? kOk : kCheckFailed;
}

} // namespace einfuse::cli
