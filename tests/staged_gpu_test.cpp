// The GPU's shared-memory staged kernels (passes/GpuStaging.h, backends/cuda/CudaStaged.cpp):
// results against the float64 reference for every small shape and element type, partial last
// tiles, misaligned and non-dense inputs (which take the other paths), and the standalone .cu.
#include "GpuSkip.h"
#include "StandaloneCu.h"
#include "TestUtil.h"

#include "runtime/CudaDriver.h"
#include "support/Half.h"

#include <cmath>

#include <cstring>

#include <doctest/doctest.h>

using namespace einfuse;

namespace {

CompiledEinsum bmm(DType t, const ir::Extents &sizes) {
    CompiledEinsum c("bij,bjk->bik", {t, t}, CompileOptions{Target::Cuda, "", 0});
    c.plan_for(sizes);
    return c;
}

ir::Extents bmm_sizes(int64_t b, int64_t d) { return {{"b", b}, {"i", d}, {"j", d}, {"k", d}}; }

/** A device copy of t starting `offset_bytes` past a 256-byte aligned allocation. */
struct DeviceCopy {
    DeviceBuffer buffer;
    Tensor view;
    DeviceCopy(const Tensor &t, std::size_t offset_bytes) : buffer(t.nbytes() + offset_bytes) {
        std::vector<char> host(t.nbytes() + offset_bytes, 0);
        std::memcpy(host.data() + offset_bytes, t.data(), t.nbytes());
        buffer.upload(host.data(), host.size());
        view = Tensor::borrow(reinterpret_cast<char *>(buffer.address()) + offset_bytes, t.dtype(), t.shape(),
                              t.strides(), true);
    }
};

} // namespace

TEST_CASE("gpu staged: bij,bjk->bik for D=3..16, partial tiles, every float type") {
    test::require_gpu();
    for (DType t : {DType::F32, DType::F64, DType::F16, DType::BF16})
        for (int64_t d : {3, 4, 5, 8, 16})
            for (int64_t b : {1, 77, 1000}) {
                CAPTURE(dtype_name(t));
                CAPTURE(d);
                CAPTURE(b);
                ir::Extents sizes = bmm_sizes(b, d);
                CompiledEinsum c = bmm(t, sizes);
                // f64 at D=16: 4 KiB of slices per batch element, more than a block stages.
                bool staged = !(t == DType::F64 && d == 16);
                CHECK((emit(c, "plan").find("staged through shared memory") != std::string::npos) == staged);
                auto [err, tol] = test::run_and_compare(c, sizes);
                CHECK(err <= tol);
            }
}

TEST_CASE("gpu staged: integers exactly") {
    test::require_gpu();
    for (DType t : {DType::I32, DType::I64})
        for (int64_t d : {3, 8}) {
            CAPTURE(dtype_name(t));
            CAPTURE(d);
            ir::Extents sizes = bmm_sizes(999, d);
            CompiledEinsum c = bmm(t, sizes);
            CHECK(emit(c, "plan").find("staged through shared memory") != std::string::npos);
            auto [err, tol] = test::run_and_compare(c, sizes);
            CHECK(err == 0.0);
        }
}

TEST_CASE("gpu staged: misaligned, broadcast and transposed inputs take the slower paths correctly") {
    test::require_gpu();
    CudaContext::get();
    ir::Extents sizes = bmm_sizes(1001, 3);
    CompiledEinsum c = bmm(DType::F32, sizes);
    Tensor a(DType::F32, {1001, 3, 3}), b(DType::F32, {1001, 3, 3});
    a.fill_random(test::rng());
    b.fill_random(test::rng());
    Tensor want = einsum_reference(c, {&a, &b}, sizes);

    // 4 bytes past 16-byte alignment: the element-by-element copy into shared memory.
    DeviceCopy da(a, 4), db(b, 0);
    Tensor got = c.run({&da.view, &db.view}, sizes).outputs.front();
    CHECK(ir::max_relative_error(got, want) <= tolerance(DType::F32, 3));

    // A broadcast batch (shape 1, stride 0) and a column-major input are not dense: the plain kernel.
    Tensor one(DType::F32, {1, 3, 3});
    one.fill_random(test::rng());
    Tensor col(DType::F32, {1001, 3, 3}, {1, 1001, 3003});
    col.fill_random(test::rng());
    Tensor want_broadcast = einsum_reference(c, {&a, &one}, sizes);
    CHECK(ir::max_relative_error(c.run({&a, &one}, sizes).outputs.front(), want_broadcast) <= tolerance(DType::F32, 3));
    Tensor want_col = einsum_reference(c, {&col, &b}, sizes);
    CHECK(ir::max_relative_error(c.run({&col, &b}, sizes).outputs.front(), want_col) <= tolerance(DType::F32, 3));
}

