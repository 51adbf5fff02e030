#pragma once
// GEMM test cases: plan each, check the plan chose the GEMM, emit the standalone .cu, run its
// launcher (nvcc on a GPU, or the CPU emulation) on random inputs and compare with the float64
// reference; the builds and references of one test case's cases run in parallel. Shared by gemm_gpu_test.cpp
// and gemm_emulated_test.cpp.
#include "EmitCuda.h"
#include "LaunchCheck.h"
#include "StandaloneCu.h"
#include "TestUtil.h"

#include "backends/cuda/CudaPrinter.h"
#include "frontend/Program.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <exception>
#include <future>

#include <doctest/doctest.h>

namespace einfuse::test {

/** One case: an einsum or a program, its sizes, the type of every tensor (the standalone
 * harness uploads one element size), whether f32 may round to tf32, an input whose first
 * dimension is passed as size 1 with stride 0, and how many elements every input starts after
 * its allocation's 256-byte aligned start. */
struct GemmCase {
    const char *spec;
    ir::Extents sizes;
    DType dtype;
    bool tf32;
    std::string broadcast;
    int64_t offset;
};

inline std::unique_ptr<Compiled> compile_case(const GemmCase &c) {
    CompileOptions options{Target::Cuda, "", 0};
    options.allow_tf32 = c.tf32;
    if (frontend::is_program(c.spec)) {
        std::map<std::string, DType> dtypes;
        auto probe = std::make_unique<CompiledProgram>(c.spec, dtypes, options);
        for (const auto &in : probe->program().inputs)
            dtypes[in.name] = c.dtype;
        return std::make_unique<CompiledProgram>(c.spec, dtypes, options);
    }
    std::size_t operands = std::count(c.spec, c.spec + std::strlen(c.spec), ',') + 1;
    return std::make_unique<CompiledEinsum>(c.spec, std::vector<DType>(operands, c.dtype), options);
}

/** Element-size tolerance: the dtype's, over the reduction length; tf32 keeps 10 mantissa bits,
 * its error grows like sqrt(K) for random signs. */
inline double gemm_tolerance(const GemmCase &c, int64_t k) {
    if (c.tf32) return 1e-3 * std::sqrt(static_cast<double>(k)) + 1e-3;
    return tolerance(c.dtype, k + 16);
}

/** The GEMM cases of one test case. Each call plans, checks the plan chose the GEMM, emits the .cu
 * and starts building its standalone program (in parallel with the others: StandaloneCu.h), then
 * returns the variant the rule picked, for the caller to check. The results are compared with
 * the float64 reference when the object goes out of scope (or at finish()). Use one per
 * TEST_CASE, named as the function it replaces: `test::GemmChecks check_gemm(Runner::Nvcc);`. */
class GemmChecks {
public:
    explicit GemmChecks(Runner runner) : runner_(runner) {}
    GemmChecks(const GemmChecks &) = delete;
    GemmChecks &operator=(const GemmChecks &) = delete;
    ~GemmChecks() {
        if (std::uncaught_exceptions() == 0) finish();
        for (auto &p : pending_) { // an exception unwinds: the builds and references still finish first
            p.result.wait();
            p.want.wait();
        }
    }

    std::string operator()(const char *spec, const ir::Extents &sizes, DType dtype = DType::F32, bool tf32 = false,
                           const std::string &broadcast = "", int64_t offset = 0);

