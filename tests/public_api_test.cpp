// The public C++ API (include/einfuse/einfuse.hpp) on the host: results against the float64
// reference on fresh random inputs, DLPack, strided views, the compile cache, programs, errors,
// and the embedding API's source against the CLI's.
#include "einfuse/einfuse.hpp"

#include "TestUtil.h"

#include <doctest/doctest.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <thread>
#include <unistd.h>

namespace pub = einfuse; // the public names, spelled apart from the internal ones below
using einfuse::DType;
using einfuse::Tensor;

namespace {

Tensor borrowed(const pub::View &v) {
    return Tensor::borrow(v.data(), static_cast<DType>(v.dtype()), v.shape(), v.strides());
}

pub::View view_of(Tensor &t) {
    return pub::View(t.data(), static_cast<pub::ScalarType>(t.dtype()), t.shape(), t.strides());
}

/** Max relative error of `got` against the float64 reference of spec on `inputs`, and the
 * tolerance for it. */
std::pair<double, double> compare_einsum(const char *spec, std::vector<Tensor *> inputs, const Tensor &got) {
    std::vector<DType> dtypes;
    std::vector<std::optional<einfuse::Shape>> shapes;
    std::vector<const Tensor *> ptrs;
    for (auto *t : inputs) {
        dtypes.push_back(t->dtype());
        shapes.push_back(t->shape());
        ptrs.push_back(t);
    }
    einfuse::CompiledEinsum c(spec, dtypes, einfuse::CompileOptions{});
    auto extents = c.bind(shapes, {});
    Tensor want = einfuse::einsum_reference(c, ptrs, extents);
    return {einfuse::ir::max_relative_error(got, want), einfuse::tolerance(got.dtype(), c.reduction_length(extents))};
}

Tensor random_tensor(DType t, einfuse::Shape shape, einfuse::Shape strides = {}) {
    Tensor x = strides.empty() ? Tensor(t, shape) : Tensor(t, shape, strides);
    x.fill_random(einfuse::test::rng());
    return x;
}

std::string cli_compile(const std::string &args) {
    const char *env = std::getenv("EINFUSE_CLI");
    std::string file = "/tmp/einfuse_public_api_test_" + std::to_string(getpid()) + ".cu";
    std::string cmd = std::string(env ? env : EINFUSE_CLI) + " compile " + args + " -o " + file;
    REQUIRE(std::system(cmd.c_str()) == 0);
    std::ifstream f(file);
    std::stringstream s;
    s << f.rdbuf();
    std::remove(file.c_str());
    return s.str();
}

} // namespace

TEST_CASE("public API: einsum_into on host views matches the float64 reference") {
    for (DType t : {DType::F32, DType::F64}) {
        Tensor a = random_tensor(t, {37, 3, 4}), b = random_tensor(t, {37, 4, 5});
        Tensor out(t, {37, 3, 5});
        pub::einsum_into("bij,bjk->bik", {view_of(a), view_of(b)}, view_of(out));
        auto [err, tol] = compare_einsum("bij,bjk->bik", {&a, &b}, out);
        CHECK(err <= tol);
    }
}

TEST_CASE("public API: einsum returns a host Array; typed views and the variadic form") {
    Tensor a = random_tensor(DType::F32, {6, 7}), b = random_tensor(DType::F32, {7, 2});
    pub::View va(static_cast<const float *>(a.data()), {6, 7}), vb(static_cast<const float *>(b.data()), {7, 2});
    CHECK(va.dtype() == pub::ScalarType::F32);
    pub::Array r = pub::einsum("ij,jk", va, vb);
    REQUIRE(r.shape() == std::vector<int64_t>{6, 2});
    CHECK(r.dtype() == pub::ScalarType::F32);
    Tensor got = borrowed(r.view());
    auto [err, tol] = compare_einsum("ij,jk", {&a, &b}, got);
    CHECK(err <= tol);
    CHECK(r.to_doubles().size() == 12);
    CHECK(r.to_doubles()[5] == doctest::Approx(r.data_as<float>()[5]));
    CHECK_THROWS_AS(r.data_as<double>(), pub::Error);
}