TEST_CASE("gpu staged: the standalone .cu's launcher picks the staged kernel for dense inputs, the plain one else") {
    test::require_gpu();
    const int64_t B = 1001, D = 3;
    ir::Extents sizes = bmm_sizes(B, D);
    CompiledEinsum c = bmm(DType::F32, sizes);
    std::string cu = emit(c, "cu");
    REQUIRE(cu.find("cudaLaunchKernel(einfuse_bij_bjk_to_bik_staged, ") != std::string::npos);
    Tensor a(DType::F32, {B, D, D}), b(DType::F32, {B, D, D}), one(DType::F32, {1, D, D}), out(DType::F32, {B, D, D});
    for (Tensor *t : {&a, &b, &one}) t->fill_random(test::rng());
    const std::vector<int64_t> dense{D * D, D, 1}, shape{B, D, D}, size_list{B, D, D, D};
    const struct {
        const char *what;
        test::StandaloneTensor in0, in1;
    } rows[] = {
        {"dense", {&a, shape, dense, 0}, {&b, shape, dense, 0}},
        {"misaligned", {&a, shape, dense, 1}, {&b, shape, dense, 0}},
        {"broadcast", {&a, shape, dense, 0}, {&one, {1, D, D}, {0, D, 1}, 0}},
    };
    // The three programs build in parallel (nvcc takes seconds each), then each is checked.
    std::vector<test::StandaloneResult> results;
    for (const auto &row : rows)
        results.push_back(test::run_standalone_async(cu, "einfuse_bij_bjk_to_bik", {row.in0, row.in1},
                                                     {&out, shape, dense, 0}, size_list, 4));
    for (std::size_t r = 0; r < results.size(); ++r) {
        const auto &row = rows[r];
        CAPTURE(row.what);
        auto bytes = results[r].get();
        if (!bytes) {
            MESSAGE("skipped: no nvcc");
            return;
        }
        std::memcpy(const_cast<void *>(out.data()), bytes->data(), bytes->size());
        Tensor want = einsum_reference(c, {row.in0.host, row.in1.host}, sizes);
        CHECK(ir::max_relative_error(out, want) <= tolerance(DType::F32, D));
    }
}

TEST_CASE("gpu staged: tensors past 2^31 elements index with 64 bits (f16, D=3)") {
    test::require_gpu();
    // 2^31 / 9 + 1001 batch elements: each tensor holds 2,147,492,657 elements (4.3 GB of f16).
    const int64_t B = (int64_t{1} << 31) / 9 + 1001, D = 3;
    ir::Extents sizes = bmm_sizes(B, D);
    CompiledEinsum c = bmm(DType::F16, sizes);
    REQUIRE(emit(c, "plan").find("staged through shared memory") != std::string::npos);
    Tensor a(DType::F16, {B, D, D}), b(DType::F16, {B, D, D});
    REQUIRE(a.size() > (int64_t{1} << 31));
    // Random values, generated cheaply: a random block of 1M elements repeated with an offset
    // that changes per repetition, so that no two batch elements far apart are equal by layout.
    Tensor block(DType::F16, {1 << 20});
    block.fill_random(test::rng());
    const auto *src = static_cast<const uint16_t *>(block.data());
    // Each 1M chunk is the block rotated: two memcpys a chunk, not a division per element.
    const int64_t chunk = 1 << 20;
    for (Tensor *t : {&a, &b}) {
        auto *dst = static_cast<uint16_t *>(t->data());
        for (int64_t start = 0; start < t->size(); start += chunk) {
            const int64_t n = std::min(chunk, t->size() - start);
            const int64_t shift = (start / chunk * 7919 + (t == &b) * 104729) % chunk;
            const int64_t head = std::min(n, chunk - shift); // src[shift ..] first, then src[0 ..]
            std::memcpy(dst + start, src + shift, head * sizeof(uint16_t));
            if (n > head) std::memcpy(dst + start + head, src, (n - head) * sizeof(uint16_t));
        }
    }
    Tensor out = c.run({&a, &b}, sizes).outputs.front();
    // Spot checks in double, the last batch elements (past 2^31) included.
    const auto *pa = static_cast<const uint16_t *>(a.data()), *pb = static_cast<const uint16_t *>(b.data());
    const auto *po = static_cast<const uint16_t *>(out.data());
    double worst = 0;
    for (int64_t n = 0; n < 20000; ++n) {
        int64_t batch = n < 10000 ? n * (B / 10000) : B - 1 - (n - 10000);
        for (int64_t i = 0; i < D; ++i)
            for (int64_t k = 0; k < D; ++k) {
                double want = 0;
                for (int64_t j = 0; j < D; ++j)
                    want += static_cast<double>(half_to_float(pa[(batch * D + i) * D + j])) *
                            half_to_float(pb[(batch * D + j) * D + k]);
                double got = half_to_float(po[(batch * D + i) * D + k]);
                worst = std::max(worst, std::abs(got - want) / std::max(std::abs(want), 1.0));
            }
    }
    CHECK(worst <= tolerance(DType::F16, D));
}
