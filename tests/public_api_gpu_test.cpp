// The public C++ API on the GPU: device views used in place, host views copied, and the embedding
// API's source compiled with NVRTC and launched by hand. Skipped (exit 77) without a device.
#include "einfuse/einfuse.hpp"

#include "GpuSkip.h"
#include "TestUtil.h"
#include "runtime/Nvrtc.h"

#include <doctest/doctest.h>

using einfuse::DType;
using einfuse::Tensor;

namespace {

std::size_t bytes_of(const Tensor &t) { return static_cast<std::size_t>(t.storage_elements()) * dtype_size(t.dtype()); }

/** A device copy of t, and a public view of it with t's layout. */
struct DeviceCopy {
    einfuse::DeviceBuffer buffer;
    einfuse::View view;
    explicit DeviceCopy(const Tensor &t) : buffer(std::max<std::size_t>(bytes_of(t), 1)) {
        buffer.upload(t.data(), bytes_of(t));
        view = einfuse::View(reinterpret_cast<void *>(buffer.address()), static_cast<einfuse::ScalarType>(t.dtype()),
                             t.shape(), t.strides(), einfuse::Device::cuda());
    }
};

Tensor random_tensor(DType t, einfuse::Shape shape) {
    Tensor x(t, shape);
    x.fill_random(einfuse::test::rng());
    return x;
}

double error_against_reference(const char *spec, const std::vector<const Tensor *> &inputs, const Tensor &got) {
    std::vector<DType> dtypes;
    std::vector<std::optional<einfuse::Shape>> shapes;
    for (const auto *t : inputs) {
        dtypes.push_back(t->dtype());
        shapes.push_back(t->shape());
    }
    einfuse::CompiledEinsum c(spec, dtypes, einfuse::CompileOptions{});
    auto extents = c.bind(shapes, {});
    double err = einfuse::ir::max_relative_error(got, einfuse::einsum_reference(c, inputs, extents));
    return err / std::max(einfuse::tolerance(got.dtype(), c.reduction_length(extents)), 1e-300);
}

} // namespace

TEST_CASE("public API gpu: einsum_into on device views, in place") {
    einfuse::test::require_gpu();
    Tensor a = random_tensor(DType::F32, {4096, 3, 3}), b = random_tensor(DType::F32, {4096, 3, 3});
    Tensor out(DType::F32, {4096, 3, 3});
    DeviceCopy da(a), db(b), dout(out);
    einfuse::einsum_into("bij,bjk->bik", {da.view, db.view}, dout.view);
    dout.buffer.download(out.data(), bytes_of(out));
    CHECK(error_against_reference("bij,bjk->bik", {&a, &b}, out) <= 1.0);
}

TEST_CASE("public API gpu: a CUDA kernel takes host views too, and returns host arrays") {
    einfuse::test::require_gpu();
    Tensor a = random_tensor(DType::F64, {50, 7}), b = random_tensor(DType::F64, {7, 9});
    einfuse::Kernel k = einfuse::compile("ij,jk->ik", einfuse::Signature::einsum({einfuse::ScalarType::F64, einfuse::ScalarType::F64}),
                                         einfuse::DeviceKind::Cuda);
    auto got = k.run({einfuse::View(static_cast<double *>(a.data()), {50, 7}), einfuse::View(static_cast<double *>(b.data()), {7, 9})});
    REQUIRE(got.size() == 1);
    Tensor g = Tensor::borrow(got[0].data(), DType::F64, got[0].shape(), einfuse::contiguous_strides(got[0].shape()));
    CHECK(error_against_reference("ij,jk->ik", {&a, &b}, g) <= 1.0);
}

TEST_CASE("public API gpu: the embedded source compiled with NVRTC and launched by hand") {
    einfuse::test::require_gpu();
    const int64_t B = 1000;
    einfuse::EmbeddedSource s = einfuse::cuda_source(
        "bij,bjk->bik", einfuse::Signature::einsum({einfuse::ScalarType::F32, einfuse::ScalarType::F32}),
        {{"b", B}, {"i", 2}, {"j", 2}, {"k", 2}});
    REQUIRE(s.kernels.size() == 1);
    const einfuse::EmbeddedKernel &k = s.kernels[0];
    einfuse::CudaContext &ctx = einfuse::CudaContext::get();
    einfuse::CudaModule module(einfuse::cuda_cubin(s.source, ctx.arch()));
    Tensor a = random_tensor(DType::F32, {B, 2, 2}), b = random_tensor(DType::F32, {B, 2, 2}), out(DType::F32, {B, 2, 2});
    DeviceCopy da(a), db(b), dout(out);
    einfuse::LaunchArgs args;
    for (const DeviceCopy *t : {&da, &db, &dout}) {
        args.add_pointer(t->buffer.address());
        for (int64_t st : t->view.strides()) args.add_i64(st);
    }
    for (const auto &v : k.sizes) args.add_i64(s.sizes.at(v));
    einfuse::cuda_launch(module.function(k.name), k.launch.grid, k.launch.block, args.pointers());
    ctx.synchronize();
    dout.buffer.download(out.data(), bytes_of(out));
    CHECK(error_against_reference("bij,bjk->bik", {&a, &b}, out) <= 1.0);
}

