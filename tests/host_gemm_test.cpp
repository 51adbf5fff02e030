// The host's packed GEMM (backends/llvm/GemmCodeGen.cpp) through the whole pipeline: each row is
// planned without sizes (so the GEMM strategy is chosen whatever the extents, edge sizes
// included), run on fresh random inputs and compared with the float64 reference, with a
// tolerance that grows with K; every row runs with 1, 2 and 3 threads and must give the same
// bits each time. Layouts: transposed operands, batches, broadcast operands (a missing batch
// index, and a stride-0 dimension), grouped K, extent-1 dimensions, padded (non-contiguous)
// views of inputs and output. Epilogues: bias + relu, gelu, "+=".
#include "TestUtil.h"

#include "backends/llvm/HostJit.h"
#include "backends/llvm/Workspace.h"

#include <doctest/doctest.h>

#include <cstdlib>
#include <algorithm>
#include <cstdint>
#include <cstring>

using namespace einfuse;

namespace {


std::vector<int> reversed(int rank) {
    std::vector<int> order;
    for (int d = 0; d < rank; ++d) order.push_back(d); // dimension 0 innermost: the transpose
    return order;
}

bool same_bits(const Tensor &a, const Tensor &b) {
    return a.nbytes() == b.nbytes() && std::memcmp(a.data(), b.data(), a.nbytes()) == 0;
}

/** How the inputs are laid out. */
enum class Layout { Dense, Transposed, Padded };

/** Plans `c` without sizes, checks it runs as the packed GEMM (or not), runs it with 1, 2 and 3
 * threads against the reference. */
template <class MakeCompiled>
void check_rows(MakeCompiled make, const std::vector<Tensor> &inputs, const ir::Extents &e, bool packed,
                int64_t k_length, bool strided_output = false) {
    std::vector<const Tensor *> ptrs = test::pointers(inputs);
    Tensor first, want, scale;
    for (int threads : {1, 2, 3}) {
        CAPTURE(threads);
        auto c = make(threads);
        const ir::Kernel &k = c.plan().kernels.back();
        REQUIRE(k.strategy == ir::Strategy::Gemm);
        CHECK((k.strategy_detail.find("host: packed GEMM") != std::string::npos) == packed);
        if (threads == 1) {
            want = c.reference(ptrs, e).front();
            scale = c.reference_magnitudes(ptrs, e).front(); // rounding errors scale with sum |a b|
        }
        Tensor got;
        if (strided_output) {
            // Column-major and padded; its values are overwritten, then read back densely.
            Tensor out = test::relayout(Tensor(k.params.back().dtype, want.shape()), reversed(want.rank()), 2);
            c.run_into(ptrs, {&out}, e);
            std::vector<int> row_major;
            for (int d = out.rank() - 1; d >= 0; --d) row_major.push_back(d);
            got = test::relayout(out, row_major, 0);
        } else {
            got = c.run(ptrs, e).outputs.front();
        }
        CHECK(ir::max_relative_error(got, want, scale) <= tolerance(got.dtype(), k_length));
        if (threads == 1) first = got;
        CHECK(same_bits(got, first));
    }
}

int64_t product(const ir::Extents &e, const std::string &vars) {
    int64_t n = 1;
    for (char v : vars) n *= e.at(std::string(1, v));
    return n;
}

/** An einsum of two operands, planned without sizes. */
void check_einsum(const char *spec, const ir::Extents &e, DType dtype, const char *k_vars, Layout layout = Layout::Dense,
                  bool packed = true) {
    CAPTURE(std::string(spec));
    CAPTURE(dtype_name(dtype));
    CAPTURE(static_cast<int>(layout));
    CompiledEinsum probe(spec, {dtype, dtype}, CompileOptions{Target::Host, "", 1});
    std::vector<Tensor> inputs = test::random_inputs(probe, e);
    for (auto &t : inputs) {
        if (layout == Layout::Transposed) t = test::relayout(t, reversed(t.rank()), 0);
        if (layout == Layout::Padded) t = test::relayout(t, reversed(t.rank()), 1);
    }
    check_rows([&](int threads) { return CompiledEinsum(spec, {dtype, dtype}, CompileOptions{Target::Host, "", threads}); },
               inputs, e, packed, product(e, k_vars));
}

struct Row {
    const char *spec;
    ir::Extents extents;
    const char *k; // the contracted labels, for the tolerance
};

const Row kRows[] = {
    {"ij,jk->ik", {{"i", 7}, {"j", 130}, {"k", 33}}, "j"},
    {"ij,jk->ik", {{"i", 130}, {"j", 7}, {"k", 33}}, "j"},
    {"ij,jk->ik", {{"i", 33}, {"j", 33}, {"k", 130}}, "j"},
    {"ij,jk->ik", {{"i", 1}, {"j", 1}, {"k", 1}}, "j"},
    {"ij,jk->ik", {{"i", 45}, {"j", 1}, {"k", 17}}, "j"},
    {"ij,jk->ik", {{"i", 29}, {"j", 64}, {"k", 1}}, "j"},          // N = 1
    {"ji,jk->ik", {{"i", 31}, {"j", 40}, {"k", 70}}, "j"},          // A transposed
    {"ij,kj->ik", {{"i", 31}, {"j", 40}, {"k", 70}}, "j"},          // B transposed
    {"ji,kj->ik", {{"i", 31}, {"j", 40}, {"k", 70}}, "j"},          // both
    {"ij,jk->ki", {{"i", 31}, {"j", 40}, {"k", 70}}, "j"},          // output transposed
    {"bij,bjk->bik", {{"b", 3}, {"i", 17}, {"j", 20}, {"k", 33}}, "j"},
    {"bij,bjk->bik", {{"b", 1}, {"i", 17}, {"j", 20}, {"k", 33}}, "j"},
    {"abij,abjk->abik", {{"a", 2}, {"b", 3}, {"i", 15}, {"j", 9}, {"k", 18}}, "j"},
    {"bij,jk->bik", {{"b", 4}, {"i", 15}, {"j", 20}, {"k", 35}}, "j"}, // B broadcast over b
    {"ij,bjk->bik", {{"b", 4}, {"i", 15}, {"j", 20}, {"k", 35}}, "j"}, // A broadcast over b
    {"ijk,ikl->jl", {{"i", 3}, {"j", 19}, {"k", 21}, {"l", 37}}, "ik"}, // grouped K
    {"bij,bjk->bik", {{"b", 5}, {"i", 16}, {"j", 16}, {"k", 16}}, "j"},
    {"ij,jk->ik", {{"i", 5}, {"j", 0}, {"k", 7}}, "j"},                // K = 0: zeros, still stored
    {"ij,jk->ik", {{"i", 0}, {"j", 3}, {"k", 7}}, "j"},                // nothing to compute
};

} // namespace