    /** Waits for every build and run so far and checks its result against the reference. */
    void finish() {
        for (auto &p : pending_) {
            std::optional<std::vector<char>> bytes;
            const Tensor *want = nullptr;
            try {
                bytes = p.result.get();
                want = &p.want.get();
            } catch (const std::exception &e) {
                FAIL_CHECK(p.what << ": " << e.what());
                continue;
            }
            if (!bytes) {
                MESSAGE("skipped: no nvcc");
                continue;
            }
            std::memcpy(p.got.data(), bytes->data(), bytes->size());
            CHECK_MESSAGE(ir::max_relative_error(p.got, *want) <= p.tolerance, p.what);
        }
        pending_.clear();
    }

private:
    struct Pending {
        std::string what; // the case, for the failure message
        StandaloneResult result;
        Tensor got;
        std::shared_future<Tensor> want; // the float64 reference, computed in the background
        double tolerance;
    };
    Runner runner_;
    std::vector<Pending> pending_;
};

inline std::string GemmChecks::operator()(const char *spec, const ir::Extents &extents, DType dtype, bool tf32,
                                          const std::string &broadcast, int64_t offset) {
    const GemmCase c{spec, extents, dtype, tf32, broadcast, offset};
    const std::string spec_text = c.spec; // CAPTURE keeps a reference
    CAPTURE(spec_text);
    CAPTURE(dtype_name(c.dtype));
    // Planned for its sizes; where they are too small for the strategy to pick a GEMM (M, N or
    // K under 16: edge cases), planned without sizes, which runs for any.
    std::unique_ptr<Compiled> p = compile_case(c);
    p->plan_for(c.sizes);
    if (p->plan().kernels.size() == 1 && !p->plan().kernels.front().gemm) p = compile_case(c);
    std::vector<ir::Kernel> kernels = p->plan().kernels;
    REQUIRE(kernels.size() == 1);
    ir::Kernel &k = kernels.front();
    REQUIRE(k.gemm.has_value());
    REQUIRE(k.gemm->allow_tf32 == c.tf32);
    std::string cu = test::emit_cuda(kernels, "test");

    std::vector<int64_t> sizes;
    for (const auto &v : k.index_vars)
        sizes.push_back(c.sizes.at(v));

    // Inputs: random, non-zero; a broadcast one is stored once and passed with stride 0, and
    // the reference gets it replicated.
    auto shape_of = [&](const std::vector<std::string> &vars) {
        Shape shape;
        for (const auto &v : vars)
            shape.push_back(c.sizes.at(v));
        return shape;
    };
    auto indices = cuda_backend::cuda_param_indices(k);
    std::map<std::string, Tensor> stored;
    std::map<std::string, Shape> full_shapes;
    std::vector<StandaloneTensor> args;
    for (int i = 0; i < k.num_inputs; ++i) {
        const ir::TensorInfo &in = k.params[i];
        Shape shape = shape_of(indices[i]), strides = contiguous_strides(shape), kept = shape;
        if (in.name == c.broadcast) kept[0] = 1;
        Tensor x(in.dtype, kept);
        x.fill_random(rng());
        if (in.name == c.broadcast) strides[0] = 0;
        args.push_back({nullptr, kept, strides, c.offset});
        full_shapes.emplace(in.name, shape);
        args.back().host = &stored.emplace(in.name, std::move(x)).first->second;
    }
    Shape out_shape = shape_of(indices[k.num_inputs]);
    // The variant the in-process runtime would pick for this layout: allocations start 256-byte
    // aligned, the data `offset` elements later.
    std::vector<int64_t> strides;
    std::vector<std::uint64_t> addresses;
    for (const auto &a : args) {
        strides.insert(strides.end(), a.strides.begin(), a.strides.end());
        addresses.push_back(static_cast<std::uint64_t>(256 + a.offset * dtype_size(c.dtype)));
    }
    for (int64_t s : contiguous_strides(out_shape)) strides.push_back(s);
    addresses.push_back(256);
    std::string variant = emitted_variant(k, launch_facts(k, sizes, strides, addresses)).entry(k.name);
    CAPTURE(variant);
    Tensor got(k.params[k.num_inputs].dtype, out_shape);
    // The build starts now (the inputs are written to files before this returns) ...
    StandaloneResult result = run_standalone_async(cu, k.name, args, {&got, out_shape, contiguous_strides(out_shape), 0},
                                                   sizes, dtype_size(c.dtype), runner_);
    // ... and the float64 reference (seconds for the larger cases) is computed beside it, on the
    // inputs replicated where one is broadcast. Only reads: the IR and the stored inputs.
    double tolerance = gemm_tolerance(c, p->reduction_length(c.sizes));
    std::shared_ptr<const Compiled> program(std::move(p));
    std::shared_future<Tensor> want =
        std::async(std::launch::async, [program, stored = std::move(stored), full_shapes, extents = c.sizes] {
            std::map<std::string, Tensor> full;
            for (const auto &[name, x] : stored) {
                Tensor f(x.dtype(), full_shapes.at(name));
                for (int64_t e = 0; e < f.size(); ++e)
                    f.store(e, x.load(e % x.size()));
                full.emplace(name, std::move(f));
            }
            std::vector<const Tensor *> ptrs;
            for (const auto &in : program->program().inputs)
                ptrs.push_back(&full.at(in.name));
            return program->reference(ptrs, extents).front();
        }).share();
    std::string what = spec_text + " " + std::string(dtype_name(c.dtype)) + (c.tf32 ? " tf32" : "") +
                       (c.broadcast.empty() ? "" : " broadcast " + c.broadcast) +
                       (c.offset ? " offset " + std::to_string(c.offset) : "") + " (" + variant + ")";
    pending_.push_back({std::move(what), std::move(result), std::move(got), std::move(want), tolerance});
    return variant;
}

inline ir::Extents bmm(int64_t b, int64_t i, int64_t j, int64_t k) { return {{"b", b}, {"i", i}, {"j", j}, {"k", k}}; }

} // namespace einfuse::test
