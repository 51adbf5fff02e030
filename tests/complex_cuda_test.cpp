// The CUDA text of a complex einsum run on the CPU (tests/CudaHostEmulation.h): each part's
// kernel reads the complex operands through their doubled strides, as the executor's views pass
// them, and the standalone launcher checks them. No GPU needed.
#include "ComplexCases.h"
#include "StandaloneCu.h"
#include "backends/cuda/CudaPrinter.h"

#include <cstring>

using namespace einfuse;

namespace {

/** The numbers of complex tensor t (dense) as a real tensor, starting at part `part` (0: re, 1:
 * im; the last number of an im copy is padding). */
Tensor parts_from(const Tensor &t, int part) {
    const DType real = real_part_type(t.dtype());
    Tensor out(real, {2 * t.size()});
    const std::size_t bytes = static_cast<std::size_t>(2 * t.size() - part) * dtype_size(real);
    std::memcpy(out.data(), static_cast<const std::byte *>(t.data()) + part * dtype_size(real), bytes);
    return out;
}

} // namespace

TEST_CASE("cuda emulated: a complex64 and a complex128 product, each part's kernel through its launcher") {
    for (DType t : {DType::C64, DType::C128}) {
        CAPTURE(dtype_name(t));
        const int64_t I = 5, J = 7, K = 3;
        CompiledEinsum e("ij,jk->ik", {t, t}, CompileOptions{Target::Cuda, "sm_90", 0});
        ir::Extents sizes{{"i", I}, {"j", J}, {"k", K}};
        e.plan_for(sizes);
        Tensor a(t, {I, J}), b(t, {J, K});
        a.fill_random(test::rng());
        b.fill_random(test::rng());
        Tensor want = e.reference({&a, &b}, sizes).front();
        std::map<std::string, Tensor> hosts;
        for (int part : {0, 1}) {
            hosts["in0" + std::string(part ? "_im" : "_re")] = parts_from(a, part);
            hosts["in1" + std::string(part ? "_im" : "_re")] = parts_from(b, part);
        }
        std::map<std::string, Shape> strides{{"in0", {2 * J, 2}}, {"in1", {2 * K, 2}}};
        std::map<std::string, Shape> shapes{{"in0", {I, J}}, {"in1", {J, K}}};
        std::string cu = cuda_backend::emit_cuda(e.plan().kernels, "test");
        const DType real = real_part_type(t);
        REQUIRE(e.plan().kernels.size() == 2);
        for (const auto &k : e.plan().kernels) {
            CAPTURE(k.name);
            std::vector<test::StandaloneTensor> inputs;
            for (int p = 0; p < k.num_inputs; ++p) {
                const std::string &name = k.params[p].name, base = name.substr(0, 3);
                inputs.push_back({&hosts.at(name), shapes.at(base), strides.at(base), 0});
            }
            Tensor out(real, {I, K});
            std::vector<int64_t> extents;
            for (const auto &v : k.index_vars) extents.push_back(sizes.at(v));
            auto bytes = test::run_standalone(cu, k.name, inputs, {&out, {I, K}, {K, 1}, 0}, extents, dtype_size(real),
                                              test::Runner::HostEmulation);
            if (!bytes) {
                MESSAGE("skipped: no nvcc (the emulation uses CUDA's headers)");
                return;
            }
            std::memcpy(out.data(), bytes->data(), bytes->size());
            const bool imag = k.params.back().name == "out_im";
            double worst = 0;
            for (int64_t i = 0; i < I * K; ++i) {
                std::complex<double> w = want.load_complex(i);
                worst = std::max(worst, std::abs(out.load(i) - (imag ? w.imag() : w.real())) / std::max(1.0, std::abs(w)));
            }
            CHECK(worst <= tolerance(real, J));
        }
    }
}