TEST_CASE("host gemm: layouts and edge sizes, f32 and f64, dense, transposed and padded inputs, 1-3 threads") {
    for (DType dtype : {DType::F32, DType::F64})
        for (const Row &r : kRows)
            for (Layout layout : {Layout::Dense, Layout::Transposed, Layout::Padded})
                check_einsum(r.spec, r.extents, dtype, r.k, layout);
}

TEST_CASE("host gemm: the AVX2 and SSE micro-kernels (EINFUSE_HOST_VECTOR_BITS=256, 128)") {
    for (const char *bits : {"256", "128"}) {
        CAPTURE(bits);
        setenv("EINFUSE_HOST_VECTOR_BITS", bits, 1);
        for (DType dtype : {DType::F32, DType::F64, DType::F16})
            for (const Row &r : kRows) check_einsum(r.spec, r.extents, dtype, r.k, Layout::Padded);
        check_einsum("ij,jk->ik", {{"i", 200}, {"j", 300}, {"k", 100}}, DType::F32, "j");
        // The plan states the width the code uses (the target's facts, narrowed like the code).
        CompiledEinsum c("ij,jk->ik", {DType::F32, DType::F32}, CompileOptions{Target::Host, "", 1});
        CHECK(c.plan().kernels.at(0).strategy_detail.find(std::string("in ") + bits + "-bit vectors") != std::string::npos);
        CHECK(c.plan().kernels[0].gemm->host_vector_bits == std::atoi(bits));
        unsetenv("EINFUSE_HOST_VECTOR_BITS");
    }
}

