// einfuse's C++ API on host memory: a one-shot einsum into a caller's buffer, the allocating
// form, a reusable compiled kernel, a program, and what an error looks like.
// Build: link einfuse::einfuse (or the in-tree einfuse_cxx). Run: ./einsum_host
#include <einfuse/einfuse.hpp>

#include <cmath>
#include <cstdio>
#include <vector>

int main() {
    // A batch of 3x3 matrix products, the brief's seed case: C[b] = A[b] @ B[b].
    const int64_t batch = 10000;
    std::vector<float> a(batch * 9), b(batch * 9), c(batch * 9);
    for (std::size_t i = 0; i < a.size(); ++i) {
        a[i] = static_cast<float>(std::sin(0.1 * i));
        b[i] = static_cast<float>(std::cos(0.7 * i));
    }
    einfuse::View va(a.data(), {batch, 3, 3}), vb(b.data(), {batch, 3, 3}), vc(c.data(), {batch, 3, 3});
    try {
        einfuse::einsum_into("bij,bjk->bik", {va, vb}, vc);

        // Check one element by hand.
        double want = 0;
        for (int j = 0; j < 3; ++j) want += a[9 * 42 + 3 * 1 + j] * b[9 * 42 + 3 * j + 2];
        double got = c[9 * 42 + 3 * 1 + 2];
        std::printf("C[42,1,2] = %.6f (by hand %.6f)\n", got, want);
        if (std::abs(got - want) > 1e-5 * (1 + std::abs(want))) return 1;

        // The allocating form returns a host Array; a trace of each matrix.
        einfuse::Array traces = einfuse::einsum("bii->b", vc);
        std::printf("trace of C[0] = %.6f\n", traces.data_as<float>()[0]);

        // A reusable kernel: compiled once (cached), run on any batch size.
        einfuse::Kernel k = einfuse::compile(
            "bij,bjk->bik", einfuse::Signature::einsum({einfuse::ScalarType::F32, einfuse::ScalarType::F32}));
        for (int64_t n : {100, 5000}) k.run({einfuse::View(a.data(), {n, 3, 3}), einfuse::View(b.data(), {n, 3, 3})},
                                            {einfuse::View(c.data(), {n, 3, 3})});
        std::printf("plan:\n%s", k.plan().c_str());

        // A program with a fused epilogue; inputs in order of first use (X, W, bias). C is read
        // by the next statement, so Y is the one output (and C is never written to memory).
        std::vector<double> x(4 * 5, 0.5), w(5 * 6, -0.25), bias(6, 1.0), y(4 * 6);
        einfuse::einsum_into("C[i,k] = X[i,j] * W[j,k]\nY[i,k] = relu(C[i,k] + bias[k])",
                             {einfuse::View(x.data(), {4, 5}), einfuse::View(w.data(), {5, 6}),
                              einfuse::View(bias.data(), {6})},
                             einfuse::View(y.data(), {4, 6}));
        std::printf("Y[0,0] = %.4f (relu(5 * 0.5 * -0.25 + 1) = 0.375)\n", y[0]);
        if (std::abs(y[0] - 0.375) > 1e-12) return 1;
    } catch (const einfuse::Error &e) {
        std::fprintf(stderr, "%s", e.what());
        return 1;
    }

    // A mistake: j is 3 in A but 4 in B. The error points at both.
    std::vector<float> d(batch * 12);
    try {
        einfuse::einsum_into("bij,bjk->bik", {va, einfuse::View(d.data(), {batch, 4, 3})}, vc);
        return 1;
    } catch (const einfuse::Error &e) {
        std::printf("as expected:\n%s", e.what());
    }
    std::printf("ok\n");
    return 0;
}
