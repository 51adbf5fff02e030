// A .cu compiled without sizes (or with some pinned) chooses among size-specialised variants by
// the sizes its launcher is given (passes/GpuSpecialise). Checked without a GPU: which variant
// the rules pick (the executor and the launcher read the same objects), and the emitted file
// run on the CPU through the host emulation against the float64 reference, one program calling
// the entry point once per size. The same programs built with nvcc also run where there is a GPU
// (scripts/gpu-check.sh runs golden_tests there).
#include "exec/Compiled.h"
#include "frontend/Program.h"
#include "ir/Reference.h"
#include "ir/Walk.h"
#include "runtime/CudaDriver.h"

#include "LaunchCheck.h"
#include "StandaloneCu.h"
#include "TestUtil.h"

#include <doctest/doctest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sys/wait.h>
#include <unistd.h>

using namespace einfuse;
namespace fs = std::filesystem;

namespace {

const char *kBmm = "bij,bjk->bik";
const char *kGauss = "out[i] = sum[j](exp(-sum[d]((x[i,d] - y[j,d])^2)) * w[j])";

std::unique_ptr<Compiled> compiled(const std::string &expr, const ir::Extents &sizes) {
    std::unique_ptr<Compiled> c;
    CompileOptions options{Target::Cuda, "sm_90", 0};
    if (frontend::is_program(expr)) c = std::make_unique<CompiledProgram>(expr, std::map<std::string, DType>{}, options);
    else c = std::make_unique<CompiledEinsum>(expr, std::vector<DType>{DType::F32, DType::F32}, options);
    c->plan_for(sizes); // {}: unsized
    return c;
}

/** The emitted variant's kernel for dense, 256-byte aligned tensors of these sizes. */
std::string chosen(const ir::Kernel &k, const ir::Extents &sizes) {
    ir::LaunchFacts f;
    f.sizes = sizes;
    for (const auto &p : k.params) {
        // Row-major strides over the tensor's first index list.
        std::vector<std::string> idx;
        ir::for_each_tensor_var_use(k.body, [&](const std::string &t, const std::vector<std::string> &i) {
            if (t == p.name && idx.empty()) idx = i;
        });
        std::vector<int64_t> strides(idx.size(), 1);
        for (std::size_t d = idx.size(); d-- > 1;) strides[d - 1] = strides[d] * sizes.at(idx[d]);
        f.strides[p.name] = strides;
        f.addresses[p.name] = 256;
    }
    return test::emitted_variant(k, f).entry(k.name);
}

using test::sh;

/** One emitted file called through its entry point at each of `cases` (sizes by variable),
 * built with the host emulation and run; each output checked against the reference. A case
 * with `refused` expects that return code instead. */
struct Case {
    ir::Extents sizes;
    int refused = 0;
};
void run_emulated(Compiled &c, const std::string &name, const std::vector<Case> &cases) {
    fs::path dir = fs::temp_directory_path() / ("einfuse_unsized_" + name + "_" + std::to_string(::getpid()));
    fs::remove_all(dir);
    fs::create_directories(dir);
    const std::string cu = emit(c, "cu", name);
    std::ofstream(dir / "kernel.cu") << cu;
    std::ofstream(dir / "kernel_emu.cu") << test::emulated_cu(cu);
    const ir::Program &p = c.program();
    struct Expected {
        std::string file;
        Tensor want;
        double tolerance;
    };
    std::vector<Expected> expected;
    std::string body;
    for (std::size_t n = 0; n < cases.size(); ++n) {
        const ir::Extents &sizes = cases[n].sizes;
        const std::string tag = "c" + std::to_string(n);
        std::vector<Tensor> inputs;
        std::string decls, ins;
        for (std::size_t i = 0; i < p.inputs.size(); ++i) {
            auto *einsum = dynamic_cast<CompiledEinsum *>(&c);
            Shape shape = einsum ? einsum->operand_shape(static_cast<int>(i), sizes)
                                 : dynamic_cast<CompiledProgram &>(c).tensor_shape(p.inputs[i].name, sizes);
            inputs.emplace_back(p.inputs[i].dtype, shape);
            inputs.back().fill_random(test::rng());
            std::string tensor;
            decls += test::device_tensor_lines(inputs.back(), (dir / (tag + "_in" + std::to_string(i) + ".bin")).string(),
                                               tag + "_in" + std::to_string(i), "        ", &tensor);
            ins += (ins.empty() ? "" : ", ") + tensor;
        }
        Tensor want = c.reference(test::pointers(inputs), sizes).front();
        const std::string out_file = (dir / (tag + "_out.bin")).string();
        const std::size_t out_bytes = static_cast<std::size_t>(want.size()) * dtype_size(p.outputs[0].dtype);
        std::string out_tensor;
        decls += test::device_tensor_lines(want, "", "out_data", "        ", &out_tensor);
        std::string list;
        for (const auto &v : p.index_vars) list += (list.empty() ? "" : ", ") + std::to_string(sizes.at(v));
        const std::string nv = std::to_string(p.index_vars.size()), ni = std::to_string(p.inputs.size());
        body += "    {\n" + decls + "        const int64_t sizes[] = {" + list + "};\n";
        body += "        einfuse_tensor in[] = {" + ins + "};\n";
        body += "        einfuse_tensor out = " + out_tensor + ";\n";
        body += "        size_t bytes = 0; void *workspace = NULL;\n";
        body += "        int rc = " + name + "_workspace_bytes(sizes, " + nv + ", &bytes);\n";
        body += "        if (rc == 0 && bytes > 0 && cudaMalloc(&workspace, bytes) != cudaSuccess) return 21;\n";
        body += "        if (rc == 0) rc = " + name + "_launch_with_workspace(in, " + ni + ", &out, 1, sizes, " + nv +
                ", workspace, bytes, 0);\n";
        body += "        printf(\"" + tag + " %d %s\\n\", rc, " + name + "_error_string(rc));\n";
        body += "        if (rc == 0) save(\"" + out_file + "\", out_data, " + std::to_string(out_bytes) + ");\n    }\n";
        expected.push_back({out_file, std::move(want), tolerance(p.outputs[0].dtype, c.reduction_length(sizes))});
    }
    const std::string main_text = "#include <stdio.h>\n#include <stdlib.h>\n" + test::device_file_helpers() +
                                  "int main(void) {\n" + body + "    return 0;\n}\n";
    auto check_run = [&](const std::string &build, const std::string &what) {
        CAPTURE(what);
        auto [rc, printed] = test::build_then_run(build, (dir / "prog").string());
        REQUIRE_MESSAGE(rc == 0, printed);
        for (std::size_t n = 0; n < cases.size(); ++n) {
            CAPTURE(n);
            const std::string line = "c" + std::to_string(n) + " " + std::to_string(cases[n].refused) + " ";
            CHECK_MESSAGE(printed.find(line) != std::string::npos, printed);
            if (cases[n].refused) continue;
            Tensor got(DType::F32, expected[n].want.shape());
            std::ifstream(expected[n].file, std::ios::binary)
                .read(static_cast<char *>(got.data()), static_cast<std::streamsize>(got.nbytes()));
            CHECK(ir::max_relative_error(got, expected[n].want) <= expected[n].tolerance);
        }
    };
    std::ofstream(dir / "main.cpp") << "#include \"kernel_emu.cu\"\n" + main_text;
    check_run("g++ -std=c++20 -O1 -w -I/usr/local/cuda/include -I" + dir.string() + " -include " EINFUSE_SOURCE_DIR
              "/tests/CudaHostEmulation.h -x c++ -o " + (dir / "prog").string() + " " + (dir / "main.cpp").string() +
              " -pthread",
              "host emulation");
    if (fs::exists(test::kNvcc) && cuda_available()) { // the GPU machine: the same program on the device
        std::ofstream(dir / "main.cu") << "#include \"kernel.cu\"\n" + main_text;
        check_run(std::string(test::kNvcc) + " -arch=native -I" + dir.string() + " -o " + (dir / "prog").string() + " " +
                      (dir / "main.cu").string(),
                  "GPU");
    }
    fs::remove_all(dir);
}

} // namespace

