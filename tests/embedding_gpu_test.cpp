// The embedding metadata as a host without einfuse's runtime uses it (issue 17 item 2): NVRTC
// compiles EmbeddedSource::source, and the launches follow only the metadata: per kernel in
// order, the first variant whose guard tree holds, its grid, block and split count from their
// trees, its arguments by name, the parts in a workspace of workspace_bytes, then the combine
// kernel. The results match the in-process run of the same Kernel on the same device tensors,
// and the time is compared with it (the numbers are printed). Skipped without a GPU.
#include "einfuse/einfuse.hpp"

#include "GpuSkip.h"
#include "RuleTree.h"
#include "runtime/CudaDriver.h"
#include "runtime/Nvrtc.h"

#include <doctest/doctest.h>

#include <cmath>
#include <random>

namespace {

using einfuse::test::eval_tree;
using einfuse::test::RuleFacts;

struct DeviceTensor {
    einfuse::DeviceBuffer buffer;
    std::vector<int64_t> shape, strides;
};

std::vector<int64_t> dense_strides(const std::vector<int64_t> &shape) {
    std::vector<int64_t> s(shape.size());
    int64_t n = 1;
    for (std::size_t d = shape.size(); d-- > 0;) {
        s[d] = n;
        n *= shape[d];
    }
    return s;
}

int64_t count(const std::vector<int64_t> &shape) {
    int64_t n = 1;
    for (auto x : shape) n *= x;
    return n;
}

/** Launches every kernel of `e` from its metadata alone on the default stream. */
class MetadataLauncher {
  public:
    MetadataLauncher(const einfuse::EmbeddedSource &e, std::map<std::string, const DeviceTensor *> tensors)
        : e_(e), module_(einfuse::cuda_cubin(e.source, einfuse::CudaContext::get().arch())), tensors_(std::move(tensors)),
          workspace_(static_cast<std::size_t>(std::max<int64_t>(e.workspace_bytes, 1))) {
        facts_.sizes = e.sizes;
        for (const auto &[name, t] : tensors_) {
            facts_.strides[name] = t->strides;
            facts_.addresses[name] = t->buffer.address();
        }
        for (const auto &w : e.workspace) { // temporaries: dense, in the workspace
            std::vector<int64_t> shape;
            for (const auto &v : w.indices) shape.push_back(e.sizes.at(v));
            facts_.strides[w.name] = dense_strides(shape);
            facts_.addresses[w.name] = workspace_.address() + static_cast<std::uint64_t>(w.offset);
        }
    }

    /** The variants launched, one per kernel. */
    std::vector<std::string> chosen;

    void launch() {
        chosen.clear();
        for (const auto &k : e_.kernels) {
            const einfuse::EmbeddedVariant *v = nullptr;
            for (const auto &x : k.variants)
                if (eval_tree(x.guard.tree, facts_)) {
                    v = &x;
                    break;
                }
            REQUIRE(v != nullptr);
            chosen.push_back(v->kernel);
            const int64_t grid = eval_tree(v->grid.tree, facts_), block = eval_tree(v->block.tree, facts_),
                          splits = eval_tree(v->splits.tree, facts_);
            const std::uint64_t parts =
                splits > 1 ? workspace_.address() + static_cast<std::uint64_t>(e_.parts_offset) : 0;
            einfuse::LaunchArgs args = arguments(v->arguments, parts, splits, nullptr);
            einfuse::cuda_launch(module_.function(v->kernel), grid, block, args.pointers(), nullptr, splits);
            if (!v->combine || splits <= 1) continue;
            einfuse::LaunchArgs c = arguments(v->combine->arguments, parts, splits, &v->combine->part_args);
            einfuse::cuda_launch(module_.function(v->combine->kernel), eval_tree(v->combine->grid.tree, facts_),
                                 eval_tree(v->combine->block.tree, facts_), c.pointers());
        }
    }

  private:
    einfuse::LaunchArgs arguments(const std::vector<std::string> &names, std::uint64_t parts, int64_t splits,
                                  const std::vector<einfuse::EmbeddedRule> *part_args) {
        einfuse::LaunchArgs args;
        for (const auto &a : names) {
            const std::string inside = a.substr(a.find('(') + 1, a.size() - a.find('(') - 2);
            if (a.rfind("data(", 0) == 0) args.add_pointer(facts_.addresses.at(inside));
            else if (a.rfind("stride(", 0) == 0)
                args.add_i64(facts_.strides.at(inside.substr(0, inside.find(','))).at(std::stoul(inside.substr(inside.find(',') + 1))));
            else if (a.rfind("size(", 0) == 0) args.add_i64(facts_.sizes.at(inside));
            else if (a == "parts") args.add_pointer(parts);
            else if (a == "splits") args.add_i64(splits);
            else if (a.rfind("part_args[", 0) == 0)
                args.add_i64(eval_tree(part_args->at(std::stoul(a.substr(10))).tree, facts_));
            else FAIL("unknown argument " << a);
        }
        return args;
    }