TEST_CASE("public API: strided and Fortran-order views, in and out") {
    // A in Fortran order, B with padded rows, the output written transposed.
    Tensor a = random_tensor(DType::F64, {5, 6}, {1, 5});
    Tensor b = random_tensor(DType::F64, {6, 4}, {8, 1});
    Tensor out(DType::F64, {5, 4}, {1, 5});
    pub::View va(a.data(), pub::ScalarType::F64, {5, 6}, {1, 5});
    pub::View vb(b.data(), pub::ScalarType::F64, {6, 4}, {8, 1});
    CHECK_FALSE(va.is_contiguous());
    pub::einsum_into("ij,jk->ik", {va, vb}, pub::View(out.data(), pub::ScalarType::F64, {5, 4}, {1, 5}));
    auto [err, tol] = compare_einsum("ij,jk->ik", {&a, &b}, out);
    CHECK(err <= tol);

    // A zero-stride broadcast input: every row of x is the same vector.
    Tensor row = random_tensor(DType::F32, {3});
    Tensor x = Tensor::borrow(row.data(), DType::F32, {4, 3}, {0, 1});
    Tensor y(DType::F32, {4});
    pub::einsum_into("ij->i", {pub::View(row.data(), pub::ScalarType::F32, {4, 3}, {0, 1})}, view_of(y));
    auto [err2, tol2] = compare_einsum("ij->i", {&x}, y);
    CHECK(err2 <= tol2);
}

TEST_CASE("public API: DLPack round trip") {
    std::vector<float> storage(64);
    pub::View v(storage.data(), pub::ScalarType::F32, {4, 3}, {1, 4});
    DLTensor t = pub::to_dlpack(v);
    CHECK(t.data == storage.data());
    CHECK(t.ndim == 2);
    CHECK(t.device.device_type == kDLCPU);
    CHECK(t.dtype.code == kDLFloat);
    CHECK(t.dtype.bits == 32);
    CHECK(t.dtype.lanes == 1);
    CHECK(t.shape[0] == 4);
    CHECK(t.strides[1] == 4);
    pub::View back = pub::from_dlpack(t);
    CHECK(back.data() == v.data());
    CHECK(back.dtype() == v.dtype());
    CHECK(back.shape() == v.shape());
    CHECK(back.strides() == v.strides());
    CHECK(back.device() == pub::Device::cpu());

    SUBCASE("NULL strides are C order; byte_offset moves data; devices map") {
        int64_t shape[] = {2, 5};
        DLTensor d{};
        d.data = storage.data();
        d.device = {kDLCUDA, 0};
        d.ndim = 2;
        d.dtype = {kDLBfloat, 16, 1};
        d.shape = shape;
        d.byte_offset = 8;
        pub::View w = pub::from_dlpack(d);
        CHECK(w.strides() == std::vector<int64_t>{5, 1});
        CHECK(w.data() == reinterpret_cast<char *>(storage.data()) + 8);
        CHECK(w.dtype() == pub::ScalarType::BF16);
        CHECK(w.device() == pub::Device::cuda(0));
    }
    SUBCASE("every element type round trips through its DLPack code (bool: code 6, 8 bits)") {
        using S = pub::ScalarType;
        for (S s : {S::F16, S::BF16, S::F32, S::F64, S::I32, S::I64, S::Bool, S::I8, S::I16, S::U8, S::U16, S::U32,
                    S::U64}) {
            CAPTURE(pub::scalar_type_name(s));
            CHECK(pub::scalar_type_of(pub::dlpack_dtype(s)) == s);
            CHECK(pub::dlpack_dtype(s).bits == 8 * pub::scalar_type_size(s));
        }
        CHECK(pub::dlpack_dtype(S::Bool).code == 6);
        CHECK(pub::dlpack_dtype(S::U16).code == kDLUInt);
        CHECK(pub::dlpack_dtype(S::I8).code == kDLInt);
        CHECK(pub::detail::scalar_type_of<unsigned char>() == S::U8);
        CHECK(pub::detail::scalar_type_of<bool>() == S::Bool);
        CHECK(pub::detail::scalar_type_of<int16_t>() == S::I16);
        CHECK(pub::detail::scalar_type_of<uint64_t>() == S::U64);
    }
    SUBCASE("unsupported DLPack tensors are input errors") {
        DLTensor d = t;
        d.dtype = {kDLInt, 24, 1}; // no such integer
        CHECK_THROWS_AS(pub::from_dlpack(d), pub::Error);
        d = t;
        d.dtype.lanes = 4;
        CHECK_THROWS_AS(pub::from_dlpack(d), pub::Error);
        d = t;
        d.device.device_type = kDLOpenCL;
        try {
            pub::from_dlpack(d);
            FAIL("expected an error");
        } catch (const pub::Error &e) {
            CHECK(e.kind() == pub::ErrorKind::Input);
        }
    }
}

