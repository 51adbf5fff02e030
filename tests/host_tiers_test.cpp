// Code tiers on the host (exec/HostTiers.h): a first call runs cold code, later calls the code
// compiled in the background, and every tier gives the same bits as the code compiled without
// cold code (EINFUSE_HOST_COLD_CODE=0), within the reference's tolerance, on fresh random inputs.
#include "TestUtil.h"
#include "exec/HostExecutor.h"
#include "exec/HostTiers.h"
#include "frontend/Einsum.h"

#include <doctest/doctest.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include <sys/wait.h>
#include <unistd.h>

using namespace einfuse;

namespace {

bool same_bits(const Tensor &a, const Tensor &b) {
    return a.shape() == b.shape() && a.nbytes() == b.nbytes() && std::memcmp(a.data(), b.data(), a.nbytes()) == 0;
}

/** EINFUSE_HOST_COLD_CODE=0 for this scope's constructions. */
struct NoColdCode {
    NoColdCode() { setenv("EINFUSE_HOST_COLD_CODE", "0", 1); }
    ~NoColdCode() { unsetenv("EINFUSE_HOST_COLD_CODE"); }
};

/** EINFUSE_CACHE_DIR=off for this scope: every tier really compiles (the process's memory cache
 * still answers for a module compiled before). */
struct NoDiskCache {
    std::optional<std::string> saved;
    NoDiskCache() {
        if (const char *e = std::getenv("EINFUSE_CACHE_DIR")) saved = e;
        setenv("EINFUSE_CACHE_DIR", "off", 1);
    }
    ~NoDiskCache() {
        if (saved) setenv("EINFUSE_CACHE_DIR", saved->c_str(), 1);
        else unsetenv("EINFUSE_CACHE_DIR");
    }
};

/** One kernel's plan, its executor and tensors: the output last. */
struct OneKernel {
    CompiledEinsum c;
    ir::Extents extents;
    std::vector<Tensor> tensors;
    OneKernel(const char *spec, DType dtype, ir::Extents e)
        : c(spec, std::vector<DType>(2, dtype), CompileOptions{Target::Host, "", 1}), extents(std::move(e)) {
        c.plan_for(extents);
        REQUIRE(c.plan().kernels.size() == 1);
        tensors = test::random_inputs(c, extents);
        tensors.emplace_back(dtype, c.output_shape(extents));
    }
    const ir::Kernel &kernel() const { return c.plan().kernels.front(); }
    std::vector<const Tensor *> params() const { return test::pointers(tensors); }
};

} // namespace

TEST_CASE("host tiers: first calls cold, then the settled code, with the same bits as without cold code") {
    struct Row {
        const char *spec;
        ir::Extents extents;
    };
    const Row rows[] = {
        // Several small loop nests (cold, then O2), and one of 43,200 iterations (cold, then O3).
        {"abc,bdef,fghj,cem,mhk,ljk->adgl",
         {{"a", 2}, {"b", 3}, {"c", 4}, {"d", 5}, {"e", 4}, {"f", 3}, {"g", 2}, {"h", 6}, {"j", 4}, {"k", 3}, {"l", 2}, {"m", 5}}},
        {"acdf,jbje,gihb,hfac,gfac,gifabc,hfac", {{"a", 2}, {"b", 3}, {"c", 4}, {"d", 5}, {"e", 4}, {"f", 3}, {"g", 2}, {"h", 6}, {"i", 5}, {"j", 4}}},
        // Lanes along a Kahan-compensated sum, with a stride-3 read (cold at any size: code
        // generation at -O0 up to kColdSmallLaneIterations, at -O1 above).
        {"lmn,lmno->o", {{"l", 20}, {"m", 24}, {"n", 30}, {"o", 3}}},
        {"lmn,lmno->o", {{"l", 160}, {"m", 200}, {"n", 180}, {"o", 3}}},
        {"ijk,k->ij", {{"i", 40}, {"j", 30}, {"k", 200}}},
        // A packed GEMM (cold: without its unrolling) and a chain of them.
        {"ij,jk->ik", {{"i", 96}, {"j", 80}, {"k", 64}}},
        {"ab,bc,cd,de->ae", {{"a", 32}, {"b", 48}, {"c", 64}, {"d", 80}, {"e", 64}}},
        // bmm planned small (cold), and large (full from the start).
        {"bij,bjk->bik", {{"b", 50}, {"i", 3}, {"j", 3}, {"k", 3}}},
        {"bij,bjk->bik", {{"b", 30000}, {"i", 4}, {"j", 4}, {"k", 4}}},
    };
    NoDiskCache no_cache;
    for (DType dtype : {DType::F32, DType::F64})
        for (const auto &row : rows) {
            const std::string spec = row.spec;
            CAPTURE(spec);
            CAPTURE(dtype_name(dtype));
            auto ast = frontend::parse_einsum(row.spec);
            const std::vector<DType> dtypes(ast.operands.size(), dtype);
            const CompileOptions options{Target::Host, "", 2};
            CompiledEinsum tiered(row.spec, dtypes, options);
            tiered.plan_for(row.extents);
            auto inputs = test::random_inputs(tiered, row.extents);
            auto ptrs = test::pointers(inputs);
            Tensor without;
            {
                NoColdCode none;
                CompiledEinsum plain(row.spec, dtypes, options);
                plain.plan_for(row.extents);
                without = plain.run(ptrs, row.extents).outputs.front();
            }
            Tensor first = tiered.run(ptrs, row.extents).outputs.front();
            Tensor second = tiered.run(ptrs, row.extents).outputs.front();
            Tensor settled = tiered.run(ptrs, row.extents, 1).outputs.front(); // waits for the settled code
            CHECK(same_bits(first, without));
            CHECK(same_bits(second, without));
            CHECK(same_bits(settled, without));
            Tensor want = einsum_reference(tiered, ptrs, row.extents);
            CHECK(ir::max_relative_error(settled, want, test::einsum_scale(tiered, inputs, row.extents)) <=
                  tolerance(dtype, reduction_length(tiered, row.extents)));
        }
}

