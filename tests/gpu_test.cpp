// The CUDA backend and runtime on a real device: the hand-built bij,bjk->bik loop nest, printed,
// compiled by NVRTC for the device's arch and launched through the driver API, against a float64
// host loop on fresh random inputs. Without a device every test exits 77 (CTest: skipped).
#include "backends/cuda/CudaPrinter.h"
#include "runtime/CudaDriver.h"
#include "runtime/Nvrtc.h"
#include "support/Error.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <memory>
#include "GpuSkip.h"

#include <random>
#include <sys/wait.h>
#include <unistd.h>

using namespace einfuse;
using namespace einfuse::ir;

namespace {

using test::require_gpu;

/** parallel for b, i, k { acc = 0; for j { acc = acc + in0[b,i,j] * in1[b,j,k] } out[b,i,k] = acc } */
Kernel bmm_kernel(DType t, const std::string &name) {
    auto at = [&](const char *tensor, std::vector<std::string> idx) { return Access::make(t, tensor, std::move(idx)); };
    Expr acc = ScalarRef::make(t, "acc");
    Stmt inner = Block::make({
        DeclareScalar::make("acc", t, Const::make(t, 0)),
        For::make("j", LoopKind::Serial,
                  AssignScalar::make("acc", Binary::make(BinaryOp::Add, acc,
                                                         Binary::make(BinaryOp::Mul, at("in0", {"b", "i", "j"}),
                                                                      at("in1", {"b", "j", "k"}))))),
        Store::make("out", {"b", "i", "k"}, acc),
    });
    Kernel k;
    k.name = name;
    k.comment = "bij,bjk->bik";
    k.params = {{"in0", t, 3}, {"in1", t, 3}, {"out", t, 3}};
    k.num_inputs = 2;
    k.index_vars = {"b", "i", "j", "k"};
    k.body = For::make("b", LoopKind::Parallel,
                       For::make("i", LoopKind::Parallel, For::make("k", LoopKind::Parallel, inner)));
    return k;
}

std::mt19937_64 &rng() {
    static std::mt19937_64 r(std::random_device{}()); // fresh inputs on every run
    return r;
}

/** A strided operand: `elements` values in memory and the strides that read it as [b, x, y]. */
template <class T> struct Operand {
    std::vector<T> host;
    std::vector<int64_t> strides;
    T at(int64_t b, int64_t x, int64_t y) const { return host[b * strides[0] + x * strides[1] + y * strides[2]]; }
};

/** Random values in [-1, 1), never zeros everywhere. Layouts: row-major, "transposed" (the last
 * two dimensions swapped in memory), or "broadcast" (one matrix shared by every b, stride 0). */
template <class T> Operand<T> make_operand(int64_t nb, int64_t nx, int64_t ny, const std::string &layout) {
    Operand<T> op;
    int64_t mats = layout == "broadcast" ? 1 : nb;
    op.host.resize(mats * nx * ny);
    std::uniform_real_distribution<double> dist(-1.0, 1.0);
    for (auto &v : op.host)
        v = static_cast<T>(dist(rng()));
    if (layout == "transposed")
        op.strides = {nx * ny, 1, nx};
    else if (layout == "broadcast")
        op.strides = {0, ny, 1};
    else
        op.strides = {nx * ny, ny, 1};
    return op;
}

struct Case {
    int64_t b, i, j, k;
    const char *layout0, *layout1;
};

/** Runs the kernel on the device and returns the largest error relative to the sum of |terms|
 * (the accuracy a dot product of length j can promise), or throws. */
template <class T> double run_case(DType t, const Case &c) {
    const std::string name = "bmm_" + std::string(dtype_name(t));
    Kernel k = bmm_kernel(t, name);
    static std::map<std::string, std::unique_ptr<CudaModule>> modules; // compile each dtype once
    auto &module = modules[name];
    if (!module)
        module =
            std::make_unique<CudaModule>(cuda_cubin(cuda_backend::emit_cuda({k}, "test"), CudaContext::get().arch()));
    CudaFunction f = module->function(name);

    Operand<T> a = make_operand<T>(c.b, c.i, c.j, c.layout0);
    Operand<T> bm = make_operand<T>(c.b, c.j, c.k, c.layout1);
    // The output is padded: row stride k+1, so the kernel must honour the strides it is given.
    std::vector<int64_t> out_strides = {c.i * (c.k + 1), c.k + 1, 1};
    std::size_t out_elems = static_cast<std::size_t>(c.b * c.i * (c.k + 1));

    DeviceBuffer da(a.host.size() * sizeof(T)), db(bm.host.size() * sizeof(T)), dout(out_elems * sizeof(T));
    da.upload(a.host.data(), a.host.size() * sizeof(T));
    db.upload(bm.host.data(), bm.host.size() * sizeof(T));
    dout.zero();

    LaunchArgs args;
    args.add_pointer(da);
    for (auto s : a.strides)
        args.add_i64(s);
    args.add_pointer(db);
    for (auto s : bm.strides)
        args.add_i64(s);
    args.add_pointer(dout);
    for (auto s : out_strides)
        args.add_i64(s);
    std::vector<int64_t> extents = {c.b, c.i, c.j, c.k};
    for (auto e : extents)
        args.add_i64(e);
    auto cfg = cuda_backend::cuda_launch_config(k, extents);
    cuda_launch(f, cfg.grid, cfg.block, args.pointers());
    CudaContext::get().synchronize();

    std::vector<T> got(out_elems);
    dout.download(got.data(), out_elems * sizeof(T));
    double worst = 0;
    for (int64_t b = 0; b < c.b; ++b)
        for (int64_t i = 0; i < c.i; ++i)
            for (int64_t kk = 0; kk < c.k; ++kk) {
                double want = 0, scale = 0;
                for (int64_t j = 0; j < c.j; ++j) {
                    double term = static_cast<double>(a.at(b, i, j)) * static_cast<double>(bm.at(b, j, kk));
                    want += term;
                    scale += std::abs(term);
                }
                double g = got[b * out_strides[0] + i * out_strides[1] + kk];
                worst = std::max(worst, std::abs(g - want) / std::max(scale, std::numeric_limits<double>::min()));
            }
    return worst;
}

double tolerance(DType t, int64_t n) {
    double eps = t == DType::F64 ? std::numeric_limits<double>::epsilon() : std::numeric_limits<float>::epsilon();
    return 8.0 * eps * static_cast<double>(std::max<int64_t>(n, 1));
}

const Case kCases[] = {
    {262144, 2, 2, 2, "contiguous", "contiguous"},                                             // the seed's size
    {1000, 3, 2, 3, "contiguous", "contiguous"},   {7, 5, 300, 2, "contiguous", "contiguous"}, // a long reduction
    {512, 16, 16, 16, "transposed", "broadcast"}, // non-contiguous and stride-0 operands
    {3, 1, 1, 1, "broadcast", "transposed"},
};

} // namespace