TEST_CASE("public API: compile caches by (expression, signature, target)") {
    auto sig = pub::Signature::einsum({pub::ScalarType::F32, pub::ScalarType::F32});
    pub::CacheStats before = pub::compile_cache_stats();
    pub::Kernel k1 = pub::compile("ni,ni->n", sig);
    pub::Kernel k2 = pub::compile("ni,ni->n", sig);
    CHECK(k1 == k2);
    pub::CacheStats after = pub::compile_cache_stats();
    CHECK(after.hits >= before.hits + 1);
    CHECK(pub::compile("ni,ni->n", pub::Signature::einsum({pub::ScalarType::F64, pub::ScalarType::F64})) != k1);
    CHECK(pub::compile("ni,ni->n", sig, pub::DeviceKind::Cuda) != k1); // lowered only: no GPU needed
    CHECK(k1.inputs().size() == 2);
    CHECK(k1.outputs().at(0).name == "out");

    // Reused across sizes: bound from the shapes on each call, re-planned when they change.
    for (int64_t n : {100, 100, 7, 1000}) {
        Tensor a = random_tensor(DType::F32, {n, 3}), b = random_tensor(DType::F32, {n, 3});
        Tensor out(DType::F32, {n});
        k1.run({view_of(a), view_of(b)}, {view_of(out)});
        auto [err, tol] = compare_einsum("ni,ni->n", {&a, &b}, out);
        CHECK(err <= tol);
    }
    CHECK(k1.plan().find("ni,ni->n") != std::string::npos);
}

TEST_CASE("public API: one kernel called with changing sizes, back to earlier ones (recent plans kept)") {
    // exec/Compiled keeps the last plans with their code: a return to a size used before must
    // run that size's plan, not the last one's (an unrolled D=3 kernel run at D=2 would be wrong).
    // Uncached: the library's cache would hand this kernel, with its last sizes, to other tests.
    pub::Kernel k = pub::compile_uncached("bij,bjk->bik", pub::Signature::einsum({pub::ScalarType::F32, pub::ScalarType::F32}));
    for (auto [b, d] : {std::pair<int64_t, int64_t>{100, 3}, {5000, 3}, {100, 3}, {7, 2}, {5000, 3}, {7, 2}, {33, 4},
                        {100, 3}, {9, 5}, {10, 6}, {11, 7}, {12, 8}, {13, 9}, {14, 10}, {7, 2}, {100, 3}}) {
        CAPTURE(b);
        CAPTURE(d);
        Tensor x = random_tensor(DType::F32, {b, d, d}), y = random_tensor(DType::F32, {b, d, d});
        Tensor got(DType::F32, {b, d, d});
        k.run({view_of(x), view_of(y)}, {view_of(got)});
        auto [err, tol] = compare_einsum("bij,bjk->bik", {&x, &y}, got);
        CHECK(err <= tol);
    }
}

TEST_CASE("public API: a repeated shape skips binding, and plan_for in between is not missed") {
    // run() binds the index sizes once per distinct shapes (PublicApi.cpp, shape_signature); a
    // plan for other sizes in between must make the next run plan again.
    pub::Kernel k = pub::compile_uncached("bij,bjk->bik", pub::Signature::einsum({pub::ScalarType::F32, pub::ScalarType::F32}));
    auto run_checked = [&](int64_t b, int64_t d) {
        Tensor x = random_tensor(DType::F32, {b, d, d}), y = random_tensor(DType::F32, {b, d, d});
        Tensor got(DType::F32, {b, d, d});
        k.run({view_of(x), view_of(y)}, {view_of(got)});
        auto [err, tol] = compare_einsum("bij,bjk->bik", {&x, &y}, got);
        CHECK(err <= tol);
    };
    run_checked(50, 3);
    run_checked(50, 3);
    k.plan_for({{"b", 50}, {"i", 2}, {"j", 2}, {"k", 2}});
    run_checked(50, 3);
    run_checked(50, 2);
    run_checked(50, 3);
}