TEST_CASE("host gemm: a large product crosses the MC and NC blocks") {
    check_einsum("ij,jk->ik", {{"i", 300}, {"j", 1100}, {"k", 1000}}, DType::F32, "j");
    check_einsum("ij,kj->ik", {{"i", 300}, {"j", 2100}, {"k", 300}}, DType::F64, "j");
}

TEST_CASE("host gemm: a stride-0 (broadcast) operand dimension") {
    ir::Extents e{{"b", 4}, {"i", 17}, {"j", 23}, {"k", 40}};
    CompiledEinsum probe("bij,bjk->bik", {DType::F32, DType::F32}, CompileOptions{Target::Host, "", 1});
    std::vector<Tensor> inputs = test::random_inputs(probe, e);
    inputs[1] = Tensor(DType::F32, {1, 23, 40}); // numpy broadcasts size 1: stride 0 in the kernel
    inputs[1].fill_random(test::rng());
    check_rows([&](int t) { return CompiledEinsum("bij,bjk->bik", {DType::F32, DType::F32}, CompileOptions{Target::Host, "", t}); },
               inputs, e, true, 23);
}

TEST_CASE("host gemm: fused epilogues (bias + relu, gelu, +=) and a padded output") {
    struct Program {
        const char *source;
        std::vector<std::pair<const char *, Shape>> inputs;
    };
    const int64_t M = 37, K = 50, N = 45;
    const Program programs[] = {
        {"D[i,k] = relu(sum[j](A[i,j]*B[j,k]) + bias[k])", {{"A", {M, K}}, {"B", {K, N}}, {"bias", {N}}}},
        {"D[i,k] = relu(sum[j](A[i,j]*B[j,k]) + bias[i])", {{"A", {M, K}}, {"B", {K, N}}, {"bias", {M}}}},
        {"D[i,k] = gelu(sum[j](A[i,j]*B[j,k]))", {{"A", {M, K}}, {"B", {K, N}}}},
        {"C[i,k] = X[i,k]\nC[i,k] += A[i,j]*B[j,k]", {{"X", {M, N}}, {"A", {M, K}}, {"B", {K, N}}}},
        {"D[i,k] = 0.5 * sum[j](A[j,i]*B[k,j]) - X[k,i]", {{"A", {K, M}}, {"B", {N, K}}, {"X", {N, M}}}},
    };
    ir::Extents e{{"i", M}, {"j", K}, {"k", N}};
    for (DType dtype : {DType::F32, DType::F64})
        for (const auto &p : programs)
            for (bool strided_output : {false, true}) {
                CAPTURE(std::string(p.source));
                CAPTURE(dtype_name(dtype));
                CAPTURE(strided_output);
                std::map<std::string, DType> types;
                std::vector<Tensor> inputs;
                for (const auto &[name, shape] : p.inputs) {
                    types[name] = dtype;
                    inputs.emplace_back(dtype, shape);
                    inputs.back().fill_random(test::rng());
                }
                // Inputs in the program's order.
                CompiledProgram probe(p.source, types, CompileOptions{Target::Host, "", 1});
                std::vector<Tensor> ordered;
                for (const auto &t : probe.program().inputs)
                    for (std::size_t i = 0; i < p.inputs.size(); ++i)
                        if (t.name == p.inputs[i].first) ordered.push_back(inputs[i]);
                check_rows([&](int t) { return CompiledProgram(p.source, types, CompileOptions{Target::Host, "", t}); },
                           ordered, e, true, K, strided_output);
            }
}