    const einfuse::EmbeddedSource &e_;
    einfuse::CudaModule module_;
    std::map<std::string, const DeviceTensor *> tensors_;
    einfuse::DeviceBuffer workspace_;
    RuleFacts facts_;
};

struct Case {
    const char *expr;
    einfuse::Signature signature;
    einfuse::Sizes sizes;
    const char *expected_variant;
};

} // namespace

TEST_CASE("embedding gpu: NVRTC and the driver, following only the metadata, match the in-process run") {
    einfuse::test::require_gpu();
    einfuse::CudaContext &ctx = einfuse::CudaContext::get();
    const Case cases[] = {
        {"out[i] = sum[j](exp(-sum[d]((x[i,d] - y[j,d])^2)) * w[j])", einfuse::Signature::program(),
         {{"i", 100000}, {"j", 100000}, {"d", 3}}, "einfuse_out_tiled"},
        {"bij,bjk->bik", einfuse::Signature::einsum({einfuse::ScalarType::F32, einfuse::ScalarType::F32}),
         {{"b", 16777216}, {"i", 2}, {"j", 2}, {"k", 2}}, "einfuse_bij_bjk_to_bik"},
        {"bij,bjk->bik", einfuse::Signature::einsum({einfuse::ScalarType::F32, einfuse::ScalarType::F32}),
         {{"b", 4194304}, {"i", 4}, {"j", 4}, {"k", 4}}, "einfuse_bij_bjk_to_bik_staged"},
    };
    std::mt19937_64 rng(std::random_device{}());
    for (const auto &c : cases) {
        CAPTURE(c.expr);
        einfuse::Kernel kernel = einfuse::compile(c.expr, c.signature, einfuse::DeviceKind::Cuda);
        einfuse::EmbeddedSource e = kernel.embedded_source(c.sizes);
        // The tensors, dense on the device: inputs random, each output twice (embedded, in-process).
        std::vector<DeviceTensor> storage;
        storage.reserve(e.inputs.size() + 2 * e.outputs.size());
        std::map<std::string, const DeviceTensor *> by_name;
        std::vector<einfuse::View> inputs, outputs;
        std::vector<const DeviceTensor *> theirs_list; // per output, the copy kernel.run writes
        std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
        for (const auto &t : e.inputs) {
            std::vector<int64_t> shape = kernel.input_shape(inputs.size(), c.sizes);
            std::vector<float> host(static_cast<std::size_t>(count(shape)));
            for (auto &x : host) x = uniform(rng);
            storage.push_back({einfuse::DeviceBuffer(host.size() * 4), shape, dense_strides(shape)});
            storage.back().buffer.upload(host.data(), host.size() * 4);
            by_name[t.name] = &storage.back();
            inputs.emplace_back(reinterpret_cast<void *>(storage.back().buffer.address()), einfuse::ScalarType::F32, shape,
                                std::vector<int64_t>{}, einfuse::Device::cuda());
        }
        for (std::size_t o = 0; o < e.outputs.size(); ++o) {
            const auto &shape = e.output_shapes.at(o);
            for (int copy = 0; copy < 2; ++copy)
                storage.push_back({einfuse::DeviceBuffer(static_cast<std::size_t>(count(shape)) * 4), shape, dense_strides(shape)});
            by_name[e.outputs[o].name] = &storage[storage.size() - 2];
            theirs_list.push_back(&storage.back());
            outputs.emplace_back(reinterpret_cast<void *>(storage.back().buffer.address()), einfuse::ScalarType::F32, shape,
                                 std::vector<int64_t>{}, einfuse::Device::cuda());
        }
        MetadataLauncher launcher(e, by_name);
        launcher.launch();
        kernel.run(inputs, outputs);
        ctx.synchronize();
        CHECK(launcher.chosen.back() == c.expected_variant);

        for (std::size_t o = 0; o < e.outputs.size(); ++o) {
            const DeviceTensor &mine = *by_name.at(e.outputs[o].name), &theirs = *theirs_list[o];
            std::vector<float> a(static_cast<std::size_t>(count(mine.shape))), b(a.size());
            mine.buffer.download(a.data(), a.size() * 4);
            theirs.buffer.download(b.data(), b.size() * 4);
            double worst = 0;
            for (std::size_t i = 0; i < a.size(); ++i)
                worst = std::max(worst, std::fabs(double(a[i]) - double(b[i])) / std::max(1.0, std::fabs(double(b[i]))));
            CHECK(worst == 0.0); // the same kernels with the same launch: the same bits
        }
        // Speed: the same kernels, so the same time up to the host's launch overhead.
        const int reps = 20;
        double embedded = einfuse::cuda_time_ms([&] { for (int r = 0; r < reps; ++r) launcher.launch(); }) / reps;
        double in_process = einfuse::cuda_time_ms([&] { for (int r = 0; r < reps; ++r) kernel.run(inputs, outputs); }) / reps;
        std::string sizes;
        for (const auto &[v, n] : c.sizes) sizes += (sizes.empty() ? "" : ",") + v + "=" + std::to_string(n);
        MESSAGE(c.expr << " at " << sizes << ": embedded " << embedded * 1e3 << " us, in-process "
                       << in_process * 1e3 << " us (" << ctx.name() << ")");
        CHECK(embedded <= 1.25 * in_process + 0.01);
    }
}