TEST_CASE("public API: concurrent runs of one cached kernel") {
    pub::Kernel k = pub::compile("ij,j->i", pub::Signature::einsum({pub::ScalarType::F64, pub::ScalarType::F64}));
    std::vector<std::thread> threads;
    std::vector<int> ok(4, 0);
    for (int t = 0; t < 4; ++t)
        threads.emplace_back([&, t] {
            int64_t n = 10 + t; // different sizes: the kernel re-plans under its lock
            std::mt19937_64 rng(t);
            for (int rep = 0; rep < 5; ++rep) {
                Tensor a(DType::F64, {n, 9}), x(DType::F64, {9}), y(DType::F64, {n});
                a.fill_random(rng);
                x.fill_random(rng);
                k.run({view_of(a), view_of(x)}, {view_of(y)});
                auto [err, tol] = compare_einsum("ij,j->i", {&a, &x}, y);
                ok[t] += err <= tol;
            }
        });
    for (auto &t : threads) t.join();
    CHECK(ok == std::vector<int>(4, 5));
}

TEST_CASE("public API: programs, by position and by name") {
    const char *src = "C[i,k] = A[i,j] * B[j,k]\nD[i,k] = relu(C[i,k] + bias[k])";
    Tensor a = random_tensor(DType::F32, {8, 5}), b = random_tensor(DType::F32, {5, 6}), bias = random_tensor(DType::F32, {6});
    einfuse::CompiledProgram ref(src, {}, einfuse::CompileOptions{});
    auto extents = ref.bind({{"A", a.shape()}, {"B", b.shape()}, {"bias", bias.shape()}}, {});
    std::vector<Tensor> want = ref.reference({&a, &b, &bias}, extents);

    SUBCASE("einsum_into takes a one-output program, inputs in order of first use") {
        Tensor d(DType::F32, {8, 6});
        pub::einsum_into(src, {view_of(a), view_of(b), view_of(bias)}, view_of(d));
        CHECK(einfuse::ir::max_relative_error(d, want[0]) <= einfuse::tolerance(DType::F32, 5));
    }
    SUBCASE("compile with named dtypes and named outputs") {
        pub::Kernel k = pub::compile(src, pub::Signature::program({{"A", pub::ScalarType::F32}}, {"C", "D"}));
        REQUIRE(k.outputs().size() == 2);
        CHECK(k.inputs().at(2).name == "bias");
        std::vector<pub::Array> got = k.run({view_of(a), view_of(b), view_of(bias)});
        REQUIRE(got.size() == 2);
        CHECK(got[1].shape() == std::vector<int64_t>{8, 6});
        Tensor d = borrowed(got[1].view());
        CHECK(einfuse::ir::max_relative_error(d, want[0]) <= einfuse::tolerance(DType::F32, 5));
    }
}

TEST_CASE("public API: errors are einfuse::Error with the rendered diagnostic") {
    std::vector<float> a(2 * 3 * 3), b(2 * 4 * 5), c(2 * 3 * 5);
    try {
        pub::einsum_into("bij,bjk->bik", {pub::View(a.data(), {2, 3, 3}), pub::View(b.data(), {2, 4, 5})},
                         pub::View(c.data(), {2, 3, 5}));
        FAIL("expected an error");
    } catch (const pub::Error &e) {
        std::string what = e.what();
        CHECK(e.kind() == pub::ErrorKind::Input);
        CHECK(what.rfind("einfuse: error: ", 0) == 0);
        CHECK(what.find("  bij,bjk->bik\n") != std::string::npos);
        CHECK(what.find('^') != std::string::npos);
        CHECK(what.find(e.message()) != std::string::npos);
    }
    try {
        pub::compile("ij,jk->iq", pub::Signature::einsum({pub::ScalarType::F32, pub::ScalarType::F32}));
        FAIL("expected an error");
    } catch (const pub::Error &e) {
        CHECK(e.kind() == pub::ErrorKind::Input);
        CHECK(std::string(e.what()).find('^') != std::string::npos);
    }
    CHECK_THROWS_AS(pub::View(a.data(), pub::ScalarType::F32, {2, 3}, {1}), pub::Error);
    CHECK_THROWS_AS(pub::Kernel().run({}, {}), pub::Error);
    // The host target refuses device memory.
    CHECK_THROWS_AS(pub::compile("i->i", pub::Signature::einsum({pub::ScalarType::F32}))
                        .run({pub::View(a.data(), pub::ScalarType::F32, {3}, {}, pub::Device::cuda())},
                             {pub::View(c.data(), {3})}),
                    pub::Error);
}

