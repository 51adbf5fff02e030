// Emitted files as parts of one program (issue 17 item 3): files of different expressions, and of
// one einsum at two sizes, named apart with --name, compile with nvcc -c and link together with a
// main that includes their headers (--emit h); the entry points run on the CPU through the host
// emulation (tests/CudaHostEmulation.h), with a temporary and a split reduction in the caller's
// workspace, against the float64 reference. No GPU needed.
#include "exec/Compiled.h"
#include "frontend/Program.h"
#include "ir/Reference.h"
#include "runtime/CudaDriver.h"

#include "StandaloneCu.h"
#include "TestUtil.h"

#include <doctest/doctest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <sys/wait.h>
#include <unistd.h>

using namespace einfuse;
namespace fs = std::filesystem;

namespace {

using test::sh;

fs::path fresh_dir(const std::string &what) {
    fs::path dir = fs::temp_directory_path() / ("einfuse_link_" + what + "_" + std::to_string(::getpid()));
    fs::remove_all(dir);
    fs::create_directories(dir);
    return dir;
}

std::unique_ptr<Compiled> compiled(const std::string &expr, const ir::Extents &sizes) {
    std::unique_ptr<Compiled> c;
    CompileOptions options{Target::Cuda, "sm_90", 0};
    if (frontend::is_program(expr)) c = std::make_unique<CompiledProgram>(expr, std::map<std::string, DType>{}, options);
    else c = std::make_unique<CompiledEinsum>(expr, std::vector<DType>{DType::F32, DType::F32}, options);
    if (!sizes.empty()) c->plan_for(sizes);
    return c;
}

struct Unit {
    const char *name;
    const char *expr;
    ir::Extents sizes;
};

} // namespace

TEST_CASE("link: sum and max of one shape, and bmm at D=2 and D=3, named apart, link into one program") {
    const Unit units[] = {
        {"rowsum", "out[i] = sum[j](A[i,j] * x[j])", {}},
        {"rowmax", "out[i] = max[j](A[i,j] * x[j])", {}},
        {"bmm2", "bij,bjk->bik", {{"b", 1000}, {"i", 2}, {"j", 2}, {"k", 2}}},
        {"bmm3", "bij,bjk->bik", {{"b", 1000}, {"i", 3}, {"j", 3}, {"k", 3}}},
    };
    // Without --name the clash the issue reports: both export einfuse_out_launch.
    CHECK(emit(*compiled(units[0].expr, {}), "cu").find("int einfuse_out_launch(") != std::string::npos);
    CHECK(emit(*compiled(units[1].expr, {}), "cu").find("int einfuse_out_launch(") != std::string::npos);
    CHECK(emit(*compiled(units[2].expr, units[2].sizes), "cu").find("int einfuse_bij_bjk_to_bik_launch(") !=
          std::string::npos);

    if (!fs::exists(test::kNvcc)) {
        MESSAGE("skipped: no " << test::kNvcc);
        return;
    }
    fs::path dir = fresh_dir("nvcc");
    std::string main = "#include <stdio.h>\n#include <string.h>\n";
    std::string body, objects;
    for (const auto &u : units) {
        auto c = compiled(u.expr, u.sizes);
        std::string cu = emit(*c, "cu", u.name), h = emit(*c, "h", u.name);
        std::ofstream(dir / (std::string(u.name) + ".cu")) << cu;
        std::ofstream(dir / (std::string(u.name) + ".h")) << h;
        CHECK(h.find("#ifndef " + [&] {
                  std::string g;
                  for (char ch : std::string(u.name)) g += static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
                  return g + "_H";
              }()) != std::string::npos);
        CHECK(cu.find("einfuse_out") == std::string::npos);
        main += "#include \"" + std::string(u.name) + ".h\"\n";
        const std::string n = u.name;
        std::vector<int64_t> sizes;
        for (const auto &v : c->plan().program.index_vars) sizes.push_back(u.sizes.count(v) ? u.sizes.at(v) : 7);
        std::string list;
        for (auto s : sizes) list += (list.empty() ? "" : ", ") + std::to_string(s);
        // The host half of every entry point: queries and argument checks, which return before
        // any CUDA call (so the program runs without a GPU).
        body += "    {\n        const int64_t sizes[] = {" + list + "};\n        size_t bytes = 1;\n";
        body += "        if (" + n + "_workspace_bytes(sizes, " + std::to_string(sizes.size()) +
                ", &bytes) != EINFUSE_OK) return 10;\n";
        body += "        printf(\"" + n + " %zu\\n\", bytes);\n";
        body += "        if (" + n + "_launch_with_workspace(NULL, " + std::to_string(c->plan().program.inputs.size()) +
                ", NULL, 1, sizes, " + std::to_string(sizes.size()) + ", NULL, 0, 0) != EINFUSE_ERR_NULL_POINTER) return 11;\n";
        body += "        if (" + n + "_workspace_bytes(sizes, 1, &bytes) != EINFUSE_ERR_ARG_COUNT) return 12;\n";
        body += "        if (strstr(" + n + "_error_string(EINFUSE_ERR_WORKSPACE), \"workspace\") == NULL) return 13;\n";
        body += "    }\n";

        auto [rc, out] = sh(std::string(test::kNvcc) + " -arch=sm_90 -c " + (dir / (n + ".cu")).string() + " -o " +
                            (dir / (n + ".o")).string());
        REQUIRE_MESSAGE(rc == 0, out);
        CHECK_MESSAGE(out.find("warning") == std::string::npos, out);
        objects += " " + (dir / (n + ".o")).string();
        // Every symbol the object defines for others is the file's own (named, or a device stub
        // of a named kernel), or a weak one every emitted file defines alike (inline helpers).
        auto [nm_rc, symbols] = sh("nm -g --defined-only " + (dir / (n + ".o")).string());
        REQUIRE(nm_rc == 0);
        std::istringstream lines(symbols);
        for (std::string line; std::getline(lines, line);) {
            std::istringstream f(line);
            std::string address, type, symbol;
            f >> address >> type >> symbol;
            if (type == "W" || type == "V") continue;
            CAPTURE(symbol);
            CHECK(symbol.find(n + "_") != std::string::npos);
        }
    }
    main += "int main(void) {\n" + body + "    return 0;\n}\n";
    std::ofstream(dir / "main.cu") << main;
    auto [rc, out] = sh(std::string(test::kNvcc) + " -arch=sm_90 -I" + dir.string() + " " + (dir / "main.cu").string() +
                        objects + " -o " + (dir / "prog").string());
    REQUIRE_MESSAGE(rc == 0, out);
    auto [run_rc, printed] = sh((dir / "prog").string());
    CHECK_MESSAGE(run_rc == 0, printed);
    CHECK(printed.find("rowsum 0\n") != std::string::npos); // nothing to keep between kernels
    CHECK(printed.find("bmm3 0\n") != std::string::npos);
    fs::remove_all(dir);
}

