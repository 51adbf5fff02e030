// The CUDA backend and runtime on a real device: the hand-built bij,bjk->bik loop nest in every
// element type, printed, compiled by NVRTC for the device's arch and launched through the driver
// API, against a float64 host loop on fresh random inputs (integers: exact, wrapped like numpy).
// Without a device every test exits 77 (CTest: skipped).
#include "EmitCuda.h"
#include "GpuSkip.h"
#include "backends/cuda/CudaPrinter.h"
#include "runtime/CudaDriver.h"
#include "runtime/Nvrtc.h"
#include "support/Error.h"
#include "support/Tensor.h"

#include "BmmKernel.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <memory>

#include <random>
#include <sys/wait.h>
#include <unistd.h>

using namespace einfuse;
using namespace einfuse::ir;

namespace {

using test::require_gpu;

using test::bmm_kernel;

std::mt19937_64 &rng() {
    static std::mt19937_64 r(std::random_device{}()); // fresh inputs on every run
    return r;
}

/** A host operand read as [b, x, y]. Layouts: row-major, "transposed" (the last two dimensions
 * swapped in memory), or "broadcast" (one matrix shared by every b, stride 0). Values: uniform in
 * [-1, 1) rounded to the type, small non-zero integers for i32/i64 (Tensor::fill_random); with
 * `big`, integers whose products and sums overflow the type. */
Tensor make_operand(DType t, int64_t nb, int64_t nx, int64_t ny, const std::string &layout, bool big) {
    Shape strides = layout == "transposed"  ? Shape{nx * ny, 1, nx}
                    : layout == "broadcast" ? Shape{0, ny, 1}
                                            : Shape{nx * ny, ny, 1};
    Tensor op(t, {nb, nx, ny}, strides);
    op.fill_random(rng());
    if (big) {
        // Up to 2^30 (i32 and narrower: stored wrapped) or 2^52 (64 bits, exact in the double
        // Tensor::store takes) in magnitude; unsigned types non-negative (a negative u64 would be
        // stored as 2^64 - v, which a double cannot hold exactly).
        const int bits = dtype_bits(t) == 64 ? 52 : 30;
        std::uniform_int_distribution<int64_t> dist(is_unsigned(t) ? 0 : -(int64_t{1} << bits), int64_t{1} << bits);
        for (int64_t e = 0; e < op.storage_elements(); ++e)
            op.store(e, static_cast<double>(dist(rng())));
    }
    return op;
}

double at(const Tensor &t, int64_t b, int64_t x, int64_t y) {
    return t.load(b * t.strides()[0] + x * t.strides()[1] + y * t.strides()[2]);
}

int64_t load_i64(const Tensor &t, int64_t offset) {
    int64_t v;
    std::memcpy(&v, static_cast<const char *>(t.data()) + offset * 8, 8);
    return v;
}

struct Case {
    int64_t b, i, j, k;
    const char *layout0, *layout1;
};

/** The smallest normal number of t: below it the output's rounding error is absolute (f16
 * subnormals), so the error is measured relative to at least this much. */
double smallest_normal(DType t) {
    switch (t) {
    case DType::F16:
        return 6.103515625e-05; // 2^-14
    case DType::F64:
        return std::numeric_limits<double>::min();
    default:
        return std::numeric_limits<float>::min(); // bf16 has f32's exponent range
    }
}

/** Runs the kernel on the device against a host loop. Floats: the largest error relative to the
 * sum of |terms| (the accuracy a dot product of length j can promise). Integers: the number of
 * elements that differ from the exact result wrapped to the type's width, as numpy wraps (for
 * the small default inputs that is the float64 loop's exact value). */
double run_case(DType storage, DType compute, const Case &c, bool big = false) {
    const std::string name = "bmm_" + std::string(dtype_name(storage));
    Kernel k = bmm_kernel(storage, compute, name);
    static std::map<std::string, std::unique_ptr<CudaModule>> modules; // compile each dtype once
    auto &module = modules[name];
    if (!module)
        module =
            std::make_unique<CudaModule>(cuda_cubin(test::emit_cuda({k}, "test"), CudaContext::get().arch()));
    CudaFunction f = module->function(name);

    const std::size_t esize = dtype_size(storage);
    Tensor a = make_operand(storage, c.b, c.i, c.j, c.layout0, big);
    Tensor bm = make_operand(storage, c.b, c.j, c.k, c.layout1, big);
    // The output is padded: row stride k+1, so the kernel must honour the strides it is given.
    Tensor got(storage, {c.b, c.i, c.k}, {c.i * (c.k + 1), c.k + 1, 1});

    DeviceBuffer da(a.storage_elements() * esize), db(bm.storage_elements() * esize),
        dout(got.storage_elements() * esize);
    da.upload(a.data(), a.storage_elements() * esize);
    db.upload(bm.data(), bm.storage_elements() * esize);
    dout.zero();

    LaunchArgs args;
    for (auto [buf, t] : {std::pair<DeviceBuffer *, const Tensor *>{&da, &a}, {&db, &bm}, {&dout, &got}}) {
        args.add_pointer(*buf);
        for (auto s : t->strides())
            args.add_i64(s);
    }
    std::vector<int64_t> extents = {c.b, c.i, c.j, c.k};
    for (auto e : extents)
        args.add_i64(e);
    auto cfg = cuda_backend::cuda_launch_config(k, extents);
    cuda_launch(f, cfg.grid, cfg.block, args.pointers());
    CudaContext::get().synchronize();
    dout.download(got.data(), got.storage_elements() * esize);

    double worst = 0;
    for (int64_t b = 0; b < c.b; ++b)
        for (int64_t i = 0; i < c.i; ++i)
            for (int64_t kk = 0; kk < c.k; ++kk) {
                double want = 0, scale = 0;
                uint64_t wrapped = 0; // two's complement sum of products, modulo 2^64
                for (int64_t j = 0; j < c.j; ++j) {
                    double x = at(a, b, i, j), y = at(bm, b, j, kk);
                    want += x * y;
                    scale += std::abs(x * y);
                    wrapped +=
                        static_cast<uint64_t>(static_cast<int64_t>(x)) * static_cast<uint64_t>(static_cast<int64_t>(y));
                }
                double g = at(got, b, i, kk);
                if (is_integer(storage) && dtype_bits(storage) == 64) // exactly: a wrapped i64/u64 needs all 64 bits
                    worst += load_i64(got, b * got.strides()[0] + i * got.strides()[1] + kk) !=
                             static_cast<int64_t>(wrapped);
                else if (is_integer(storage)) // the low bits; bool: any product non-zero
                    worst += g != integer_value(storage, wrapped);
                else
                    worst = std::max(worst, std::abs(g - want) / std::max(scale, smallest_normal(storage)));
            }
    return worst;
}

double epsilon(DType t) {
    switch (t) {
    case DType::F16:
        return 9.765625e-04; // 2^-10
    case DType::BF16:
        return 7.8125e-03; // 2^-7
    case DType::F64:
        return std::numeric_limits<double>::epsilon();
    default:
        return std::numeric_limits<float>::epsilon();
    }
}

/** 8 eps per term of the reduction in the compute type, plus the rounding of the result to the
 * storage type (half an ulp, eps/2, relative to |result| <= the sum of |terms|); 0 for integers. */
double tolerance(DType storage, DType compute, int64_t n) {
    if (is_integer(storage)) return 0;
    double t = 8.0 * epsilon(compute) * static_cast<double>(std::max<int64_t>(n, 1));
    return storage == compute ? t : t + epsilon(storage);
}
double tolerance(DType t, int64_t n) { return tolerance(t, t, n); }

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