TEST_CASE("public API: the embedding API's source is what `einfuse compile` writes") {
    auto sig = pub::Signature::einsum({pub::ScalarType::F32, pub::ScalarType::F32});
    SUBCASE("without sizes") {
        pub::EmbeddedSource s = pub::cuda_source("bij,bjk->bik", sig);
        CHECK(s.source == cli_compile("\"bij,bjk->bik\""));
        REQUIRE(s.kernels.size() == 1);
        const auto &k = s.kernels[0];
        CHECK(s.source.find("extern \"C\" __global__ void " + k.name + "(") != std::string::npos);
        CHECK(s.source.find("extern \"C\" int " + k.launcher + "(") != std::string::npos);
        CHECK(k.launch.block == 256);
        CHECK(k.launch.grid == -1);
        CHECK(k.sizes == std::vector<std::string>{"b", "i", "j", "k"});
        REQUIRE(k.params.size() == 3);
        CHECK(k.params[0].indices == std::vector<std::string>{"b", "i", "j"});
        CHECK(k.params[2].role == pub::ParamRole::Output);
    }
    SUBCASE("with sizes: planned for them, with the grid") {
        pub::EmbeddedSource s = pub::cuda_source("bij,bjk->bik", sig, {{"b", 100000}, {"i", 3}, {"j", 3}, {"k", 3}});
        CHECK(s.source == cli_compile("\"bij,bjk->bik\" --dims b=100000,i=3,j=3,k=3"));
        REQUIRE(!s.kernels.empty());
        CHECK(s.kernels[0].launch.grid > 0);
        CHECK(s.sizes.at("b") == 100000);
    }
    SUBCASE("a program with f64 inputs") {
        const char *src = "out[i] = sum[j](exp(-sum[d]((x[i,d] - y[j,d])^2)) * w[j])";
        pub::EmbeddedSource s = pub::cuda_source(src, pub::Signature::program({{"x", pub::ScalarType::F64},
                                                                              {"y", pub::ScalarType::F64},
                                                                              {"w", pub::ScalarType::F64}}));
        CHECK(s.source == cli_compile(std::string("\"") + src + "\" --dtype f64"));
        CHECK(s.outputs.at(0).name == "out");
    }
    SUBCASE("a Kernel's cuda_source follows its last run's sizes") {
        pub::Kernel k = pub::compile("bij,bjk->bik", sig);
        CHECK(k.cuda_source() == cli_compile("\"bij,bjk->bik\""));
        Tensor a = random_tensor(DType::F32, {5, 2, 2}), b = random_tensor(DType::F32, {5, 2, 2});
        Tensor c(DType::F32, {5, 2, 2});
        k.run({view_of(a), view_of(b)}, {view_of(c)});
        CHECK(k.cuda_source() == cli_compile("\"bij,bjk->bik\" --dims b=5,i=2,j=2,k=2"));
    }
    SUBCASE("bad sizes get a caret") {
        CHECK_THROWS_AS(pub::cuda_source("ij->i", pub::Signature::einsum({pub::ScalarType::F32}), {{"i", -3}}),
                        pub::Error);
    }
}

TEST_CASE("public API: check holds a program that cancels to its terms' magnitudes (ir/Magnitude.h)") {
    // A two-layer relu MLP in f64: the second layer's sums cancel, and against |result| alone
    // einfuse's correct results failed --check (6.4e-14 to 9.2e-14 against 6.3e-14, 20 runs of 20
    // at i=256). Against the first-order magnitude they pass by far; a wrong element still fails.
    const char *mlp = "h[i,k] = relu(sum[j](x[i,j] * W1[j,k])); out[i,l] = sum[k](h[i,k] * W2[k,l])";
    pub::Kernel k = pub::compile(mlp, pub::Signature::program({{"x", pub::ScalarType::F64},
                                                               {"W1", pub::ScalarType::F64},
                                                               {"W2", pub::ScalarType::F64}}));
    const std::int64_t i = 64, j = 512, kk = 256, l = 128;
    pub::Array x = pub::Array::random(pub::ScalarType::F64, {i, j}, 1),
               w1 = pub::Array::random(pub::ScalarType::F64, {j, kk}, 2),
               w2 = pub::Array::random(pub::ScalarType::F64, {kk, l}, 3);
    pub::Sizes sizes{{"i", i}, {"j", j}, {"k", kk}, {"l", l}};
    std::vector<pub::Array> out = k.run({x.view(), w1.view(), w2.view()});
    REQUIRE(out.size() == 1);
    auto d = k.check({x.view(), w1.view(), w2.view()}, {out[0].view()}, sizes);
    CHECK(d[0].max_rel_err <= d[0].tolerance);
    out[0].data_as<double>()[5] *= 1.0 + 1e-9;
    CHECK(k.check({x.view(), w1.view(), w2.view()}, {out[0].view()}, sizes)[0].max_rel_err > d[0].tolerance);
}