TEST_CASE("unsized: bij,bjk->bik picks its size-specialised kernels by the sizes it is given") {
    auto c = compiled(kBmm, {});
    const ir::Kernel &k = c->plan().kernels.front();
    const std::string n = k.name;
    auto at = [](int64_t b, int64_t d) { return ir::Extents{{"b", b}, {"i", d}, {"j", d}, {"k", d}}; };
    CHECK(chosen(k, at(1 << 24, 2)) == n + "_at_2");        // a thread per batch element, unrolled
    CHECK(chosen(k, at(1 << 23, 3)) == n + "_at_3_staged"); // staged through shared memory
    CHECK(chosen(k, at(1 << 22, 4)) == n + "_at_4_staged");
    CHECK(chosen(k, at(1 << 20, 8)) == n + "_at_8_staged");
    CHECK(chosen(k, at(1 << 18, 16)) == n + "_at_16_staged");
    CHECK(chosen(k, at(100, 5)) == n);                       // not specialised, too small to tile: the loop nest
    CHECK(chosen(k, ir::Extents{{"b", 100}, {"i", 9}, {"j", 4}, {"k", 1}}) == n); // (B,9,4)@(B,4,1) too
    CHECK(chosen(k, at(65536, 32)) == n + "_at_32_gemm_small"); // the small dense GEMM, as sized
    CHECK(chosen(k, at(16384, 64)) == n + "_at_64_gemm_small");
    CHECK(chosen(k, at(16384, 48)) == n + "_gemm_m64");          // not specialised: the GEMM's tiles
    // "nc,nc->n": never a GEMM tile for a batched dot product, whatever c (brief case 3).
    auto dot = compiled("nc,nc->n", {});
    const ir::Kernel &d = dot->plan().kernels.front();
    CHECK(chosen(d, {{"n", 1000}, {"c", 3}}) == d.name + "_at_3");
    CHECK(chosen(d, {{"n", 1000}, {"c", 256}}) == d.name);
    CHECK(chosen(k, ir::Extents{{"b", 10}, {"i", 2}, {"j", 2}, {"k", 3}}) == n); // not all equal
    // The plan says what was emitted and why.
    std::string plan = emit(*c, "plan");
    CHECK(plan.find("specialised: for i, j, k all = 2: unrolled; 3: unrolled") != std::string::npos);
    CHECK(plan.find(n + "_at_3_staged [staged] if size(i) == 3 && size(j) == 3 && size(k) == 3 && dense(in0)") != std::string::npos);
    // The specialised small GEMM is the sized file's, whatever the batch (its code has M, N, K only).
    std::string unsized = emit(*c, "cu"), sized32 = emit(*compiled(kBmm, at(65536, 32)), "cu");
    auto body = [](const std::string &text, const std::string &kernel) {
        std::size_t at = text.find(" " + kernel + "(");
        REQUIRE(at != std::string::npos);
        std::string out = text.substr(at, text.find("\n}\n", at) - at);
        for (std::size_t p = out.find("_at_32"); p != std::string::npos; p = out.find("_at_32")) out.erase(p, 6);
        return out;
    };
    CHECK(body(unsized, n + "_at_32_gemm_small") == body(sized32, n + "_gemm_small"));
    // A specialisation's grid counts its own threads: at D=2 one per batch element, where the
    // launcher's `total` (b*i*k, the general kernel's) launched 4 times the blocks (1.43x slower).
    std::size_t launch = unsized.find("cudaLaunchKernel(" + n + "_at_2,");
    REQUIRE(launch != std::string::npos);
    std::size_t grid = unsized.rfind("const int64_t grid = ", launch);
    CHECK(unsized.substr(grid, launch - grid).find("einfuse_ceil_div(sizes[0], 256)") != std::string::npos);
    // Sized plans have no specialisations: the sizes are known.
    auto sized = compiled(kBmm, at(4096, 3));
    for (const auto &v : sized->plan().kernels.front().launch) CHECK(!v.code);
    CHECK(sized->plan().kernels.front().pinned.empty());
}