    CudaModule m(cuda_cubin(test::emit_cuda({bmm_kernel(DType::F32, "bmm_probe")}, "test"), ctx.arch()));
    CHECK_THROWS_AS(m.function("no_such_kernel"), TargetError);
}

TEST_CASE("gpu: bij,bjk->bik f32 and f64 against a float64 host loop") {
    require_gpu();
    for (DType t : {DType::F32, DType::F64})
        for (const auto &c : kCases) {
            CAPTURE(dtype_name(t));
            CAPTURE(c.b);
            CAPTURE(c.i);
            CAPTURE(c.j);
            CAPTURE(c.k);
            CAPTURE(std::string(c.layout0));
            CAPTURE(std::string(c.layout1));
            CHECK(run_case(t, t, c) <= tolerance(t, c.j));
        }
}

TEST_CASE("gpu: bij,bjk->bik f16 and bf16, accumulated in f32, against a float64 host loop") {
    require_gpu();
    for (DType t : {DType::F16, DType::BF16})
        for (const auto &c : kCases) {
            CAPTURE(dtype_name(t));
            CAPTURE(c.b);
            CAPTURE(c.j);
            CAPTURE(std::string(c.layout0));
            CAPTURE(std::string(c.layout1));
            CHECK(run_case(t, DType::F32, c) <= tolerance(t, DType::F32, c.j));
        }
}

const DType kIntegerTypes[] = {DType::I32, DType::I64, DType::Bool, DType::I8,  DType::I16,
                                DType::U8,  DType::U16, DType::U32,  DType::U64};

TEST_CASE("gpu: bij,bjk->bik in bool and every integer type exactly") {
    require_gpu();
    for (DType t : kIntegerTypes)
        for (const auto &c : kCases) {
            CAPTURE(dtype_name(t));
            CAPTURE(c.b);
            CAPTURE(c.j);
            CAPTURE(std::string(c.layout0));
            CAPTURE(std::string(c.layout1));
            CHECK(run_case(t, t, c) == 0);
        }
}

TEST_CASE("gpu: integer products and sums wrap around on overflow, as numpy's do") {
    require_gpu();
    const Case c = {64, 4, 37, 4, "contiguous", "transposed"};
    for (DType t : kIntegerTypes) {
        CAPTURE(dtype_name(t));
        CHECK(run_case(t, t, c, /*big=*/true) == 0);
    }
}

TEST_CASE("gpu: event timing of the seed's size (B=262144, D=2)") {
    require_gpu();
    Kernel k = bmm_kernel(DType::F32, "bmm_timed");
    CudaModule m(cuda_cubin(test::emit_cuda({k}, "test"), CudaContext::get().arch()));
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
    std::ofstream(dir / "bmm.cu") << test::emit_cuda({bmm_kernel(DType::F32, "bmm_f32")}, "test");
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