TEST_CASE("public API: what the CLI is built on (inspect, bind, emit, measure, check, .npy, notes)") {
    pub::ExpressionInfo info = pub::inspect("bij,bjk->bik");
    REQUIRE(info.inputs.size() == 2);
    CHECK(!info.is_program);
    CHECK(info.inputs[1].name == "1");
    CHECK(info.inputs[1].rank == 3);
    CHECK(info.inputs[1].where.begin == 4);
    CHECK(pub::inspect("...ij,jk").inputs[0].rank == -1);
    CHECK(pub::inspect("D[i] = relu(A[i,j] * x[j])").inputs.at(1).name == "x");

    auto sig = pub::Signature::einsum({pub::ScalarType::F64, pub::ScalarType::F64});
    pub::Kernel k = pub::compile_uncached("ij,jk->ik", sig);
    CHECK(k != pub::compile_uncached("ij,jk->ik", sig)); // each a kernel of its own
    CHECK(pub::compile_cache_stats().capacity > 0);
    pub::Sizes sizes = k.bind({std::vector<std::int64_t>{5, 7}, std::nullopt}, {{"k", 3}});
    CHECK(sizes == pub::Sizes{{"i", 5}, {"j", 7}, {"k", 3}});
    CHECK(k.input_shape(1, sizes) == std::vector<std::int64_t>{7, 3});
    CHECK(k.output_shape(0, sizes) == std::vector<std::int64_t>{5, 3});
    k.plan_for(sizes);
    CHECK(k.emit("plan").find("ij,jk->ik") != std::string::npos);
    CHECK_THROWS_AS(k.emit("wasm"), pub::Error);

    pub::Array a = pub::Array::random(pub::ScalarType::F64, {5, 7}, 1), b = pub::Array::random(pub::ScalarType::F64, {7, 3}, 2);
    pub::Kernel::Timing t = k.measure({a.view(), b.view()}, sizes, 3);
    CHECK(t.times_us.size() == 3);
    REQUIRE(t.outputs.size() == 1);
    std::vector<pub::Kernel::Deviation> d = k.check({a.view(), b.view()}, {t.outputs[0].view()}, sizes);
    REQUIRE(d.size() == 1);
    CHECK(d[0].max_rel_err <= d[0].tolerance);
    t.outputs[0].data_as<double>()[4] += 1; // a wrong result is caught
    CHECK(k.check({a.view(), b.view()}, {t.outputs[0].view()}, sizes)[0].max_rel_err > 0.1);

    std::string file = "/tmp/einfuse_public_api_npy_" + std::to_string(getpid()) + ".npy";
    pub::save_npy(file, a.view());
    pub::NpyTensor back = pub::load_npy(file);
    std::remove(file.c_str());
    CHECK(back.shape == a.shape());
    CHECK(back.storage.to_doubles() == a.to_doubles());

    try {
        k.bind({std::vector<std::int64_t>{5, 7}, std::vector<std::int64_t>{8, 3}});
        FAIL("sizes that disagree must throw");
    } catch (const pub::Error &e) {
        CHECK(e.kind() == pub::ErrorKind::Input);
        pub::Error noted = e.with_notes({"input 1 is f64[8x3] from 'b.npy'"});
        CHECK(std::string(noted.what()).find("ij,jk->ik") != std::string::npos); // carets kept
        CHECK(std::string(noted.what()).find("note: input 1 is f64[8x3] from 'b.npy'") != std::string::npos);
    }
}
