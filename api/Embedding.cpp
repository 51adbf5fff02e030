// The embedding metadata (cuda_source, Kernel::embedded_source, the C ABI's
// einfuse_kernel_embedding): a plan's kernels as the emitted file names them, each with every
// variant the launcher walks (guard, grid, block, splits, arguments, combine kernel, parts) as the
// launch rules themselves (text, JSON tree, value for the given sizes), and the entry point's
// workspace. Enough for a host that compiles the source with NVRTC and launches through the
// driver to take the variant einfuse takes, without einfuse at run time.
#include "api/PublicApiDetail.h"

#include "backends/cuda/CudaPrinter.h"
#include "exec/Compiled.h"
#include "ir/Walk.h"

#include <nlohmann/json.hpp>

namespace einfuse::public_api {

namespace {

EmbeddedRule rule(const ir::SizeExpr &e, const ir::LaunchFacts *facts) {
    return {e.inlined().to_string(), e.to_json(), facts ? e.try_evaluate(*facts) : std::nullopt};
}

/** "data(x)", "stride(x,0)", ... for params [first, last) of k. */
void add_tensor_args(const ir::Kernel &k, std::size_t first, std::size_t last, std::vector<std::string> &out) {
    for (std::size_t p = first; p < last; ++p) {
        out.push_back("data(" + k.params[p].name + ")");
        for (int d = 0; d < k.params[p].rank; ++d) out.push_back("stride(" + k.params[p].name + "," + std::to_string(d) + ")");
    }
}

/** The facts of dense row-major tensors at 256-byte aligned addresses, for these sizes. */
ir::LaunchFacts dense_facts(const ir::Kernel &k, const ir::LaunchFacts &sized) {
    ir::LaunchFacts f = sized;
    auto indices = cuda_backend::cuda_param_indices(k);
    for (std::size_t p = 0; p < k.params.size(); ++p) {
        const auto &t = k.params[p];
        f.addresses[t.name] = 0;
        if (static_cast<int>(indices[p].size()) != t.rank) continue; // never accessed: no layout to assume
        std::vector<int64_t> strides(static_cast<std::size_t>(t.rank));
        int64_t s = 1;
        for (int d = t.rank; d-- > 0;) {
            strides[static_cast<std::size_t>(d)] = s;
            auto it = sized.sizes.find(indices[p][static_cast<std::size_t>(d)]);
            s *= it == sized.sizes.end() ? 1 : it->second;
        }
        f.strides[t.name] = strides;
    }
    return f;
}

} // namespace

EmbeddedSource describe_embedding(const Compiled &compiled, const std::optional<ir::Extents> &sized, std::string_view name,
                                  const std::vector<std::vector<int64_t>> &output_shapes) {
    const passes::Plan &plan = compiled.plan();
    const ir::Program &program = plan.program;
    ir::Extents extents = sized.value_or(ir::Extents{});
    ir::LaunchFacts sizes_only;
    sizes_only.sizes = extents;
    const ir::LaunchFacts *facts = sized ? &sizes_only : nullptr;

    EmbeddedSource out;
    out.source = emit(compiled, "cu", name);
    out.header = emit(compiled, "h", name);
    auto specs = [](const std::vector<ir::TensorInfo> &ts) {
        std::vector<TensorSpec> v;
        for (const auto &t : ts) v.push_back({t.name, external(t.dtype), t.rank});
        return v;
    };
    out.inputs = specs(program.inputs);
    out.outputs = specs(program.outputs);
    out.temporaries = specs(program.temporaries);
    out.sizes = Sizes(extents.begin(), extents.end());
    out.index_vars = program.index_vars;
    out.output_shapes = output_shapes;

    cuda_backend::CudaNaming naming = cuda_backend::cuda_naming(plan, name);
    const passes::WorkspaceLayout &layout = plan.workspace;
    out.entry = naming.entry;
    auto role = [&](const std::string &tensor) {
        for (const auto &t : program.inputs)
            if (t.name == tensor) return ParamRole::Input;
        for (const auto &t : program.outputs)
            if (t.name == tensor) return ParamRole::Output;
        return ParamRole::Temporary;
    };
    auto rule_constants = cuda_backend::cuda_launch_rule();
    for (std::size_t ki = 0; ki < naming.kernels.size(); ++ki) {
        const ir::Kernel &k = naming.kernels[ki];
        EmbeddedKernel e;
        e.name = k.name;
        e.launcher = k.name + "_launch";
        e.statement = k.comment;
        e.strategy = std::string(ir::strategy_name(k.strategy));
        e.num_inputs = k.num_inputs;
        auto indices = cuda_backend::cuda_param_indices(k);
        for (std::size_t p = 0; p < k.params.size(); ++p)
            e.params.push_back({k.params[p].name, external(k.params[p].dtype), indices[p], role(k.params[p].name)});
        e.sizes = k.index_vars;
        // The plain kernel's launch, as before the variants were listed.
        e.launch.block = rule_constants.block;
        e.launch.max_grid = rule_constants.max_grid;
        e.launch.parallel = ir::parallel_vars(k);
        std::string product;
        for (const auto &v : e.launch.parallel) product += (product.empty() ? "" : "*") + v;
        e.launch.rule = "grid = min(ceil(" + (product.empty() ? std::string("1") : product) + " / " +
                        std::to_string(rule_constants.block) + "), " + std::to_string(rule_constants.max_grid) +
                        "), block = " + std::to_string(rule_constants.block);
        std::vector<int64_t> values;
        for (const auto &v : k.index_vars)
            if (auto it = extents.find(v); it != extents.end()) values.push_back(it->second);
        if (sized && values.size() == k.index_vars.size()) e.launch.grid = cuda_backend::cuda_launch_config(k, values).grid;

        std::vector<std::string> args;
        add_tensor_args(k, 0, k.params.size(), args);
        for (const auto &v : k.index_vars) args.push_back("size(" + v + ")");
        const ir::LaunchFacts dense = dense_facts(k, sizes_only);
        for (const auto &v : k.launch) {
            if (v.kind == ir::VariantKind::Library) continue; // cuBLASLt: in-process only
            EmbeddedVariant ev;
            ev.kind = std::string(ir::variant_kind_name(v.kind));
            ev.kernel = v.entry(k.name);
            ev.note = v.note;
            ev.guard = rule(v.guard, facts);
            ev.grid = rule(v.grid, facts);
            ev.block = rule(v.block, facts);
            ev.splits = rule(v.splits, facts);
            ev.shared_bytes = v.shared_bytes;
            ev.arguments = args;
            ev.workspace_bytes = rule(ir::lit(0), facts);
            if (v.combine) {
                ev.arguments.push_back("parts");
                EmbeddedCombine c;
                c.kernel = v.combine->kernel;
                c.grid = rule(v.combine->grid, facts);
                c.block = rule(v.combine->block, facts);
                c.partial = external(v.combine->partial);
                add_tensor_args(k, 0, static_cast<std::size_t>(k.num_inputs), c.arguments);
                c.arguments.push_back("parts");
                for (std::size_t i = 0; i < v.combine->part_args.size(); ++i) {
                    c.arguments.push_back("part_args[" + std::to_string(i) + "]");
                    c.part_args.push_back(rule(v.combine->part_args[i], facts));
                }
                add_tensor_args(k, static_cast<std::size_t>(k.num_inputs), k.params.size(), c.arguments);
                for (const auto &var : k.index_vars) c.arguments.push_back("size(" + var + ")");
                c.arguments.push_back("splits");
                ev.combine = std::move(c);
                for (const auto &part : layout.parts)
                    if (part.kernel == ki && part.variant == static_cast<std::size_t>(&v - k.launch.data()))
                        ev.workspace_bytes = rule(part.bytes, facts);
            }
            if (sized && e.dense_choice < 0 && v.guard.try_evaluate(dense).value_or(0))
                e.dense_choice = static_cast<int>(e.variants.size());
            e.variants.push_back(std::move(ev));
        }
        out.kernels.push_back(std::move(e));
    }

    int64_t at = 0;
    for (const auto &t : layout.temporaries) {
        EmbeddedTemporary w{t.name, external(t.dtype), t.dims, rule(t.bytes, facts), -1};
        if (sized) {
            w.offset = at;
            at += t.bytes.evaluate(sizes_only);
        }
        out.workspace.push_back(std::move(w));
    }
    if (sized) {
        int64_t parts = 0;
        for (const auto &p : layout.parts) {
            // Only where there is work: the printed layout skips a reduction without points.
            int64_t total = 1;
            for (const auto &v : p.parallel) total *= extents.at(v);
            if (total > 0) parts = std::max(parts, p.bytes.evaluate(sizes_only));
        }
        out.parts_offset = at;
        out.workspace_bytes = at + parts;
    }
    return out;
}

} // namespace einfuse::public_api