TEST_CASE("public API gpu: einsum of device views returns a device array") {
    einfuse::test::require_gpu();
    Tensor a = random_tensor(DType::F32, {1000, 3, 4}), b = random_tensor(DType::F32, {1000, 4, 2});
    einfuse::Array da(einfuse::ScalarType::F32, {1000, 3, 4}, einfuse::Device::cuda());
    einfuse::Array db(einfuse::ScalarType::F32, {1000, 4, 2}, einfuse::Device::cuda());
    // Fill the device arrays through a device-to-device einsum of the host data: "ijk->ijk".
    einfuse::einsum_into("ijk->ijk", {einfuse::View(static_cast<float *>(a.data()), {1000, 3, 4})}, da.view());
    einfuse::einsum_into("ijk->ijk", {einfuse::View(static_cast<float *>(b.data()), {1000, 4, 2})}, db.view());
    einfuse::Array got = einfuse::einsum("bij,bjk->bik", da.view(), db.view());
    CHECK(got.device() == einfuse::Device::cuda());
    std::vector<double> values = got.to_doubles();
    Tensor g32(DType::F32, {1000, 3, 2});
    for (std::size_t i = 0; i < values.size(); ++i) g32.store(static_cast<int64_t>(i), values[i]);
    CHECK(error_against_reference("bij,bjk->bik", {&a, &b}, g32) <= 1.0);
}

TEST_CASE("public API gpu: runs queued on a stream; repeated calls reuse their launches and see new data") {
    einfuse::test::require_gpu();
    const einfuse::Shape shape{100000, 3, 3};
    Tensor a = random_tensor(DType::F32, shape), b = random_tensor(DType::F32, shape), out(DType::F32, shape);
    DeviceCopy da(a), db(b), dout(out), dout2(out);
    einfuse::Kernel k = einfuse::compile("bij,bjk->bik",
                                         einfuse::Signature::einsum({einfuse::ScalarType::F32, einfuse::ScalarType::F32}),
                                         einfuse::DeviceKind::Cuda);
    einfuse::CudaStream stream;
    auto run_and_check = [&](const DeviceCopy &into, const Tensor &x) {
        k.run({da.view, db.view}, {into.view}, stream.get());
        stream.synchronize(); // the copy below does not wait for a non-blocking stream
        into.buffer.download(out.data(), bytes_of(out));
        CHECK(error_against_reference("bij,bjk->bik", {&x, &b}, out) <= 1.0);
    };
    run_and_check(dout, a);
    // Same tensors again (the launches are reused), with new values in a.
    Tensor a2 = random_tensor(DType::F32, shape);
    da.buffer.upload(a2.data(), bytes_of(a2));
    run_and_check(dout, a2);
    // Another output: new launches.
    run_and_check(dout2, a2);
}

TEST_CASE("public API gpu: a split reduction queued on two streams at once keeps its parts apart") {
    einfuse::test::require_gpu();
    const char *gauss = "out[i] = sum[j](exp(-sum[d]((x[i,d] - y[j,d])^2)) * w[j])";
    const int64_t n = 2000, m = 20000; // few outputs, a long reduction: split 64 ways across blocks
    Tensor x1 = random_tensor(DType::F32, {n, 3}), x2 = random_tensor(DType::F32, {n, 3});
    Tensor y = random_tensor(DType::F32, {m, 3}), w = random_tensor(DType::F32, {m});
    Tensor out(DType::F32, {n});
    DeviceCopy dx1(x1), dx2(x2), dy(y), dw(w), do1(out), do2(out);
    einfuse::Kernel k = einfuse::compile(gauss, einfuse::Signature::program(), einfuse::DeviceKind::Cuda);
    einfuse::CudaStream s1, s2;
    for (int round = 0; round < 3; ++round) { // both streams busy at once, three times
        k.run({dx1.view, dy.view, dw.view}, {do1.view}, s1.get());
        k.run({dx2.view, dy.view, dw.view}, {do2.view}, s2.get());
        s1.synchronize();
        s2.synchronize();
    }
    CHECK(k.plan().find("split across blocks") != std::string::npos);
    einfuse::CompiledProgram reference(gauss, {}, einfuse::CompileOptions{});
    einfuse::ir::Extents sizes{{"i", n}, {"j", m}, {"d", 3}};
    for (auto [dev, x] : {std::pair<const DeviceCopy *, const Tensor *>{&do1, &x1}, {&do2, &x2}}) {
        dev->buffer.download(out.data(), bytes_of(out));
        Tensor want = reference.reference({x, &y, &w}, sizes).front();
        CHECK(einfuse::ir::max_relative_error(out, want) <= einfuse::tolerance(DType::F32, m + 16));
    }
}

TEST_CASE("public API gpu: an output that overlaps an input gives numpy's result (issue 14 item 9)") {
    // Kernel::run decides for both targets (the host tests cover the decision); this runs the
    // device side: a device temporary, the identity copy on the GPU, a synchronize, the free.
    einfuse::test::require_gpu();
    const int64_t n = 64;
    Tensor m = random_tensor(DType::F32, {n, n});
    DeviceCopy dm(m);
    einfuse::einsum_into("ij->ji", {dm.view}, dm.view);
    Tensor back(DType::F32, {n, n});
    dm.buffer.download(back.data(), bytes_of(back));
    int wrong = 0;
    for (int64_t i = 0; i < n; ++i)
        for (int64_t j = 0; j < n; ++j) wrong += back.load(i * n + j) != m.load(j * n + i);
    CHECK(wrong == 0);

    Tensor a = random_tensor(DType::F32, {48, 48}), b = random_tensor(DType::F32, {48, 48});
    DeviceCopy da(a), db(b);
    einfuse::einsum_into("ij,jk->ik", {da.view, db.view}, db.view); // out=b
    Tensor got(DType::F32, {48, 48});
    db.buffer.download(got.data(), bytes_of(got));
    CHECK(error_against_reference("ij,jk->ik", {&a, &b}, got) <= 1.0);

    einfuse::View self(dm.view.data(), einfuse::ScalarType::F32, {n, n}, {0, 1}, einfuse::Device::cuda());
    CHECK_THROWS_AS(einfuse::einsum_into("ij->ij", {dm.view}, self), einfuse::Error);
}
