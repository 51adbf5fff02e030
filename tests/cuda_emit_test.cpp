// The CUDA printer's text: pinned by golden files, compiled by nvcc and NVRTC (no GPU needed),
// and the emitted launcher's argument checks run on the host (they fail before any CUDA call).
#include "backends/cuda/CudaPrinter.h"
#include "runtime/Nvrtc.h"
#include "support/Error.h"

#include <doctest/doctest.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>
#include <sys/wait.h>
#include <unistd.h>

using namespace einfuse;
using namespace einfuse::ir;
namespace fs = std::filesystem;

namespace {

const char *const kNvcc = "/usr/local/cuda/bin/nvcc";

std::string source_dir() {
    const char *env = std::getenv("EINFUSE_SOURCE_DIR"); // the GPU machine's checkout may move
    return env ? env : EINFUSE_SOURCE_DIR;
}

/** parallel for b, i, k { acc = 0; for j { acc = acc + in0[b,i,j] * in1[b,j,k] } out[b,i,k] = acc }
 * with tensors of type `storage` and arithmetic in `compute`, as the frontend builds it: an f16
 * bmm reads Cast(f32, in0[b,i,j]), accumulates in f32 and stores Cast(f16, acc). */
Kernel bmm_kernel(DType storage, DType compute, const std::string &name) {
    auto at = [&](const char *tensor, std::vector<std::string> idx) {
        return Cast::make(compute, Access::make(storage, tensor, std::move(idx)));
    };
    Expr acc = ScalarRef::make(compute, "acc");
    Stmt inner = Block::make({
        DeclareScalar::make("acc", compute, Const::make(compute, 0)),
        For::make("j", LoopKind::Serial,
                  AssignScalar::make("acc", Binary::make(BinaryOp::Add, acc,
                                                         Binary::make(BinaryOp::Mul, at("in0", {"b", "i", "j"}),
                                                                      at("in1", {"b", "j", "k"}))))),
        Store::make("out", {"b", "i", "k"}, Cast::make(storage, acc)),
    });
    Kernel k;
    k.name = name;
    k.comment = "bij,bjk->bik";
    k.params = {{"in0", storage, 3}, {"in1", storage, 3}, {"out", storage, 3}};
    k.num_inputs = 2;
    k.index_vars = {"b", "i", "j", "k"};
    k.body = For::make("b", LoopKind::Parallel,
                       For::make("i", LoopKind::Parallel, For::make("k", LoopKind::Parallel, inner)));
    return k;
}
Kernel bmm_kernel(DType t, const std::string &name) { return bmm_kernel(t, t, name); }

/** out[i] = Cast(to, in0[i]): one kernel per conversion. */
Kernel cast_kernel(DType from, DType to) {
    Kernel k;
    k.name = "cast_" + std::string(dtype_name(from)) + "_" + std::string(dtype_name(to));
    k.comment = "out[i] = " + std::string(dtype_name(to)) + "(in0[i])";
    k.params = {{"in0", from, 1}, {"out", to, 1}};
    k.num_inputs = 1;
    k.index_vars = {"i"};
    k.body =
        For::make("i", LoopKind::Parallel, Store::make("out", {"i"}, Cast::make(to, Access::make(from, "in0", {"i"}))));
    return k;
}

const DType kAllTypes[] = {DType::F16, DType::BF16, DType::F32, DType::F64, DType::I32, DType::I64};

std::string read_file(const fs::path &p) {
    std::ifstream in(p, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

void write_file(const fs::path &p, const std::string &text) { std::ofstream(p, std::ios::binary) << text; }

fs::path temp_dir() {
    fs::path dir = fs::temp_directory_path() / ("einfuse_emit_" + std::to_string(::getpid()));
    fs::create_directories(dir);
    return dir;
}

/** stdout and stderr of a shell command, and its exit status. */
std::pair<int, std::string> run_command(const std::string &cmd) {
    std::string out;
    FILE *p = ::popen((cmd + " 2>&1").c_str(), "r");
    if (!p) return {-1, "popen failed"};
    char buf[4096];
    while (std::size_t n = std::fread(buf, 1, sizeof buf, p))
        out.append(buf, n);
    int status = ::pclose(p);
    return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

std::vector<fs::path> golden_cu_files() {
    std::vector<fs::path> files;
    for (const auto &e : fs::directory_iterator(source_dir() + "/tests/golden"))
        if (e.path().extension() == ".cu") files.push_back(e.path());
    return files;
}

} // namespace

TEST_CASE("golden: bij,bjk->bik in f32, f16 (f32 accumulation) and i64 as tests/golden/bmm_*.cu") {
    struct Row {
        const char *name;
        DType storage, compute;
    };
    const Row rows[] = {
        {"bmm_f32", DType::F32, DType::F32}, {"bmm_f16", DType::F16, DType::F32}, {"bmm_i64", DType::I64, DType::I64}};
    for (const auto &row : rows) {
        CAPTURE(row.name);
        std::string text = cuda_backend::emit_cuda({bmm_kernel(row.storage, row.compute, row.name)}, "0.1.0");
        fs::path golden = source_dir() + "/tests/golden/" + row.name + ".cu";
        if (const char *u = std::getenv("EINFUSE_UPDATE_GOLDEN"); u && std::string(u) == "1") {
            fs::create_directories(golden.parent_path());
            write_file(golden, text);
            MESSAGE("updated " << golden.string());
        }
        std::string want = read_file(golden);
        if (text != want) {
            fs::path got = temp_dir() / (std::string(row.name) + ".cu");
            write_file(got, text);
            FAIL_CHECK("emitted text differs from the golden; see: diff -u "
                       << golden.string() << " " << got.string() << "  (EINFUSE_UPDATE_GOLDEN=1 rewrites it)");
        }
        CHECK(text.rfind("// Generated by einfuse 0.1.0. Do not edit.\n", 0) == 0);
        // The f16 headers only where f16 is used; the wrapping helpers only for integers.
        CHECK((text.find("#include <cuda_fp16.h>") != std::string::npos) == (row.storage == DType::F16));
        CHECK((text.find("einfuse_wrap_add(") != std::string::npos) == (row.storage == DType::I64));
    }
}

TEST_CASE("golden: every golden .cu compiles with nvcc -arch=sm_90 -c") {
    if (!fs::exists(kNvcc)) {
        MESSAGE("skipped: no " << kNvcc);
        return;
    }
    for (const auto &file : golden_cu_files()) {
        CAPTURE(file.string());
        auto [rc, out] = run_command(std::string(kNvcc) + " -arch=sm_90 -c " + file.string() + " -o " +
                                     (temp_dir() / (file.stem().string() + ".o")).string());
        CHECK_MESSAGE(rc == 0, out);
        CHECK_MESSAGE(out.find("warning") == std::string::npos, out); // emitted code compiles cleanly
    }
}

TEST_CASE("golden: every golden .cu compiles with NVRTC, kernels only") {
    for (const auto &file : golden_cu_files()) {
        CAPTURE(file.string());
        std::string text = read_file(file);
        CHECK(!cuda_cubin(text, "sm_90").empty());
        std::string ptx = cuda_ptx(text, "sm_90");
        CHECK(ptx.find(".entry " + file.stem().string()) != std::string::npos);
    }
}

TEST_CASE("emit: unusual kernels compile with NVRTC") {
    SUBCASE("f64, max, min, constants, a scalar output with no parallel loop") {
        // out[] = max over i of min(in0[i,i] - 2.5, inf): "ii->" with a twist
        DType t = DType::F64;
        Expr m = ScalarRef::make(t, "m");
        const double inf = std::numeric_limits<double>::infinity();
        Expr diag = Access::make(t, "in0", {"i", "i"});
        Expr v =
            Binary::make(BinaryOp::Min, Binary::make(BinaryOp::Sub, diag, Const::make(t, 2.5)), Const::make(t, inf));
        Kernel k;
        k.name = "diag_max";
        k.comment = "m[] = max[i](min(in0[i,i] - 2.5, inf))\nsecond line \\";
        k.params = {{"in0", t, 2}, {"m", t, 0}};
        k.num_inputs = 1;
        k.index_vars = {"i"};
        k.body =
            Block::make({DeclareScalar::make("m", t, Const::make(t, -inf)),
                         For::make("i", LoopKind::Serial, AssignScalar::make("m", Binary::make(BinaryOp::Max, m, v))),
                         Store::make("m", std::vector<std::string>{}, m)});
        std::string text = cuda_backend::emit_cuda({k}, "test");
        CHECK(text.find("fmax(") != std::string::npos);
        CHECK(text.find("const long long total = 1;") != std::string::npos);
        CHECK(text.find("static const int in0_dims[] = {0, 0}; // i, i") != std::string::npos);
        CHECK(!cuda_cubin(text, "sm_90").empty());
    }
    SUBCASE("names that are C keywords or collide with generated ones") {
        DType t = DType::F32;
        Kernel k;
        k.name = "weird";
        k.comment = "int[int, n_int] = float[int, n_int] * 0.5";
        k.params = {{"float", t, 2}, {"int", t, 2}};
        k.num_inputs = 1;
        k.index_vars = {"int", "n_int"};
        Expr x = Binary::make(BinaryOp::Mul, Access::make(t, "float", {"int", "n_int"}), Const::make(t, 0.5));
        k.body = For::make("int", LoopKind::Parallel,
                           For::make("n_int", LoopKind::Parallel, Store::make("int", {"int", "n_int"}, x)));
        std::string text = cuda_backend::emit_cuda({k}, "test");
        CHECK(text.find("0.5f") != std::string::npos);
        CHECK(!cuda_cubin(text, "sm_90").empty());
    }
}

TEST_CASE("emit: every conversion between the six element types compiles with NVRTC and nvcc") {
    std::vector<Kernel> kernels;
    for (DType from : kAllTypes)
        for (DType to : kAllTypes)
            if (from != to) kernels.push_back(cast_kernel(from, to));
    std::string text = cuda_backend::emit_cuda(kernels, "test");
    CHECK(text.find("out[i * out_s0] = __float2half_rn(__bfloat162float(in0[i * in0_s0]));") != std::string::npos);
    CHECK(text.find("out[i * out_s0] = __double2int_rz(in0[i * in0_s0]);") != std::string::npos);
    CHECK(text.find("out[i * out_s0] = (int)in0[i * in0_s0];") != std::string::npos);
    CHECK(text.find("//   inputs: in0[i] bf16 (__nv_bfloat16)") != std::string::npos);
    std::string ptx = cuda_ptx(text, "sm_90");
    CHECK(ptx.find(".entry cast_i64_f16") != std::string::npos);
    if (fs::exists(kNvcc)) { // the launchers cast data to every element type: the host side too
        fs::path dir = temp_dir();
        write_file(dir / "casts.cu", text);
        auto [rc, out] = run_command(std::string(kNvcc) + " -arch=sm_90 -c " + (dir / "casts.cu").string() + " -o " +
                                     (dir / "casts.o").string());
        CHECK_MESSAGE(rc == 0, out);
        CHECK_MESSAGE(out.find("warning") == std::string::npos, out);
    }
}

TEST_CASE("emit: integer and half-precision corners") {
    const double inf = std::numeric_limits<double>::infinity();
    SUBCASE("i32/i64: max/min identities, most negative constants, wrapping ops, a C cast of an infix sum") {
        // m[] = max over i of min(in0[i] - 3, +inf) for i32; s[] = min over i of (i64(in0[i]) * -2^63)
        Expr x = Access::make(DType::I32, "in0", {"i"});
        Expr m = ScalarRef::make(DType::I32, "m"), s = ScalarRef::make(DType::I64, "s");
        Expr v = Binary::make(BinaryOp::Min, Binary::make(BinaryOp::Sub, x, Const::make(DType::I32, 3)),
                              Const::make(DType::I32, inf));
        Expr w =
            Binary::make(BinaryOp::Mul, Cast::make(DType::I64, x), Const::make(DType::I64, -9223372036854775808.0));
        Expr f = Access::make(DType::F32, "in1", {"i"});
        Kernel k;
        k.name = "int_corners";
        k.params = {{"in0", DType::I32, 1},
                    {"in1", DType::F32, 1},
                    {"mo", DType::I32, 0},
                    {"so", DType::I64, 0},
                    {"d", DType::F64, 1}};
        k.num_inputs = 2;
        k.index_vars = {"i"};
        k.body = Block::make({
            DeclareScalar::make("m", DType::I32, Const::make(DType::I32, -inf)),
            DeclareScalar::make("s", DType::I64, Const::make(DType::I64, inf)),
            For::make(
                "i", LoopKind::Serial,
                Block::make({AssignScalar::make("m", Binary::make(BinaryOp::Max, m, v)),
                             AssignScalar::make("s", Binary::make(BinaryOp::Min, s, w)),
                             Store::make("d", {"i"}, Cast::make(DType::F64, Binary::make(BinaryOp::Add, f, f)))})),
            Store::make("mo", std::vector<std::string>{}, m),
            Store::make("so", std::vector<std::string>{}, s),
        });
        std::string text = cuda_backend::emit_cuda({k}, "test");
        CHECK(text.find("int m = (-2147483647 - 1);") != std::string::npos);
        CHECK(text.find("long long s = 9223372036854775807LL;") != std::string::npos);
        CHECK(text.find("max(m, min(einfuse_wrap_sub(in0[i * in0_s0], 3), 2147483647))") != std::string::npos);
        CHECK(text.find("einfuse_wrap_mul((long long)in0[i * in0_s0], (-9223372036854775807LL - 1))") !=
              std::string::npos);
        CHECK(text.find("(double)(in1[i * in1_s0] + in1[i * in1_s0])") != std::string::npos);
        CHECK(text.find("cuda_fp16.h") == std::string::npos);
        CHECK(!cuda_cubin(text, "sm_90").empty());
    }
    SUBCASE("f16/bf16 scalars and constants") {
        Kernel k;
        k.name = "half_consts";
        k.params = {{"h", DType::F16, 1}, {"g", DType::BF16, 1}};
        k.num_inputs = 0;
        k.index_vars = {"i"};
        k.body = For::make("i", LoopKind::Parallel,
                           Block::make({DeclareScalar::make("t", DType::F16, Const::make(DType::F16, -inf)),
                                        Store::make("h", {"i"}, ScalarRef::make(DType::F16, "t")),
                                        Store::make("g", {"i"}, Const::make(DType::BF16, 0.5))}));
        std::string text = cuda_backend::emit_cuda({k}, "test");
        CHECK(text.find("__half t = __double2half((-__longlong_as_double(0x7ff0000000000000LL)));") !=
              std::string::npos);
        CHECK(text.find("g[i * g_s0] = __double2bfloat16(0.5);") != std::string::npos);
        CHECK(text.find("#include <cuda_bf16.h>") != std::string::npos);
        CHECK(!cuda_cubin(text, "sm_90").empty());
    }
    SUBCASE("what the frontend never produces is an internal error, not wrong code") {
        auto kernel_of = [](Expr value) {
            Kernel k;
            k.name = "bad";
            k.params = {{"in0", value.type(), 1}, {"out", value.type(), 1}};
            k.num_inputs = 1;
            k.index_vars = {"i"};
            k.body = For::make("i", LoopKind::Parallel, Store::make("out", {"i"}, value));
            return k;
        };
        Expr h = Access::make(DType::F16, "in0", {"i"}), n = Access::make(DType::I64, "in0", {"i"});
        CHECK_THROWS_AS(cuda_backend::emit_cuda({kernel_of(Binary::make(BinaryOp::Add, h, h))}, "t"), InternalError);
        CHECK_THROWS_AS(cuda_backend::emit_cuda({kernel_of(Binary::make(BinaryOp::Div, n, n))}, "t"), InternalError);
        CHECK_THROWS_AS(cuda_backend::emit_cuda({kernel_of(Const::make(DType::I32, 0.5))}, "t"), InternalError);
        CHECK_THROWS_AS(cuda_backend::emit_cuda({kernel_of(Const::make(DType::I32, 3e9))}, "t"), InternalError);
    }
}

TEST_CASE("emit: the launch configuration rule") {
    Kernel k = bmm_kernel(DType::F32, "bmm");
    auto c = cuda_backend::cuda_launch_config(k, {262144, 2, 2, 2}); // b, i, j, k: 2^20 threads
    CHECK(c.block == 256);
    CHECK(c.grid == 4096);
    CHECK(cuda_backend::cuda_launch_config(k, {1 << 30, 4, 1, 4}).grid == 65535 * 8); // capped
    CHECK(cuda_backend::cuda_launch_config(k, {0, 2, 2, 2}).grid == 0);
    CHECK(cuda_backend::cuda_launch_config(k, {1, 1, 0, 1}).grid == 1); // empty sum: still writes 0
}

TEST_CASE("emit: the launcher rejects bad arguments before touching the GPU") {
    if (!fs::exists(kNvcc)) {
        MESSAGE("skipped: no " << kNvcc);
        return;
    }
    // Two emitted files in one translation unit: the shared ABI definitions are guarded.
    fs::path dir = temp_dir();
    write_file(dir / "f32.cu", cuda_backend::emit_cuda({bmm_kernel(DType::F32, "bmm_f32")}, "test"));
    write_file(dir / "f64.cu", cuda_backend::emit_cuda({bmm_kernel(DType::F64, "bmm_f64")}, "test"));
    // Integer and f16 files twice over: the wrapping helpers are guarded too.
    write_file(dir / "i32.cu", cuda_backend::emit_cuda({bmm_kernel(DType::I32, "bmm_i32")}, "test"));
    write_file(dir / "i64.cu", cuda_backend::emit_cuda({bmm_kernel(DType::I64, "bmm_i64")}, "test"));
    write_file(dir / "f16.cu", cuda_backend::emit_cuda({bmm_kernel(DType::F16, DType::F32, "bmm_f16")}, "test"));
    write_file(dir / "main.cu", R"(#include "f32.cu"
#include "f64.cu"
#include "i32.cu"
#include "i64.cu"
#include "f16.cu"
#include <stdio.h>
int main() {
    int64_t sa[3] = {5, 2, 3}, sb[3] = {5, 3, 4}, so[3] = {5, 2, 4};
    int64_t ta[3] = {6, 3, 1}, tb[3] = {12, 4, 1}, to[3] = {8, 4, 1};
    float dummy;
    einfuse_tensor in[2] = {{&dummy, 3, sa, ta}, {&dummy, 3, sb, tb}};
    einfuse_tensor out = {&dummy, 3, so, to};
    int64_t sizes[4] = {5, 2, 3, 4};
    printf("%d ", bmm_f32_launch(NULL, 2, &out, sizes, 4, 0));           // 1 null inputs
    printf("%d ", bmm_f32_launch(in, 1, &out, sizes, 4, 0));             // 2 count
    printf("%d ", bmm_f64_launch(in, 2, &out, sizes, 3, 0));             // 2 count
    printf("%d ", bmm_i64_launch(in, 3, &out, sizes, 4, 0));             // 2 count
    printf("%d ", bmm_f16_launch(in, 2, &out, sizes, 5, 0));             // 2 count
    in[1].ndim = 2; printf("%d ", bmm_f32_launch(in, 2, &out, sizes, 4, 0)); in[1].ndim = 3; // 3 ndim
    sb[1] = 4; printf("%d ", bmm_f32_launch(in, 2, &out, sizes, 4, 0)); sb[1] = 3;          // 4 shape
    sizes[2] = -1; printf("%d ", bmm_f32_launch(in, 2, &out, sizes, 4, 0)); sizes[2] = 3;   // 5 size
    to[0] = 0; printf("%d ", bmm_f32_launch(in, 2, &out, sizes, 4, 0)); to[0] = 8;         // 6 race
    out.data = NULL; printf("%d ", bmm_f32_launch(in, 2, &out, sizes, 4, 0));              // 1 null data
    sizes[0] = 0; sa[0] = sb[0] = so[0] = 0; in[0].data = NULL;
    printf("%d ", bmm_f32_launch(in, 2, &out, sizes, 4, 0));              // 0 nothing to do, no launch
    sizes[0] = 5; sa[0] = 1; ta[0] = 0; sb[0] = so[0] = 5; in[0].data = &dummy; out.data = &dummy;
    sa[0] = 1; ta[0] = 7; printf("%d\n", bmm_f32_launch(in, 2, &out, sizes, 4, 0));  // 4 size 1 needs stride 0
    return 0;
}
)");
    auto [rc, out] = run_command("cd " + dir.string() + " && " + kNvcc + " -arch=sm_90 -o check main.cu && ./check");
    CHECK_MESSAGE(rc == 0, out);
    const std::string want = "1 2 2 2 2 3 4 5 6 1 0 4\n";
    CHECK(out.substr(out.size() >= want.size() ? out.size() - want.size() : 0) == want);
}