TEST_CASE("host tiers: short runs start on the cheapest code generation, long lanes and GEMMs on -O1") {
    using llvm_backend::CodeTier;
    struct Row {
        const char *spec;
        ir::Extents extents;
        CodeTier first, settled;
    };
    const Row rows[] = {
        {"bij,bjk->bik", {{"b", 50}, {"i", 3}, {"j", 3}, {"k", 3}}, CodeTier::ColdSmall, CodeTier::Quick},
        {"bij,bjk->bik", {{"b", 5000}, {"i", 3}, {"j", 3}, {"k", 3}}, CodeTier::ColdSmall, CodeTier::Full},
        {"bij,bjk->bik", {{"b", 30000}, {"i", 4}, {"j", 4}, {"k", 4}}, CodeTier::Full, CodeTier::Full},
        {"ijk,k->ij", {{"i", 40}, {"j", 30}, {"k", 200}}, CodeTier::ColdSmall, CodeTier::Full},
        {"ijk,k->ij", {{"i", 320}, {"j", 256}, {"k", 192}}, CodeTier::ColdSmall, CodeTier::Full},
        {"ijk,k->ij", {{"i", 640}, {"j", 256}, {"k", 192}}, CodeTier::Cold, CodeTier::Full},
        {"ij,jk->ik", {{"i", 96}, {"j", 80}, {"k", 64}}, CodeTier::Cold, CodeTier::Full},
    };
    for (const auto &row : rows) {
        CAPTURE(row.spec);
        CAPTURE(row.extents.at("i"));
        auto ast = frontend::parse_einsum(row.spec);
        CompiledEinsum c(row.spec, std::vector<DType>(ast.operands.size(), DType::F32), CompileOptions{Target::Host, "", 1});
        c.plan_for(row.extents);
        REQUIRE(c.plan().kernels.size() == 1);
        KernelTiers tiers = choose_tiers(c.plan().kernels.front(), c.plan(), true);
        CHECK(tiers.first == row.first);
        CHECK(tiers.settled == row.settled);
        CHECK(choose_tiers(c.plan().kernels.front(), c.plan(), false).first == (row.settled == CodeTier::Quick ? CodeTier::Quick : CodeTier::Full));
    }
}

TEST_CASE("host tiers: which code a call runs, before and after the settled code is ready") {
    SUBCASE("a small loop nest: cold, then O2; a larger call than planned: full") {
        OneKernel one("bij,bjk->bik", DType::F32, {{"b", 40}, {"i", 3}, {"j", 3}, {"k", 3}});
        HostExecutor ex(one.c.plan(), true);
        CHECK(std::string(ex.code_tier(one.kernel(), one.params(), one.extents)) == "cold");
        ex.run(one.kernel(), one.params(), one.extents);
        ex.run(one.kernel(), one.params(), one.extents); // the second call starts the settled code's compile
        ex.settle();
        CHECK(std::string(ex.code_tier(one.kernel(), one.params(), one.extents)) == "quick");
        OneKernel larger("bij,bjk->bik", DType::F32, {{"b", 20000}, {"i", 3}, {"j", 3}, {"k", 3}});
        CHECK(std::string(ex.code_tier(one.kernel(), larger.params(), larger.extents)) == "full");
    }
    SUBCASE("a packed GEMM: cold, then full") {
        OneKernel one("ij,jk->ik", DType::F64, {{"i", 96}, {"j", 80}, {"k", 64}});
        REQUIRE(one.kernel().gemm);
        HostExecutor ex(one.c.plan(), true);
        CHECK(std::string(ex.code_tier(one.kernel(), one.params(), one.extents)) == "cold");
        ex.run(one.kernel(), one.params(), one.extents);
        CHECK(std::string(ex.code_tier(one.kernel(), one.params(), one.extents)) == "cold");
        ex.settle();
        CHECK(std::string(ex.code_tier(one.kernel(), one.params(), one.extents)) == "full");
    }
    SUBCASE("bmm planned for a large batch: full from the start") {
        OneKernel one("bij,bjk->bik", DType::F32, {{"b", 100000}, {"i", 3}, {"j", 3}, {"k", 3}});
        HostExecutor ex(one.c.plan(), true);
        CHECK(std::string(ex.code_tier(one.kernel(), one.params(), one.extents)) == "full");
    }
    SUBCASE("without cold code: O2 for the small call, full for the others") {
        OneKernel small("bij,bjk->bik", DType::F32, {{"b", 40}, {"i", 3}, {"j", 3}, {"k", 3}});
        OneKernel gemv("ijk,k->ij", DType::F64, {{"i", 40}, {"j", 30}, {"k", 200}});
        CHECK(std::string(HostExecutor(small.c.plan(), false).code_tier(small.kernel(), small.params(), small.extents)) == "quick");
        CHECK(std::string(HostExecutor(gemv.c.plan(), false).code_tier(gemv.kernel(), gemv.params(), gemv.extents)) == "full");
    }
}

