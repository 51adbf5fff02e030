// One timing for bench/host_gemm_bench.py's crossover sweep: an einsum on the host, run three
// ways that the CLI cannot force (the planner picks a strategy from the sizes it is given):
//   planned   plan_for(sizes): the planner's choice (unrolled, broadcast-reduce or gemm)
//   gemm      planned without sizes: the GEMM strategy whatever the sizes, as the packed GEMM
//   loopnest  the same GEMM kernel with EINFUSE_HOST_GEMM=0: its loop nest (vector lanes over N)
// Usage: host_gemm_crossover SPEC i=2,j=3,... MODE REPEAT THREADS
// Prints one JSON object: {"mode", "strategy", "detail", "median_us"}.
#include "exec/Compiled.h"
#include "ir/Reference.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <sstream>
#include <string>

using namespace einfuse;

int main(int argc, char **argv) {
    if (argc != 6) {
        std::fprintf(stderr, "usage: %s SPEC i=2,j=3,... planned|gemm|loopnest REPEAT THREADS\n", argv[0]);
        return 1;
    }
    std::string spec = argv[1], mode = argv[3];
    int repeat = std::atoi(argv[4]), threads = std::atoi(argv[5]);
    ir::Extents extents;
    std::stringstream dims(argv[2]);
    for (std::string item; std::getline(dims, item, ',');) {
        auto eq = item.find('=');
        extents[item.substr(0, eq)] = std::stoll(item.substr(eq + 1));
    }
    if (mode == "loopnest") setenv("EINFUSE_HOST_GEMM", "0", 1);
    CompiledEinsum c(spec, {DType::F32, DType::F32}, CompileOptions{Target::Host, "", threads});
    if (mode == "planned") c.plan_for(extents);
    std::mt19937_64 rng(42);
    std::vector<Tensor> inputs;
    for (int i = 0; i < 2; ++i) {
        inputs.emplace_back(DType::F32, c.operand_shape(i, extents));
        inputs.back().fill_random(rng);
    }
    std::vector<const Tensor *> ptrs{&inputs[0], &inputs[1]};
    RunResult r = c.run(ptrs, extents, repeat);
    std::vector<double> t = r.times_us;
    std::sort(t.begin(), t.end());
    const ir::Kernel &k = c.plan().kernels.back();
    std::string detail = k.strategy_detail;
    for (char &ch : detail)
        if (ch == '"' || ch == '\\') ch = '\'';
    std::printf("{\"mode\": \"%s\", \"strategy\": \"%s\", \"detail\": \"%s\", \"median_us\": %.3f}\n", mode.c_str(),
                std::string(ir::strategy_name(k.strategy)).c_str(), detail.c_str(), t.empty() ? 0.0 : t[t.size() / 2]);
    return 0;
}