TEST_CASE("unsized: the Gaussian sum gets its tiled kernel for d = 2, 3, 4, 8, 16, and d pinned alone") {
    auto c = compiled(kGauss, {});
    const ir::Kernel &k = c->plan().kernels.front();
    CHECK(chosen(k, {{"i", 100000}, {"j", 100000}, {"d", 3}}) == k.name + "_at_3_tiled");
    CHECK(chosen(k, {{"i", 100000}, {"j", 100000}, {"d", 5}}) == k.name);
    auto pinned = compiled(kGauss, {{"d", 3}});
    const ir::Kernel &p = pinned->plan().kernels.front();
    CHECK(p.pinned == ir::Extents{{"d", 3}});
    CHECK(p.tiling.has_value());
    CHECK(chosen(p, {{"i", 100000}, {"j", 100000}, {"d", 3}}) == p.name + "_tiled");
    std::string plan = emit(*pinned, "plan");
    CHECK(plan.find("pinned: d=3") != std::string::npos);
    // The pinned size is checked by the launcher (d is also unrolled here: one check).
    std::string cu = emit(*pinned, "cu");
    CHECK(cu.find("if (err == EINFUSE_OK && sizes[2] != 3) err = EINFUSE_ERR_SIZE;") != std::string::npos);
}

TEST_CASE("unsized: a pinned size that nothing unrolls is still checked by the launcher") {
    // j pinned alone: nothing is unrolled for it, but the user fixed it.
    auto c = compiled(kBmm, {{"j", 5}});
    std::string cu = emit(*c, "cu");
    CHECK(cu.find("sizes[2] != 5) err = EINFUSE_ERR_SIZE; // j is pinned to this size") != std::string::npos);
}