TEST_CASE("host tiers: threads calling while the settled code arrives get the same bits") {
    OneKernel one("ij,jk->ik", DType::F32, {{"i", 128}, {"j", 96}, {"k", 80}});
    Tensor want;
    {
        HostExecutor ex(one.c.plan(), false);
        ex.run(one.kernel(), one.params(), one.extents);
        want = one.tensors.back();
    }
    HostExecutor ex(one.c.plan(), true);
    std::vector<Tensor> outs(4, Tensor(DType::F32, want.shape()));
    std::vector<int> mismatches(outs.size(), 0);
    std::vector<std::thread> threads;
    for (std::size_t t = 0; t < outs.size(); ++t)
        threads.emplace_back([&, t] {
            auto params = one.params();
            params.back() = &outs[t];
            for (int call = 0; call < 60; ++call) {
                ex.run(one.kernel(), params, one.extents);
                mismatches[t] += !same_bits(outs[t], want);
            }
        });
    for (auto &t : threads) t.join();
    for (int m : mismatches) CHECK(m == 0);

}

TEST_CASE("host tiers: an executor destroyed while its settled code compiles cancels the compile and returns") {
    NoDiskCache no_cache; // and sizes no other test compiles: the settled code really compiles
    for (int64_t n : {77, 91}) {
        OneKernel one("ij,jk->ik", DType::F64, {{"i", n}, {"j", n + 2}, {"k", n - 1}});
        auto start = std::chrono::steady_clock::now();
        {
            HostExecutor early(one.c.plan(), true);
            early.run(one.kernel(), one.params(), one.extents);
            early.run(one.kernel(), one.params(), one.extents); // starts the compile
        }
        CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(20)); // no hang
    }
}

namespace {
int thread_count() {
    int n = 0;
    for (const auto &entry : std::filesystem::directory_iterator("/proc/self/task")) n += entry.is_directory();
    return n;
}
} // namespace

TEST_CASE("host tiers: many kernels settling at once share one compile thread, and all settle") {
    NoDiskCache no_cache;
    std::vector<std::unique_ptr<OneKernel>> kernels;
    std::vector<std::unique_ptr<HostExecutor>> executors;
    for (int64_t n = 5; n < 17; ++n) { // distinct sizes: distinct code, compiled anew
        kernels.push_back(std::make_unique<OneKernel>("ij,jk->ik", DType::F64, ir::Extents{{"i", n}, {"j", n + 1}, {"k", 3}}));
        executors.push_back(std::make_unique<HostExecutor>(kernels.back()->c.plan(), true));
    }
    const int before = thread_count();
    for (std::size_t i = 0; i < kernels.size(); ++i)
        for (int call = 0; call < 2; ++call) executors[i]->run(kernels[i]->kernel(), kernels[i]->params(), kernels[i]->extents);
    CHECK(thread_count() <= before + 1); // the queue's one thread at most
    for (std::size_t i = 0; i < kernels.size(); ++i) {
        executors[i]->settle();
        CHECK(std::string(executors[i]->code_tier(kernels[i]->kernel(), kernels[i]->params(), kernels[i]->extents)) == "quick");
    }
}

TEST_CASE("host tiers: a child forked while the settled code compiles keeps its cold code and exits cleanly") {
    NoDiskCache no_cache;
    OneKernel one("ij,jk->ik", DType::F64, {{"i", 83}, {"j", 97}, {"k", 71}});
    auto ex = std::make_unique<HostExecutor>(one.c.plan(), true);
    ex->run(one.kernel(), one.params(), one.extents);
    Tensor want = one.tensors.back();
    ex->run(one.kernel(), one.params(), one.extents); // queues the settled code's compile
    pid_t child = fork();
    REQUIRE(child >= 0);
    if (child == 0) {
        ex->settle(); // returns: no compile runs in this process
        ex->run(one.kernel(), one.params(), one.extents);
        const bool same = same_bits(one.tensors.back(), want);
        ex.reset(); // and the destructor does not wait for the parent's thread
        _exit(same ? 0 : 1);
    }
    int status = 0;
    REQUIRE(waitpid(child, &status, 0) == child);
    CHECK(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0);
    ex->settle();
    CHECK(std::string(ex->code_tier(one.kernel(), one.params(), one.extents)) == "full");
}