TEST_CASE("host gemm: f16 and bf16 operands are widened to f32 while packed; i32 keeps the loop nest") {
    for (DType dtype : {DType::F16, DType::BF16}) {
        CompiledEinsum c("ij,jk->ik", {dtype, dtype}, CompileOptions{Target::Host, "", 1});
        CHECK(c.plan().kernels.front().strategy_detail.find("widened to f32 while packed") != std::string::npos);
        for (const Row &r : kRows)
            for (Layout layout : {Layout::Dense, Layout::Padded}) check_einsum(r.spec, r.extents, dtype, r.k, layout);
    }
    CompiledEinsum c("ij,jk->ik", {DType::I32, DType::I32}, CompileOptions{Target::Host, "", 1});
    CHECK(c.plan().kernels.front().strategy_detail.find("host: the loop nest, not the packed GEMM") != std::string::npos);
    check_einsum("ij,jk->ik", {{"i", 20}, {"j", 30}, {"k", 40}}, DType::I32, "j", Layout::Dense, false);
}

TEST_CASE("host gemm: EINFUSE_HOST_GEMM=0 runs the loop nest, with the same results") {
    setenv("EINFUSE_HOST_GEMM", "0", 1);
    CompiledEinsum c("ij,jk->ik", {DType::F32, DType::F32}, CompileOptions{Target::Host, "", 1});
    CHECK(c.plan().kernels.front().strategy_detail.find("EINFUSE_HOST_GEMM=0") != std::string::npos);
    check_einsum("ij,jk->ik", {{"i", 20}, {"j", 30}, {"k", 40}}, DType::F32, "j", Layout::Dense, false);
    unsetenv("EINFUSE_HOST_GEMM");
}

TEST_CASE("host gemm: random layouts (index orders, grouped and batch variables, broadcasts, sizes)") {
    std::mt19937_64 &r = test::rng();
    auto pick = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(r); };
    for (int round = 0; round < 40; ++round) {
        // Groups of fresh labels; each operand lists its labels in a random order.
        std::string letters = "abcdefghpqrs", batch, m, n, k;
        std::shuffle(letters.begin(), letters.end(), r);
        std::size_t at = 0;
        auto take = [&](int count) { std::string g = letters.substr(at, count); at += count; return g; };
        batch = take(pick(0, 2)), m = take(pick(1, 2)), n = take(pick(1, 2)), k = take(pick(1, 2));
        bool a_has_batch = batch.empty() || pick(0, 3) > 0, b_has_batch = !a_has_batch || pick(0, 3) > 0;
        std::string a = (a_has_batch ? batch : "") + m + k, b = (b_has_batch ? batch : "") + k + n, out = batch + m + n;
        for (std::string *s : {&a, &b, &out}) std::shuffle(s->begin(), s->end(), r);
        std::string spec = a + "," + b + "->" + out;
        ir::Extents e;
        for (const std::string *g : {&batch, &m, &n, &k})
            for (char c : *g) e[std::string(1, c)] = g->size() == 1 ? pick(1, 40) : pick(1, 9);
        DType dtype = pick(0, 1) ? DType::F32 : DType::F64;
        check_einsum(spec.c_str(), e, dtype, k.c_str(), static_cast<Layout>(pick(0, 2)));
    }
}