TEST_CASE("unsized: the emitted files run every variant right on the CPU (host emulation)") {
    SUBCASE("bij,bjk->bik unsized: D = 2, 3, 8, 32 specialised, 5 the loop nest, 17 the GEMM tiles") {
        auto c = compiled(kBmm, {});
        run_emulated(*c, "bmm", {{{{"b", 37}, {"i", 2}, {"j", 2}, {"k", 2}}},
                                 {{{"b", 300}, {"i", 3}, {"j", 3}, {"k", 3}}},
                                 {{{"b", 33}, {"i", 8}, {"j", 8}, {"k", 8}}},
                                 {{{"b", 9}, {"i", 5}, {"j", 5}, {"k", 5}}},
                                 {{{"b", 2}, {"i", 17}, {"j", 17}, {"k", 17}}},
                                 {{{"b", 3}, {"i", 32}, {"j", 32}, {"k", 32}}}});
    }
    SUBCASE("the Gaussian sum unsized (d = 3 tiled and split, d = 5 plain) and with d pinned to 3") {
        auto c = compiled(kGauss, {});
        run_emulated(*c, "gauss", {{{{"i", 40}, {"j", 3000}, {"d", 3}}}, {{{"i", 30}, {"j", 50}, {"d", 5}}}});
        auto pinned = compiled(kGauss, {{"d", 3}});
        run_emulated(*pinned, "gauss_d3", {{{{"i", 40}, {"j", 3000}, {"d", 3}}}, {{{"i", 30}, {"j", 50}, {"d", 4}}, 5}});
    }
}
