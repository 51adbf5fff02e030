#include "passes/Pipeline.h"

#include "ir/Printer.h"
#include "passes/ChooseStrategy.h"
#include "passes/ContractionOrder.h"
#include "passes/FuseProducers.h"
#include "passes/GpuGemmShapes.h"
#include "passes/GpuStaging.h"
#include "passes/GemmMatch.h"
#include "passes/HostGemm.h"
#include "passes/GpuTiling.h"
#include "passes/GpuLaunchRules.h"
#include "passes/Simplify.h"
#include "passes/LowerToLoops.h"

#include <chrono>
#include <cstdlib>
#include <iostream>
#include <sstream>

namespace einfuse::passes {

namespace {

int debug_level() {
    const char *v = std::getenv("EINFUSE_DEBUG");
    return v ? std::atoi(v) : 0;
}

bool time_passes() {
    const char *v = std::getenv("EINFUSE_TIME_PASSES");
    return v && std::string(v) == "1";
}

/** Runs one pass, logging its result and time when asked to. */
template <class F> auto run_pass(const char *name, F &&pass) {
    auto start = std::chrono::steady_clock::now();
    auto result = pass();
    if (time_passes()) {
        double us = std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start).count();
        std::cerr << "einfuse: pass " << name << ": " << us << " us\n";
    }
    if (debug_level() >= 2) std::cerr << "einfuse: after " << name << ":\n" << ir::to_string(result) << "\n";
    return result;
}

/** The GPU's tiled broadcast-reduce: the short inner loops unrolled (when sizes are known), then
 * the tiling and split of the reduction (passes/GpuTiling.h), noted in the plan. */
ir::Kernel plan_tiling(ir::Kernel k, const ir::Program &program, std::size_t index, const ir::Extents &sizes) {
    UnrollSchedule inner = inner_unroll_schedule(k, sizes);
    if (!inner.vars.empty()) {
        ir::Kernel unrolled = run_pass("lower_to_loops (inner loops unrolled)", [&] { return lower_to_loops(program, index, inner); });
        unrolled.strategy = k.strategy;
        unrolled.rejected = k.rejected;
        k = std::move(unrolled);
    }
    std::string why_not;
    k.tiling = plan_gpu_tiling(k, sizes, &why_not);
    if (!k.tiling) {
        k.strategy_detail = "not tiled: " + why_not;
        return k;
    }
    std::string tensors;
    for (const auto &t : k.tiling->tensors) tensors += (tensors.empty() ? "" : ", ") + t;
    k.strategy_detail = tensors + " tiled through shared memory along '" + k.tiling->reduce_var + "'" +
                        (k.tiling->combine ? ", the reduction split across blocks when the output is small"
                                           : "; not split: the loop does more than accumulate one value");
    return k;
}

/** The plan's account of a GEMM: its groups, who runs it, and who runs the epilogue. */
void describe_gemm(ir::Kernel &k, const LowerOptions &options, const ir::Extents &sizes) {
    ir::Gemm &g = *k.gemm;
    g.allow_tf32 = options.allow_tf32;
    // The sizes it was planned for, when every variable has one: a backend may build a variant
    // for exactly them (the CUDA small dense GEMM), used only when a launch matches.
    ir::Extents planned;
    for (const auto &v : k.index_vars)
        if (auto it = sizes.find(v); it != sizes.end()) planned[v] = it->second;
    if (!k.index_vars.empty() && planned.size() == k.index_vars.size()) g.planned = std::move(planned);
    k.strategy_detail = describe(g);
    if (options.gemm == GemmRunner::LoopNest) {
        k.gemm.reset(); // the backends print the loop nest of a kernel without one
        k.strategy_detail += "; --gemm loops: the loop nest runs it";
        return;
    }
    if (!options.target.is_gpu()) return choose_host_gemm(k, options);
    // Tensor cores first: the small variant is for CUDA cores only.
    g.mma = plan_gemm_mma(k, options.target);
    g.small = plan_gemm_small(k, options.target);
    if (options.gemm == GemmRunner::Emitted && g.library) {
        g.library.reset();
        g.library_why_not = "--gemm emitted";
    }
    g.library_first = options.gemm == GemmRunner::Library && g.library;
    if (g.allow_tf32) k.strategy_detail += "; f32 inputs rounded to tf32 (allowed)";
    if (!g.library) {
        k.strategy_detail += "; an emitted tiled kernel, not cuBLASLt: " + g.library_why_not;
        return;
    }
    std::string fused;
    if (g.library->alpha != 1) {
        std::ostringstream alpha;
        alpha << g.library->alpha;
        fused += ", alpha " + alpha.str();
    }
    if (!g.library->addend.empty()) fused += ", + " + g.library->addend;
    if (!g.library->bias.empty()) fused += ", bias " + g.library->bias + "[" + g.library->bias_var + "]";
    if (g.library->relu) fused += ", relu";
    k.strategy_detail += "; in-process cuBLASLt" + (fused.empty() ? "" : " with its epilogue (" + fused.substr(2) + ")") +
                         (g.library_first ? " first (--gemm cublaslt)"
                                          : " (the emitted small dense kernel instead for small dense batches planned "
                                            "with their sizes)") +
                         ", an emitted tiled kernel in standalone .cu and where strides do not fit cuBLASLt";
}

} // namespace

