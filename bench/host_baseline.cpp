// The plain C++ peers of bench/host_bench.py, compiled by it with g++ -O3 -march=native -fopenmp.
// What a user would write by hand: a triple loop over each batch element with an OpenMP
// `parallel for` over the batch, and a stream copy for the bandwidth bar. Sizes are fixed at
// compile time (templates), as they are for einfuse's unrolled kernels.
//
//   host_baseline copy BYTES THREADS REPS        median us of out[i] = in[i] over BYTES/2 each way
//   host_baseline bmm D B THREADS REPS           median us of bij,bjk->bik, fp32
//   host_baseline gauss N M THREADS REPS         median us of the Gaussian kernel sum, D=3
// Each prints one line: the median in microseconds.
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

namespace {

template <class F> double median_us(int reps, F &&f) {
    f(); // warm-up: page faults and thread start-up are not the kernel's
    std::vector<double> t;
    for (int r = 0; r < reps; ++r) {
        auto s = std::chrono::steady_clock::now();
        f();
        t.push_back(std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - s).count());
    }
    std::sort(t.begin(), t.end());
    return t[t.size() / 2];
}

std::vector<float> random_floats(std::size_t n) {
    std::vector<float> v(n);
    std::mt19937 g(7);
    std::uniform_real_distribution<float> d(-1, 1);
    for (auto &x : v) x = d(g);
    return v;
}

// Every thread copies its own contiguous share, as a parallel memcpy would.
double copy(std::size_t bytes, int reps) {
    std::size_t n = bytes / 2 / sizeof(float);
    std::vector<float> in = random_floats(n), out(n);
    return median_us(reps, [&] {
#pragma omp parallel
        {
            int t = omp_get_thread_num(), nt = omp_get_num_threads();
            std::size_t lo = n * t / nt, hi = n * (t + 1) / nt;
            std::memcpy(out.data() + lo, in.data() + lo, (hi - lo) * sizeof(float));
        }
    });
}

template <int D> double bmm(int64_t batch, int reps) {
    std::vector<float> a = random_floats(batch * D * D), b = random_floats(batch * D * D), c(batch * D * D);
    const float *A = a.data(), *B = b.data();
    float *C = c.data();
    return median_us(reps, [&] {
#pragma omp parallel for schedule(static)
        for (int64_t n = 0; n < batch; ++n) {
            const float *x = A + n * D * D, *y = B + n * D * D;
            float *z = C + n * D * D;
            for (int i = 0; i < D; ++i)
                for (int k = 0; k < D; ++k) {
                    float acc = 0;
                    for (int j = 0; j < D; ++j) acc += x[i * D + j] * y[j * D + k];
                    z[i * D + k] = acc;
                }
        }
    });
}

double gauss(int64_t n, int64_t m, int reps) {
    std::vector<float> x = random_floats(n * 3), y = random_floats(m * 3), w = random_floats(m), out(n);
    return median_us(reps, [&] {
#pragma omp parallel for schedule(static)
        for (int64_t i = 0; i < n; ++i) {
            float acc = 0;
            for (int64_t j = 0; j < m; ++j) {
                float d2 = 0;
                for (int d = 0; d < 3; ++d) {
                    float t = x[i * 3 + d] - y[j * 3 + d];
                    d2 += t * t;
                }
                acc += std::exp(-d2) * w[j];
            }
            out[i] = acc;
        }
    });
}

} // namespace

int main(int argc, char **argv) {
    if (argc < 2) return 1;
    std::string what = argv[1];
    auto arg = [&](int i) { return std::strtoll(argv[i], nullptr, 10); };
    double us = -1;
    if (what == "copy" && argc == 5) {
        omp_set_num_threads(static_cast<int>(arg(3)));
        us = copy(static_cast<std::size_t>(arg(2)), static_cast<int>(arg(4)));
    } else if (what == "bmm" && argc == 6) {
        omp_set_num_threads(static_cast<int>(arg(4)));
        int reps = static_cast<int>(arg(5));
        switch (arg(2)) {
        case 2: us = bmm<2>(arg(3), reps); break;
        case 3: us = bmm<3>(arg(3), reps); break;
        case 4: us = bmm<4>(arg(3), reps); break;
        case 5: us = bmm<5>(arg(3), reps); break;
        case 6: us = bmm<6>(arg(3), reps); break;
        case 7: us = bmm<7>(arg(3), reps); break;
        case 8: us = bmm<8>(arg(3), reps); break;
        case 16: us = bmm<16>(arg(3), reps); break;
        default: return 1;
        }
    } else if (what == "gauss" && argc == 6) {
        omp_set_num_threads(static_cast<int>(arg(4)));
        us = gauss(arg(2), arg(3), static_cast<int>(arg(5)));
    } else {
        std::fprintf(stderr, "usage: host_baseline copy BYTES THREADS REPS | bmm D B THREADS REPS | gauss N M THREADS REPS\n");
        return 1;
    }
    std::printf("%.1f\n", us);
    return 0;
}