TEST_CASE("gpu: the device and the runtime") {
    require_gpu();
    CudaContext &ctx = CudaContext::get();
    MESSAGE("device: " << ctx.name() << " (" << ctx.arch() << "), NVRTC " << nvrtc_version());
    CHECK(ctx.arch().rfind("sm_", 0) == 0);

    std::vector<float> host = {1.5f, -2.0f, 3.25f, 4.0f}, back(4, 7.0f);
    DeviceBuffer buf(host.size() * sizeof(float));
    buf.upload(host.data(), host.size() * sizeof(float));
    buf.download(back.data(), back.size() * sizeof(float));
    CHECK(back == host);
    buf.zero();
    buf.download(back.data(), back.size() * sizeof(float));
    CHECK(back == std::vector<float>(4, 0.0f));

    CudaModule m(cuda_cubin(cuda_backend::emit_cuda({bmm_kernel(DType::F32, "bmm_probe")}, "test"), ctx.arch()));
    CHECK_THROWS_AS(m.function("no_such_kernel"), TargetError);
}

TEST_CASE("gpu: bij,bjk->bik f32 against a float64 host loop") {
    require_gpu();
    for (const auto &c : kCases) {
        CAPTURE(c.b);
        CAPTURE(c.i);
        CAPTURE(c.j);
        CAPTURE(c.k);
        CAPTURE(std::string(c.layout0));
        CAPTURE(std::string(c.layout1));
        CHECK(run_case<float>(DType::F32, c) <= tolerance(DType::F32, c.j));
    }
}

TEST_CASE("gpu: bij,bjk->bik f64 against a float64 host loop") {
    require_gpu();
    for (const auto &c : kCases) {
        CAPTURE(c.b);
        CAPTURE(c.j);
        CAPTURE(std::string(c.layout0));
        CAPTURE(std::string(c.layout1));
        CHECK(run_case<double>(DType::F64, c) <= tolerance(DType::F64, c.j));
    }
}