namespace einfuse {

namespace {

nlohmann::json rule_json(const EmbeddedRule &r) {
    nlohmann::json j{{"text", r.text}, {"tree", nlohmann::json::parse(r.tree)}};
    j["value"] = r.value ? nlohmann::json(*r.value) : nlohmann::json(nullptr);
    return j;
}

nlohmann::json specs_json(const std::vector<TensorSpec> &ts) {
    nlohmann::json a = nlohmann::json::array();
    for (const auto &t : ts) a.push_back({{"name", t.name}, {"dtype", scalar_type_name(t.dtype)}, {"rank", t.rank}});
    return a;
}

const char *role_name(ParamRole r) {
    return r == ParamRole::Input ? "input" : r == ParamRole::Output ? "output" : "temporary";
}

} // namespace

std::string embedded_json(const EmbeddedSource &e) {
    nlohmann::json j;
    j["source"] = e.source;
    j["header"] = e.header;
    j["entry"] = {{"launch_with_workspace", e.entry + "_launch_with_workspace"},
                  {"workspace_bytes", e.entry + "_workspace_bytes"},
                  {"error_string", e.entry + "_error_string"}};
    j["index_vars"] = e.index_vars;
    j["sizes"] = nlohmann::json::object();
    for (const auto &[v, n] : e.sizes) j["sizes"][v] = n;
    j["inputs"] = specs_json(e.inputs);
    j["outputs"] = specs_json(e.outputs);
    for (std::size_t i = 0; i < e.output_shapes.size() && i < e.outputs.size(); ++i)
        j["outputs"][i]["shape"] = e.output_shapes[i];
    j["temporaries"] = specs_json(e.temporaries);
    nlohmann::json ws;
    ws["bytes"] = e.workspace_bytes >= 0 ? nlohmann::json(e.workspace_bytes) : nlohmann::json(nullptr);
    ws["parts_offset"] = e.parts_offset >= 0 ? nlohmann::json(e.parts_offset) : nlohmann::json(nullptr);
    ws["temporaries"] = nlohmann::json::array();
    for (const auto &t : e.workspace)
        ws["temporaries"].push_back({{"name", t.name},
                                     {"dtype", scalar_type_name(t.dtype)},
                                     {"indices", t.indices},
                                     {"bytes", rule_json(t.bytes)},
                                     {"offset", t.offset >= 0 ? nlohmann::json(t.offset) : nlohmann::json(nullptr)}});
    j["workspace"] = ws;
    j["kernels"] = nlohmann::json::array();
    for (const auto &k : e.kernels) {
        nlohmann::json kj{{"name", k.name},           {"launcher", k.launcher}, {"statement", k.statement},
                          {"strategy", k.strategy},   {"num_inputs", k.num_inputs}, {"sizes", k.sizes}};
        kj["params"] = nlohmann::json::array();
        for (const auto &p : k.params)
            kj["params"].push_back(
                {{"name", p.name}, {"dtype", scalar_type_name(p.dtype)}, {"indices", p.indices}, {"role", role_name(p.role)}});
        kj["variants"] = nlohmann::json::array();
        for (const auto &v : k.variants) {
            nlohmann::json vj{{"kind", v.kind},           {"kernel", v.kernel},         {"note", v.note},
                              {"guard", rule_json(v.guard)}, {"grid", rule_json(v.grid)}, {"block", rule_json(v.block)},
                              {"splits", rule_json(v.splits)}, {"shared_bytes", v.shared_bytes}, {"arguments", v.arguments},
                              {"workspace_bytes", rule_json(v.workspace_bytes)}};
            vj["combine"] = nullptr;
            if (v.combine) {
                nlohmann::json parts = nlohmann::json::array();
                for (const auto &r : v.combine->part_args) parts.push_back(rule_json(r));
                vj["combine"] = {{"kernel", v.combine->kernel},      {"grid", rule_json(v.combine->grid)},
                                 {"block", rule_json(v.combine->block)}, {"arguments", v.combine->arguments},
                                 {"part_args", parts},                {"partial_dtype", scalar_type_name(v.combine->partial)}};
            }
            kj["variants"].push_back(vj);
        }
        kj["dense_choice"] = k.dense_choice >= 0 ? nlohmann::json(k.dense_choice) : nlohmann::json(nullptr);
        j["kernels"].push_back(kj);
    }
    return j.dump(2);
}

} // namespace einfuse
