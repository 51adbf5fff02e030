#include "passes/Pipeline.h"

#include "ir/Printer.h"
#include "passes/ChooseStrategy.h"
#include "passes/ContractionOrder.h"
#include "passes/FuseProducers.h"
#include "passes/GpuLaunchRules.h"
#include "passes/GpuSpecialise.h"
#include "passes/HostSplit.h"
#include "passes/HostVectors.h"
#include "passes/ReductionLanes.h"
#include "passes/PassManager.h"
#include "passes/Simplify.h"
#include "passes/Sizes.h"
#include "passes/SplitComplex.h"
#include "passes/SplitReduction.h"


namespace einfuse::passes {

LowerOptions LowerOptions::for_device(Device device) {
    LowerOptions o;
    if (device == Device::Gpu) o.target = ir::Target::gpu(90);
    return o;
}

Plan lower(const ir::Program &input, const ir::Extents &sizes, Device device) {
    return lower(input, sizes, LowerOptions::for_device(device));
}

namespace {

ir::Program prepare(PassManager &pm, const ir::Program &input, const Sizes &sizes, std::vector<std::string> &notes) {
    pm.run("verify", [&] { ir::verify(input); return input; });
    ir::Program simple = pm.run("simplify", [&] { return simplify(input); });
    ir::Program fused = pm.run("fuse_producers", [&] { return fuse_producers(simple, notes); });
    ir::Program ordered = pm.run("order_contractions", [&] { return order_contractions(fused, sizes, notes); });
    // Last, so that a product of many complex operands is ordered (and split) pairwise.
    return pm.run("split_complex", [&] { return split_complex(ordered, sizes, notes); });
}

} // namespace

ir::Program prepare(const ir::Program &program, const ir::Extents &sizes, std::vector<std::string> &notes) {
    PassManager pm;
    return prepare(pm, program, sizes, notes);
}

Plan lower(const ir::Program &input, const ir::Extents &sizes, const LowerOptions &options) {
    PassManager pm; // EINFUSE_PRINT_AFTER, EINFUSE_DEBUG=2, EINFUSE_TIME_PASSES
    Plan plan;
    plan.target = options.target;
    plan.sizes = sizes;
    const Sizes recorded(sizes, &plan.guards); // every size a pass reads, recorded as a guard
    plan.program = prepare(pm, input, recorded, plan.notes);
    if (!options.target.is_gpu())
        plan.program = pm.run("split_reductions", [&] { return split_reductions(plan.program, recorded, options.target, plan.notes); });
    const ir::Program &program = plan.program;
    for (std::size_t i = 0; i < program.definitions.size(); ++i) {
        // Per definition: choose a strategy (and so the unroll schedule), lower once with it, let
        // the strategy refine the kernel, then the GPU's launch rules.
        StrategyContext ctx{program, i, recorded, options};
        StrategyChoice choice = pm.run("choose_strategy", [&] { return choose_strategy(ctx); });
        ir::Kernel k = pm.run("lower_to_loops", [&] { return lower_chosen(ctx, std::move(choice)); });
        k = pm.run("refine", [&] { return refine(std::move(k), ctx); });
        if (options.target.is_gpu()) {
            k = pm.run("gpu_launch_rules", [&] { return gpu_launch_rules(std::move(k), options.target); });
            k = pm.run("gpu_specialise", [&] { return gpu_specialise(std::move(k), ctx); });
        } else {
            k.host_split = plan_host_split(options);
            k = pm.run("host_vectors", [&] { return choose_host_vectors(std::move(k), options.target); });
            k = pm.run("reduction_lanes", [&] { return choose_reduction_lanes(std::move(k), recorded, options.target); });
        }
        plan.kernels.push_back(std::move(k));
    }
    if (options.target.is_gpu())
        plan.workspace = pm.run("gpu_workspace", [&] { return gpu_workspace(plan.program, plan.kernels); });
    return plan;
}

namespace {

/** A GPU kernel's pinned sizes, specialisations and launch variants, for --emit plan. */
std::string describe_launch(const ir::Kernel &k) {
    std::string out;
    if (!k.pinned.empty()) {
        out += "  pinned:";
        for (const auto &[v, n] : k.pinned) out += " " + v + "=" + std::to_string(n);
        out += " (given while other sizes stay free: the launcher refuses other values)\n";
    }
    if (!k.specialised.empty()) out += "  specialised: " + k.specialised + "\n";
    if (k.launch.empty()) return out;
    out += "  launch (the first variant whose guard holds runs):\n";
    for (const auto &v : k.launch) {
        std::string name = v.kind == ir::VariantKind::Library ? "cuBLASLt (in-process only)" : k.name + v.suffix;
        int64_t always = 0;
        std::string guard = v.guard.is_const(&always) && always ? "always" : "if " + v.guard.inlined().to_string();
        out += "    " + name + " [" + std::string(ir::variant_kind_name(v.kind)) + "] " + guard + "\n";
    }
    return out;
}

} // namespace

std::string Plan::shape_class() const {
    std::string out;
    for (const auto &g : guards) out += (out.empty() ? "" : ", ") + ir::to_string(g);
    return out.empty() ? "any sizes" : out;
}

std::string Plan::explain() const {
    std::string out;
    for (const auto &n : notes) out += n + "\n";
    for (const auto &k : kernels) {
        out += "kernel " + k.name + ": " + std::string(ir::strategy_name(k.strategy)) +
               (k.strategy_detail.empty() ? "" : " (" + k.strategy_detail + ")") + "\n";
        out += "  computes: " + k.comment + "\n";
        if (k.host_split) out += "  runs on: " + describe(*k.host_split) + "\n";
        if (k.host_vectors) out += "  host vectors: " + describe_host_vectors(*k.host_vectors, target) + "\n";
        out += describe_launch(k);
        out += "  not chosen:\n";
        for (const auto &r : k.rejected) out += "    " + r + "\n";
        out += "  loop nest:\n" + ir::to_string(k.body, 2);
    }
    return out;
}

} // namespace einfuse::passes