TEST_CASE("gpu: event timing of the seed's size (B=262144, D=2)") {
    require_gpu();
    Kernel k = bmm_kernel(DType::F32, "bmm_timed");
    CudaModule m(cuda_cubin(cuda_backend::emit_cuda({k}, "test"), CudaContext::get().arch()));
    const int64_t B = 262144, D = 2, n = B * D * D;
    DeviceBuffer a(n * 4), b(n * 4), out(n * 4);
    std::vector<float> host(n);
    std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
    for (auto &v : host)
        v = dist(rng());
    a.upload(host.data(), n * 4);
    b.upload(host.data(), n * 4);
    LaunchArgs args;
    for (auto *buf : {&a, &b, &out}) {
        args.add_pointer(*buf);
        for (int64_t s : {D * D, D, int64_t{1}})
            args.add_i64(s);
    }
    std::vector<int64_t> extents = {B, D, D, D};
    for (auto e : extents)
        args.add_i64(e);
    auto cfg = cuda_backend::cuda_launch_config(k, extents);
    CudaFunction f = m.function("bmm_timed");
    void **p = args.pointers();
    cuda_launch(f, cfg.grid, cfg.block, p); // warm-up
    std::vector<double> us;
    for (int r = 0; r < 20; ++r)
        us.push_back(1000.0 * cuda_time_ms([&] { cuda_launch(f, cfg.grid, cfg.block, p); }));
    std::sort(us.begin(), us.end());
    MESSAGE("bmm f32 B=262144 D=2: median " << us[us.size() / 2] << " us (naive loop nest; 12 MB moved)");
    CHECK(us.front() > 0);
}

TEST_CASE("gpu: the emitted .cu's own launcher, built by nvcc, computes bij,bjk->bik") {
    require_gpu();
    const char *nvcc = "/usr/local/cuda/bin/nvcc";
    if (!std::filesystem::exists(nvcc)) {
        MESSAGE("skipped: no " << nvcc);
        return;
    }
    // A host program in plain CUDA runtime code, as a user of the standalone file would write it:
    // a broadcast in1 (stride 0 over b), a padded output, a check in double, exit 0 on success.
    auto dir = std::filesystem::temp_directory_path() / ("einfuse_gpu_" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    std::ofstream(dir / "bmm.cu") << cuda_backend::emit_cuda({bmm_kernel(DType::F32, "bmm_f32")}, "test");
    std::ofstream(dir / "main.cu") << R"(#include "bmm.cu"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
int main() {
    const int64_t B = 100003, I = 3, J = 5, K = 2, KP = K + 1;
    size_t na = B * I * J, nb = J * K, no = B * I * KP;
    float *a = (float *)malloc(na * 4), *b = (float *)malloc(nb * 4), *o = (float *)malloc(no * 4);
    srand(12345);
    for (size_t x = 0; x < na; ++x) a[x] = rand() / (float)RAND_MAX - 0.5f;
    for (size_t x = 0; x < nb; ++x) b[x] = rand() / (float)RAND_MAX - 0.5f;
    float *da, *db, *dout;
    cudaMalloc(&da, na * 4); cudaMalloc(&db, nb * 4); cudaMalloc(&dout, no * 4);
    cudaMemcpy(da, a, na * 4, cudaMemcpyHostToDevice);
    cudaMemcpy(db, b, nb * 4, cudaMemcpyHostToDevice);
    int64_t sa[3] = {B, I, J}, ta[3] = {I * J, J, 1}, sb[3] = {1, J, K}, tb[3] = {0, K, 1};
    int64_t so[3] = {B, I, K}, to[3] = {I * KP, KP, 1}, sizes[4] = {B, I, J, K};
    einfuse_tensor in[2] = {{da, 3, sa, ta}, {db, 3, sb, tb}}, out = {dout, 3, so, to};
    int rc = bmm_f32_launch(in, 2, &out, sizes, 4, 0);
    if (rc != EINFUSE_OK || cudaDeviceSynchronize() != cudaSuccess) { printf("launch: %d\n", rc); return 1; }
    cudaMemcpy(o, dout, no * 4, cudaMemcpyDeviceToHost);
    double worst = 0;
    for (int64_t x = 0; x < B; ++x)
        for (int64_t i = 0; i < I; ++i)
            for (int64_t k = 0; k < K; ++k) {
                double want = 0, scale = 0;
                for (int64_t j = 0; j < J; ++j) {
                    double t = (double)a[(x * I + i) * J + j] * b[j * K + k];
                    want += t; scale += fabs(t);
                }
                double err = fabs(o[x * I * KP + i * KP + k] - want) / (scale > 0 ? scale : 1);
                if (err > worst) worst = err;
            }
    printf("max error %g\n", worst);
    return worst <= 8 * 1.2e-7 * J ? 0 : 2;
}
)";
    std::string cmd = "cd " + dir.string() + " && " + nvcc + " -arch=native -o check main.cu 2>&1 && ./check 2>&1";
    FILE *p = ::popen(cmd.c_str(), "r");
    REQUIRE(p != nullptr);
    std::string out;
    char buf[4096];
    while (std::size_t n = std::fread(buf, 1, sizeof buf, p))
        out.append(buf, n);
    int status = ::pclose(p);
    CHECK_MESSAGE((WIFEXITED(status) && WEXITSTATUS(status) == 0), out);
}