TEST_CASE("host gemm: a variable no group holds (planned with size 1) is read at 0, other sizes refused") {
    // Main's GemmMatch may leave extent-1 variables out of the groups; build such a kernel by hand.
    CompiledEinsum c("bij,bjk->bik", {DType::F32, DType::F32}, CompileOptions{Target::Host, "", 1});
    ir::Kernel k = c.plan().kernels.front();
    REQUIRE(k.gemm.has_value());
    k.gemm->batch.clear(); // b: in no group
    auto module = llvm_backend::HostModule::compile({k});
    const int64_t M = 19, K = 23, N = 37;
    Tensor a(DType::F32, {1, M, K}), b(DType::F32, {1, K, N}), out(DType::F32, {1, M, N});
    a.fill_random(test::rng());
    b.fill_random(test::rng());
    std::vector<void *> data{a.data(), b.data(), out.data()};
    std::vector<int64_t> strides;
    for (const Tensor *t : {&a, &b, &out}) strides.insert(strides.end(), t->strides().begin(), t->strides().end());
    std::vector<int64_t> extents;
    for (const auto &v : k.index_vars) extents.push_back(v == "b" ? 1 : v == "i" ? M : v == "j" ? K : N);
    CHECK(llvm_backend::gemm_parallel_extent(k, extents) == M);
    module->function(k.name)(data.data(), strides.data(), extents.data(), 0, M);
    Tensor want = c.reference({&a, &b}, {{"b", 1}, {"i", M}, {"j", K}, {"k", N}}).front();
    CHECK(ir::max_relative_error(out, want) <= tolerance(DType::F32, K));
}

TEST_CASE("host gemm: a variable of the program the GEMM kernel does not use may have any size") {
    // Found by the differential test: "DR,RA,Ak->kD" runs in two steps, and the second (a GEMM
    // over D, A, k) was refused because R, which it never reads, had size 17.
    CompiledEinsum c("DR,RA,Ak->kD", {DType::F32, DType::F32, DType::F32}, CompileOptions{Target::Host, "", 2});
    ir::Extents sizes{{"D", 17}, {"R", 17}, {"A", 13}, {"k", 16}};
    c.plan_for(sizes);
    Tensor a(DType::F32, {17, 17}), b(DType::F32, {1, 13}), d(DType::F32, {13, 16});
    for (Tensor *t : {&a, &b, &d}) t->fill_random(test::rng());
    Tensor got = c.run({&a, &b, &d}, sizes).outputs.front();
    Tensor want = c.reference({&a, &b, &d}, sizes).front();
    CHECK(ir::max_relative_error(got, want) <= tolerance(DType::F32, 17 * 13));
}

TEST_CASE("host gemm: the workspace is the thread's, reused and grown; a refused allocation is reported") {
    using llvm_backend::einfuse_host_workspace;
    using llvm_backend::take_workspace_failure;
    void *small = einfuse_host_workspace(1000);
    REQUIRE(small != nullptr);
    CHECK(reinterpret_cast<std::uintptr_t>(small) % 64 == 0);
    CHECK(einfuse_host_workspace(64) == small); // no larger: the same buffer, no allocation
    void *grown = einfuse_host_workspace(int64_t{1} << 20);
    REQUIRE(grown != nullptr);
    std::memset(grown, 1, std::size_t{1} << 20); // all of it is this thread's
    CHECK(take_workspace_failure() == 0);
    CHECK(einfuse_host_workspace(int64_t{1} << 62) == nullptr); // 4 EiB: refused, not a crash
    CHECK(take_workspace_failure() == int64_t{1} << 62);
    CHECK(take_workspace_failure() == 0); // reported once
    CHECK(einfuse_host_workspace(1000) != nullptr); // and the next call allocates again
    // Kept up to kKeptWorkspaceBytes; a larger one goes after its call.
    void *kept = einfuse_host_workspace(llvm_backend::kKeptWorkspaceBytes);
    llvm_backend::release_large_workspace();
    CHECK(einfuse_host_workspace(64) == kept);
    REQUIRE(einfuse_host_workspace(llvm_backend::kKeptWorkspaceBytes + 1) != nullptr);
    llvm_backend::release_large_workspace(); // freed; the next call allocates anew
    CHECK(einfuse_host_workspace(64) != nullptr);
}
