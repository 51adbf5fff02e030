#include "Commands.h"

#include "Job.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <iostream>
#include <random>

namespace einfuse::cli {

namespace {

void write_text(const std::string &text, const std::string &file) {
    if (file.empty() || file == "-") {
        std::cout << text;
        return;
    }
    save_text(file, text); // atomic: a failed write keeps the old file, as --output does
}

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    std::size_t n = v.size();
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

std::size_t bytes_of(const View &v) { return static_cast<std::size_t>(v.numel()) * scalar_type_size(v.dtype()); }

/** The program's inputs: files as they are (strides, size-1 broadcast dimensions and all), the
 * others fresh and random on every run: a kernel right only on zeros or on one seed fails.
 * `random` owns the latter; the views see both. */
std::vector<View> make_inputs(const Job &job, const Sizes &sizes, std::vector<Array> &random) {
    std::mt19937_64 seeds(std::random_device{}());
    std::vector<TensorSpec> specs = job.kernel.inputs();
    random.reserve(specs.size());
    std::vector<View> views;
    for (std::size_t i = 0; i < specs.size(); ++i) {
        if (job.inputs.files[i]) {
            views.push_back(job.inputs.files[i]->view());
            continue;
        }
        random.push_back(Array::random(specs[i].dtype, job.kernel.input_shape(i, sizes), seeds()));
        views.push_back(random.back().view());
    }
    return views;
}

} // namespace

int run_compile(const Options &o) {
    if (o.check || o.repeat || o.threads || !o.inputs.empty() || !o.outputs.empty())
        throw UsageError("--check, --repeat, --threads, --input and --output belong to `einfuse run`");
    DeviceKind target = o.target.empty() ? DeviceKind::Cuda : parse_target(o.target);
    std::string kind = !o.emit.empty() ? o.emit : target == DeviceKind::Cuda ? "cu" : "llvm";
    if (kind != "cu" && kind != "h" && kind != "ptx" && kind != "llvm" && kind != "plan")
        throw UsageError("--emit " + kind + ": expected cu, h, ptx, llvm or plan");
    // Each kind of code belongs to one target: asking for the other is a mistake, not a request
    // to switch targets behind the user's back.
    if (kind == "llvm" && target == DeviceKind::Cuda)
        throw UsageError("--emit llvm is host code: use it with --target host (for cuda: --emit cu, ptx or plan)");
    if ((kind == "cu" || kind == "h" || kind == "ptx") && target == DeviceKind::Cpu)
        throw UsageError("--emit " + kind + " is CUDA code: use it with --target cuda (for host: --emit llvm or plan)");
    if (!o.name.empty() && kind != "cu" && kind != "h" && kind != "ptx")
        throw UsageError("--name prefixes the symbols of --emit cu, h or ptx, not of --emit " + kind);
    check_name(o.name);
    Job job = make_job(o, target);
    // Sizes are optional here; those given (--dims, --shape) are checked and planned for, and
    // pinned where others stay free.
    if (!job.dims.empty() || !o.shapes.empty()) job.kernel.plan_for(job.bind_known());
    std::string code = job.kernel.emit(kind, o.name);
    if (!o.json) {
        write_text(code, o.output_file);
        return kOk;
    }
    // --json: the code in the object, or in -o's file and the object says where.
    nlohmann::json report;
    report["expression"] = o.expr;
    report["target"] = target_text(target);
    report["emit"] = kind;
    report["plan"] = kind == "plan" ? code : job.kernel.emit("plan");
    if (!o.output_file.empty() && o.output_file != "-") {
        save_text(o.output_file, code);
        report["output_file"] = o.output_file;
    } else {
        report["code"] = code;
    }
    std::cout << report.dump(2) << "\n";
    return kOk;
}

int run_run(const Options &o) {
    if (!o.emit.empty() || !o.output_file.empty()) throw UsageError("--emit and -o belong to `einfuse compile`");
    if (o.repeat < 0) throw UsageError("--repeat must be at least 0");
    DeviceKind target = o.target.empty() ? DeviceKind::Cpu : parse_target(o.target);
    Job job = make_job(o, target);
    std::vector<std::optional<std::string>> output_files = parse_outputs(o.outputs, job.output_names);
    Sizes sizes = job.bind();
    const Kernel &kernel = job.kernel;

    std::vector<Array> random;
    std::vector<View> inputs = make_inputs(job, sizes, random);
    std::size_t bytes = 0;
    for (const auto &v : inputs) bytes += bytes_of(v);
    int timed = std::max(o.repeat, 1);
    Kernel::Timing result = kernel.measure(inputs, sizes, timed);
    std::vector<View> outputs;
    for (auto &a : result.outputs) {
        outputs.push_back(a.view());
        bytes += a.nbytes();
    }
    double median_us = median(result.times_us);
    double gbps = median_us > 0 ? static_cast<double>(bytes) / (median_us * 1e3) : 0;

    nlohmann::json report;
    report["expression"] = o.expr;
    report["target"] = target_text(target);
    report["plan"] = kernel.emit("plan");
    report["output_shape"] = result.outputs.front().shape();
    report["median_us"] = median_us;
    report["runs"] = timed;
    report["gb_per_s"] = gbps;
    if (!result.ran.empty()) report["ran"] = result.ran;
    if (target == DeviceKind::Cuda) report["device_peak_bytes"] = result.device_peak_bytes;
    std::vector<Kernel::Deviation> deviations;
    if (o.check) deviations = kernel.check(inputs, outputs, sizes);

    bool ok = true;
    double worst = 0, worst_tol = 0;
    std::string lines;
    for (std::size_t i = 0; i < result.outputs.size(); ++i) {
        const Array &out = result.outputs[i];
        const std::string &name = job.output_names[i];
        const std::string dtype(scalar_type_name(out.dtype()));
        nlohmann::json entry{{"name", name}, {"dtype", dtype}, {"shape", out.shape()}};
        lines += "output: " + name + " " + dtype + "[" + shape_text(out.shape()) + "]";
        if (output_files[i]) {
            save_npy(*output_files[i], outputs[i]);
            entry["file"] = *output_files[i];
            if (i == 0) report["output_file"] = *output_files[i];
            lines += " written to " + *output_files[i];
        }
        lines += "\n";
        if (o.check) {
            double err = deviations[i].max_rel_err, tol = deviations[i].tolerance;
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
    report["exit_code"] = ok ? kOk : kCheckFailed;

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