TEST_CASE("link: entry points on the CPU (host emulation): a temporary and split-reduction parts in the workspace") {
    const Unit units[] = {
        // n is materialised: a temporary between the two kernels.
        {"cosine", "n[i] = sqrt(sum[d](x[i,d]^2)); s[i,j] = sum[d](x[i,d]*x[j,d]) / (n[i]*n[j])",
         {{"i", 37}, {"d", 5}, {"j", 37}}},
        // A small output and a long reduction: the tiled kernel splits j, parts in the workspace.
        {"gauss", "out[i] = sum[j](exp(-sum[d]((x[i,d] - y[j,d])^2)) * w[j])", {{"i", 300}, {"j", 5000}, {"d", 3}}},
    };
    fs::path dir = fresh_dir("emulated");
    std::vector<std::string> names;
    std::string body;
    struct Expected {
        std::string file;
        Tensor want;
        double tolerance;
    };
    std::vector<Expected> expected;
    std::vector<std::unique_ptr<Compiled>> keep;
    for (const auto &u : units) {
        auto c = compiled(u.expr, u.sizes);
        const std::string n = u.name;
        std::string cu = emit(*c, "cu", n);
        std::ofstream(dir / (n + ".cu")) << cu;
        std::ofstream(dir / (n + "_emu.cu")) << test::emulated_cu(cu);
        names.push_back(n);
        const ir::Program &p = c->plan().program;
        auto *program = dynamic_cast<CompiledProgram *>(c.get());
        REQUIRE(program != nullptr);
        std::vector<Tensor> inputs;
        std::string decls, ins;
        for (std::size_t i = 0; i < p.inputs.size(); ++i) {
            inputs.emplace_back(p.inputs[i].dtype, program->tensor_shape(p.inputs[i].name, u.sizes));
            inputs.back().fill_random(test::rng());
            std::string tensor;
            decls += test::device_tensor_lines(inputs.back(), (dir / (n + "_in" + std::to_string(i) + ".bin")).string(),
                                               n + "_in" + std::to_string(i), "    ", &tensor);
            ins += (ins.empty() ? "" : ", ") + tensor;
        }
        REQUIRE(p.outputs.size() == 1);
        Tensor want = c->reference(test::pointers(inputs), u.sizes).front();
        const std::string out_file = (dir / (n + "_out.bin")).string(), o = n + "_out";
        decls += "    int64_t " + o + "_shape[] = {" + test::int64_list(want.shape()) + "}, " + o + "_strides[] = {" +
                 test::int64_list(want.strides()) + "};\n";
        const std::size_t out_bytes = static_cast<std::size_t>(want.size()) * dtype_size(p.outputs[0].dtype);
        decls += "    void *" + o + " = load(NULL, " + std::to_string(out_bytes) + ");\n";
        std::string sizes;
        for (const auto &v : p.index_vars) sizes += (sizes.empty() ? "" : ", ") + std::to_string(u.sizes.at(v));
        body += "    {\n" + decls;
        body += "        const int64_t sizes[] = {" + sizes + "};\n";
        body += "        einfuse_tensor in[] = {" + ins + "};\n";
        body += "        einfuse_tensor out = {" + o + ", " + std::to_string(want.rank()) + ", " + o + "_shape, " + o + "_strides};\n";
        body += "        size_t bytes = 0;\n        void *workspace = NULL;\n";
        body += "        if (" + n + "_workspace_bytes(sizes, " + std::to_string(p.index_vars.size()) + ", &bytes) != 0) return 20;\n";
        body += "        printf(\"" + n + " workspace %zu\\n\", bytes);\n";
        body += "        if (bytes > 0 && cudaMalloc(&workspace, bytes) != cudaSuccess) return 21;\n";
        body += "        if (bytes > 0 && " + n + "_launch_with_workspace(in, " + std::to_string(p.inputs.size()) +
                ", &out, 1, sizes, " + std::to_string(p.index_vars.size()) +
                ", workspace, bytes - 1, 0) != EINFUSE_ERR_WORKSPACE) return 22;\n";
        body += "        int rc = " + n + "_launch_with_workspace(in, " + std::to_string(p.inputs.size()) + ", &out, 1, sizes, " +
                std::to_string(p.index_vars.size()) + ", workspace, bytes, 0);\n";
        body += "        if (rc != EINFUSE_OK) { printf(\"%s\\n\", " + n + "_error_string(rc)); return 23; }\n";
        body += "        save(\"" + out_file + "\", " + o + ", " + std::to_string(out_bytes) + ");\n    }\n";
        expected.push_back({out_file, std::move(want), tolerance(p.outputs[0].dtype, c->reduction_length(u.sizes))});
        keep.push_back(std::move(c));
    }
    // One program, built twice: on the CPU through the host emulation, and with nvcc for a GPU
    // where there is one (the gpu-check script's machine).
    auto includes = [&](const std::string &suffix) {
        std::string out = "#include <stdio.h>\n#include <stdlib.h>\n";
        for (const auto &n : names) out += "#include \"" + n + suffix + "\"\n";
        return out;
    };
    const std::string helpers = test::device_file_helpers() + "int main(void) {\n" + body + "    return 0;\n}\n";
    auto check_run = [&](const std::string &build, const std::string &what) {
        CAPTURE(what);
        auto [rc, printed] = test::build_then_run(build, (dir / "prog").string());
        REQUIRE_MESSAGE(rc == 0, printed);
        MESSAGE(what << ": " << printed);
        // The cosine's temporary n (37 floats, one 256-byte slot); the Gaussian sum's parts.
        CHECK(printed.find("cosine workspace 256\n") != std::string::npos);
        CHECK(printed.find("gauss workspace 0\n") == std::string::npos);
        for (const auto &e : expected) {
            CAPTURE(e.file);
            Tensor got(DType::F32, e.want.shape());
            std::ifstream(e.file, std::ios::binary).read(static_cast<char *>(got.data()), static_cast<std::streamsize>(got.nbytes()));
            CHECK(ir::max_relative_error(got, e.want) <= e.tolerance);
        }
    };
    std::ofstream(dir / "main.cpp") << includes("_emu.cu") + helpers;
    check_run("g++ -std=c++20 -O1 -w -I/usr/local/cuda/include -I" + dir.string() + " -include " EINFUSE_SOURCE_DIR
              "/tests/CudaHostEmulation.h -x c++ -o " + (dir / "prog").string() + " " + (dir / "main.cpp").string() + " -pthread",
              "host emulation");
    if (fs::exists(test::kNvcc)) {
        std::ofstream(dir / "main.cu") << includes(".cu") + helpers;
        const bool gpu = cuda_available();
        const std::string build = std::string(test::kNvcc) + (gpu ? " -arch=native" : " -arch=sm_90") + " -I" +
                                  dir.string() + " -o " + (dir / "prog").string() + " " + (dir / "main.cu").string();
        if (gpu) {
            check_run(build, "GPU");
        } else { // built, not run
            auto [rc, out] = sh(build);
            CHECK_MESSAGE(rc == 0, out);
            MESSAGE("the GPU program is built; not run: no CUDA device");
        }
    }
    fs::remove_all(dir);
}
