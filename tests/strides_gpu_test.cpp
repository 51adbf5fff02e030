// numpy's strides on the GPU (issue 15 item 2): reversed views (negative strides, data at element
// 0) on the device and as host views copied there (the copy starts at the lowest element), a host
// output with gaps (which the copy back must leave alone), matrix products whose operands are
// reversed (cuBLASLt is not asked; the emitted kernels take any strides), and sums over an empty
// label. Skipped (exit 77) without a device.
#include "einfuse/einfuse.hpp"

#include "GpuSkip.h"

#include <doctest/doctest.h>

#include <cmath>
#include <vector>

using einfuse::View;

namespace {

std::vector<float> values(std::size_t n) {
    std::vector<float> v(n);
    for (std::size_t i = 0; i < n; ++i) v[i] = 0.125f * static_cast<float>((i * 7919) % 17) - 1.0f;
    return v;
}

/** a (m x k, rows reversed) times b (k x n, columns reversed), in double. */
std::vector<double> product(const std::vector<float> &a, const std::vector<float> &b, int64_t m, int64_t k, int64_t n) {
    std::vector<double> out(static_cast<std::size_t>(m * n), 0);
    for (int64_t i = 0; i < m; ++i)
        for (int64_t j = 0; j < n; ++j)
            for (int64_t l = 0; l < k; ++l) out[i * n + j] += double(a[(m - 1 - i) * k + l]) * b[l * n + (n - 1 - j)];
    return out;
}

int wrong(const std::vector<double> &got, const std::vector<double> &want, int64_t k) {
    int bad = 0;
    for (std::size_t e = 0; e < want.size(); ++e) bad += std::abs(got[e] - want[e]) > 1e-5 * k * (1 + std::abs(want[e]));
    return bad;
}

} // namespace

TEST_CASE("strides gpu: reversed host views on the CUDA target, and an output with gaps") {
    einfuse::test::require_gpu();
    for (int64_t size : {3, 40, 256}) { // unrolled-sized, broadcast-reduce, GEMM
        CAPTURE(size);
        const int64_t m = size, k = size, n = size;
        std::vector<float> a = values(m * k), b = values(k * n);
        View ar(a.data() + (m - 1) * k, {m, k}, {-k, 1}), br(b.data() + n - 1, {k, n}, {n, -1});
        einfuse::Kernel kernel = einfuse::compile("ik,kj->ij", einfuse::Signature::of({ar, br}), einfuse::DeviceKind::Cuda);
        // Every other element of a 2n-wide buffer: the gaps hold 7 and must still after the copy back.
        std::vector<float> out(static_cast<std::size_t>(m * 2 * n), 7.0f);
        kernel.run({ar, br}, {View(out.data(), {m, n}, {2 * n, 2})});
        std::vector<double> got, want = product(a, b, m, k, n);
        int gaps = 0;
        for (int64_t i = 0; i < m; ++i)
            for (int64_t j = 0; j < 2 * n; ++j) {
                if (j % 2) gaps += out[i * 2 * n + j] != 7.0f;
                else got.push_back(out[i * 2 * n + j]);
            }
        CHECK(gaps == 0);
        CHECK(wrong(got, want, k) == 0);
    }
}

TEST_CASE("strides gpu: reversed device views, in and out") {
    einfuse::test::require_gpu();
    for (int64_t size : {3, 40, 256}) {
        CAPTURE(size);
        const int64_t m = size, k = size, n = size;
        std::vector<float> a = values(m * k), b = values(k * n);
        einfuse::DeviceBuffer da(a.size() * 4), db(b.size() * 4), dout(static_cast<std::size_t>(m * n) * 4);
        da.upload(a.data(), a.size() * 4);
        db.upload(b.data(), b.size() * 4);
        auto at = [](const einfuse::DeviceBuffer &buf, int64_t element) {
            return reinterpret_cast<float *>(buf.address()) + element;
        };
        View ar(at(da, (m - 1) * k), {m, k}, {-k, 1}, einfuse::Device::cuda());
        View br(at(db, n - 1), {k, n}, {n, -1}, einfuse::Device::cuda());
        View outr(at(dout, m * n - 1), {m, n}, {-n, -1}, einfuse::Device::cuda()); // reversed both ways
        einfuse::einsum_into("ik,kj->ij", {ar, br}, outr);
        std::vector<float> back(static_cast<std::size_t>(m * n));
        dout.download(back.data(), back.size() * 4);
        std::vector<double> got(back.size()), want = product(a, b, m, k, n);
        for (std::size_t e = 0; e < back.size(); ++e) got[back.size() - 1 - e] = back[e];
        CHECK(wrong(got, want, k) == 0);
    }
}

TEST_CASE("strides gpu: an empty label gives zeros; empty tensors take any strides") {
    einfuse::test::require_gpu();
    for (int64_t size : {3, 300}) { // 300: the gemm strategy, where cuBLASLt is not asked about K = 0
        CAPTURE(size);
        const std::size_t count = static_cast<std::size_t>(size * size);
        einfuse::DeviceBuffer dout(count * 4);
        std::vector<float> sevens(count, 7.0f);
        dout.upload(sevens.data(), count * 4);
        View a(static_cast<float *>(nullptr), {size, 0}, {0, 0}, einfuse::Device::cuda());
        View b(static_cast<float *>(nullptr), {0, size}, {0, 0}, einfuse::Device::cuda());
        einfuse::einsum_into("ij,jk->ik", {a, b},
                             View(reinterpret_cast<float *>(dout.address()), {size, size}, {}, einfuse::Device::cuda()));
        std::vector<float> back(count);
        dout.download(back.data(), count * 4);
        int nonzero = 0;
        for (float v : back) nonzero += v != 0.0f;
        CHECK(nonzero == 0);
    }
}
