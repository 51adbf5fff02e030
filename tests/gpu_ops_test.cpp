// The CUDA backend's operators on a real device: the table of tests/ElementwiseOps.h (every
// Unary, pow, max/min, the comparisons, Select and the Gaussian kernel sum), printed, compiled by
// NVRTC for the device's arch and launched through the driver API. Without a device every test
// exits 77 (CTest: skipped).
#include "EmitCuda.h"
#include "ElementwiseOps.h"
#include "GpuSkip.h"

#include "backends/cuda/CudaPrinter.h"
#include "runtime/CudaDriver.h"
#include "runtime/Nvrtc.h"

#include <doctest/doctest.h>

using namespace einfuse;
using namespace einfuse::test;

namespace {

/** Prints and compiles k alone, uploads the tensors, launches with the backend's launch rule and
 * downloads `out`. */
void run_on_gpu(const Kernel &k, const std::vector<const Tensor *> &ins, Tensor &out,
                const std::vector<int64_t> &extents) {
    CudaModule module(cuda_cubin(test::emit_cuda({k}, "test"), CudaContext::get().arch()));
    CudaFunction f = module.function(k.name);
    std::vector<DeviceBuffer> buffers;
    buffers.reserve(ins.size() + 1);
    LaunchArgs args;
    auto bytes = [](const Tensor &x) { return static_cast<std::size_t>(x.storage_elements()) * dtype_size(x.dtype()); };
    for (const Tensor *x : ins) {
        buffers.emplace_back(bytes(*x));
        buffers.back().upload(x->data(), bytes(*x));
    }
    buffers.emplace_back(bytes(out));
    buffers.back().upload(out.data(), bytes(out)); // the NaN markers: an element never written fails
    for (std::size_t p = 0; p < buffers.size(); ++p) {
        args.add_pointer(buffers[p]);
        for (int64_t s : (p < ins.size() ? ins[p] : &out)->strides())
            args.add_i64(s);
    }
    for (int64_t e : extents)
        args.add_i64(e);
    auto cfg = cuda_backend::cuda_launch_config(k, extents);
    cuda_launch(f, cfg.grid, cfg.block, args.pointers());
    CudaContext::get().synchronize();
    buffers.back().download(out.data(), bytes(out));
}

const DType kFloats[] = {DType::F32, DType::F64};
const DType kInts[] = {DType::I8, DType::I16, DType::I32, DType::I64, DType::U8, DType::U16, DType::U32, DType::U64};

} // namespace

TEST_CASE("gpu ops: every unary operator in f32 and f64, and on i32/i64 where defined") {
    require_gpu();
    for (const auto &row : kUnaryRows) {
        for (DType t : kFloats)
            SUBCASE((std::string(unary_op_name(row.op)) + " " + std::string(dtype_name(t))).c_str()) {
                // f32 exp on the GPU is one ex2.approx of x * log2(e) (backends/cuda/CudaTypes.cpp):
                // 2 ulps, plus up to 2|x| ulps from rounding the product, within 4 + x^2/2.
                UnaryRow budget = row;
                if (t == DType::F32 && (row.op == UnaryOp::Exp || row.op == UnaryOp::Sigmoid)) budget.per_x2 = 0.5;
                check_unary(run_on_gpu, budget, t);
            }
        if (!row.integers) continue;
        for (DType t : kInts)
            SUBCASE((std::string(unary_op_name(row.op)) + " " + std::string(dtype_name(t))).c_str()) {
                check_unary(run_on_gpu, row, t);
            }
    }
}

TEST_CASE("gpu ops: pow, max, min and the comparisons (NaN compares false except !=)") {
    require_gpu();
    for (const auto &row : kBinaryRows) {
        for (DType t : kFloats)
            SUBCASE((std::string(binary_op_symbol(row.op)) + " " + std::string(dtype_name(t))).c_str()) {
                check_binary(run_on_gpu, row, t);
            }
        if (!row.integers) continue;
        for (DType t : kInts)
            SUBCASE((std::string(binary_op_symbol(row.op)) + " " + std::string(dtype_name(t))).c_str()) {
                check_binary(run_on_gpu, row, t);
            }
    }
}

TEST_CASE("gpu ops: where(c, a, b) picks a where c != 0 (NaN included)") {
    require_gpu();
    for (DType t : {DType::F32, DType::F64, DType::I32, DType::I64, DType::I8, DType::U16, DType::U64, DType::Bool})
        SUBCASE(dtype_name(t).data()) { check_select(run_on_gpu, t); }
}

TEST_CASE("gpu ops: the Gaussian kernel sum, two nested accumulators") {
    require_gpu();
    for (DType t : kFloats)
        SUBCASE(dtype_name(t).data()) {
            check_gauss(run_on_gpu, t, 1000, 53, 3);
            check_gauss(run_on_gpu, t, 5, 300, 7);
        }
}