LowerOptions LowerOptions::for_device(Device device) {
    LowerOptions o;
    if (device == Device::Gpu) o.target = ir::Target::gpu(90);
    return o;
}

Plan lower(const ir::Program &input, const ir::Extents &sizes, Device device) {
    return lower(input, sizes, LowerOptions::for_device(device));
}

Plan lower(const ir::Program &input, const ir::Extents &sizes, const LowerOptions &options) {
    const Device device = options.target.kind;
    run_pass("verify", [&] { ir::verify(input); return input; });
    Plan plan;
    ir::Program simple = run_pass("simplify", [&] { return simplify(input); });
    ir::Program fused = run_pass("fuse_producers", [&] { return fuse_producers(simple, plan.notes); });
    plan.program = run_pass("order_contractions", [&] { return order_contractions(fused, sizes, plan.notes); });
    const ir::Program &program = plan.program;
    for (std::size_t i = 0; i < program.definitions.size(); ++i) {
        ir::Kernel k = run_pass("lower_to_loops", [&] { return lower_to_loops(program, i); });
        UnrollSchedule schedule;
        k = run_pass("choose_strategy", [&] { return choose_strategy(std::move(k), program, i, sizes, device, schedule); });
        if (!schedule.vars.empty()) {
            ir::Kernel unrolled = run_pass("lower_to_loops (unrolled)", [&] { return lower_to_loops(program, i, schedule); });
            unrolled.strategy = k.strategy;
            unrolled.rejected = k.rejected;
            unrolled.strategy_detail = k.strategy_detail;
            k = std::move(unrolled);
        }
        if (k.strategy == ir::Strategy::Gemm) describe_gemm(k, options, sizes);
        if (device == Device::Gpu && k.strategy == ir::Strategy::BroadcastReduce) k = plan_tiling(std::move(k), program, i, sizes);
        if (device == Device::Gpu && k.strategy == ir::Strategy::Unrolled) {
            std::string why_not;
            k.staging = plan_gpu_staging(k, sizes, &why_not);
            k.strategy_detail += k.staging ? ", inputs staged through shared memory " +
                                                 std::to_string(k.staging->batch_per_block) + " batch elements at a time"
                                           : "; inputs not staged: " + why_not;
        }
        if (device == Device::Gpu) k = run_pass("gpu_launch_rules", [&] { return gpu_launch_rules(std::move(k), options.target); });
        plan.kernels.push_back(std::move(k));
    }
    return plan;
}

std::string Plan::explain() const {
    std::string out;
    for (const auto &n : notes) out += n + "\n";
    for (const auto &k : kernels) {
        out += "kernel " + k.name + ": " + std::string(ir::strategy_name(k.strategy)) +
               (k.strategy_detail.empty() ? "" : " (" + k.strategy_detail + ")") + "\n";
        out += "  computes: " + k.comment + "\n";
        out += "  not chosen:\n";
        for (const auto &r : k.rejected) out += "    " + r + "\n";
        out += "  loop nest:\n" + ir::to_string(k.body, 2);
    }
    return out;
}

} // namespace einfuse::passes
