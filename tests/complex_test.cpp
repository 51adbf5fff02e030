// Complex types without running a kernel: numpy's promotion, .npy, the reference in complex128,
// passes/SplitComplex's rewrite, and the program language's refusals.
#include "EinsumIr.h"
#include "frontend/Program.h"
#include "ir/Printer.h"
#include "ir/Reference.h"
#include "passes/Pipeline.h"
#include "passes/SplitComplex.h"
#include "support/Error.h"
#include "support/Npy.h"

#include <doctest/doctest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <unistd.h>

using namespace einfuse;

TEST_CASE("complex: numpy's result_type with complex (c64 with f64, i32, u32, u64: c128)") {
    using D = DType;
    const struct {
        D a, b, want;
    } rows[] = {{D::C64, D::C64, D::C64},   {D::C64, D::C128, D::C128}, {D::C64, D::F64, D::C128},
                {D::C64, D::F32, D::C64},   {D::F16, D::C64, D::C64},   {D::BF16, D::C64, D::C64},
                {D::C64, D::I8, D::C64},    {D::C64, D::I16, D::C64},   {D::C64, D::I32, D::C128},
                {D::C64, D::I64, D::C128},  {D::U8, D::C64, D::C64},    {D::U16, D::C64, D::C64},
                {D::U32, D::C64, D::C128},  {D::C64, D::U64, D::C128},  {D::Bool, D::C64, D::C64},
                {D::C128, D::F32, D::C128}, {D::C128, D::Bool, D::C128}};
    for (const auto &r : rows) {
        CAPTURE(dtype_name(r.a));
        CAPTURE(dtype_name(r.b));
        CHECK(frontend::promote_types({r.a, r.b}) == r.want);
        CHECK(frontend::promote_types({r.b, r.a}) == r.want);
    }
    CHECK(dtype_size(DType::C64) == 8);
    CHECK(dtype_size(DType::C128) == 16);
    CHECK(parse_dtype("c128") == DType::C128);
    CHECK(!is_integer(DType::C64));
}

TEST_CASE("complex: .npy <c8 and <c16 round trip; '>c16' reads each part big-endian") {
    auto dir = std::filesystem::temp_directory_path() / ("einfuse_complex_npy_" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    for (DType t : {DType::C64, DType::C128}) {
        Tensor x(t, {2, 3});
        for (int64_t i = 0; i < 6; ++i) x.store_complex(i, {i + 0.5, -2.0 * i});
        std::string path = (dir / (std::string(dtype_name(t)) + ".npy")).string();
        write_npy(path, x);
        Tensor y = read_npy(path);
        CHECK(y.dtype() == t);
        CHECK(y.shape() == Shape{2, 3});
        for (int64_t i = 0; i < 6; ++i) CHECK(y.load_complex(i) == std::complex<double>(i + 0.5, -2.0 * i));
    }
    // numpy.array([1+2j], dtype='>c16'): each double big-endian, real part first.
    std::string header = "{'descr': '>c16', 'fortran_order': False, 'shape': (1,), }";
    header.append((10 + header.size() + 1 + 63) / 64 * 64 - 10 - header.size() - 1, ' ');
    header += '\n';
    std::string file = std::string("\x93NUMPY\x01\x00", 8) + static_cast<char>(header.size()) + '\0' + header;
    for (double v : {1.0, 2.0}) {
        unsigned char bytes[8];
        std::memcpy(bytes, &v, 8);
        for (int b = 7; b >= 0; --b) file += static_cast<char>(bytes[b]);
    }
    std::string path = (dir / "big.npy").string();
    std::ofstream(path, std::ios::binary) << file;
    Tensor z = read_npy(path);
    CHECK(z.dtype() == DType::C128);
    CHECK(z.load_complex(0) == std::complex<double>(1, 2));
    std::filesystem::remove_all(dir);
}

TEST_CASE("complex: the reference computes in complex128") {
    // (1+2i)(2-i) + (3-i)(i) = 5+6i
    ir::Program p = test::einsum_ir("i,i->", DType::C128);
    Tensor a(DType::C128, {2}), b(DType::C128, {2});
    a.store_complex(0, {1, 2});
    a.store_complex(1, {3, -1});
    b.store_complex(0, {2, -1});
    b.store_complex(1, {0, 1});
    Tensor r = ir::evaluate_reference(p, {&a, &b}, {{"i", 2}}).front();
    CHECK(r.dtype() == DType::C128);
    CHECK(r.load_complex(0) == std::complex<double>(5, 6));
    // A complex result is compared by the modulus of the difference.
    Tensor near(DType::C128, {});
    near.store_complex(0, {5, 6 + 1e-9});
    CHECK(ir::max_relative_error(near, r) == doctest::Approx(1e-9 / std::abs(std::complex<double>(5, 6))));
}

TEST_CASE("complex: SplitComplex writes a complex product as real sums over the parts' views") {
    ir::Program p = test::einsum_ir("ij,jk->ik", DType::C64);
    ir::Program q = passes::split_complex(p);
    REQUIRE(q.complex_parts.size() == 3);
    CHECK(q.complex_parts.at("in0") == std::pair<std::string, std::string>("in0_re", "in0_im"));
    REQUIRE(q.inputs.size() == 4);
    CHECK(q.inputs[1].name == "in0_im");
    CHECK(q.inputs[1].dtype == DType::F32);
    REQUIRE(q.definitions.size() == 2);
    CHECK(ir::to_string(q.definitions[0].value) == "sum[j]((in0_re[i,j] * in1_re[j,k]) - (in0_im[i,j] * in1_im[j,k]))");
    CHECK(ir::to_string(q.definitions[1].value) == "sum[j]((in0_re[i,j] * in1_im[j,k]) + (in0_im[i,j] * in1_re[j,k]))");
    // A real program is left as it is.
    ir::Program real = test::einsum_ir("ij,jk->ik");
    ir::Program same = passes::split_complex(real);
    CHECK(same.complex_parts.empty());
    CHECK(same.definitions[0].value.same_as(real.definitions[0].value));
    // A real operand is not split: two products, not four.
    auto ast = frontend::parse_einsum("ij,jk->ik");
    ir::Program mixed = frontend::einsum_program(frontend::resolve_einsum(ast, frontend::label_ranks(ast)),
                                                 {DType::C64, DType::F32});
    ir::Program m = passes::split_complex(mixed);
    CHECK(ir::to_string(m.definitions[0].value) == "sum[j](in0_re[i,j] * in1[j,k])");
    // The whole pipeline: kernels see no complex type; the plan says which form and why.
    passes::Plan plan = passes::lower(p, {{"i", 3}, {"j", 4}, {"k", 5}}, passes::Device::Host);
    for (const auto &k : plan.kernels)
        for (const auto &t : k.params) CHECK(!is_complex(t.dtype));
    CHECK(plan.kernels.size() == 2);
    CHECK(plan.explain().find("as two real sums (not four real GEMMs: too small for GEMMs: M = 3, N = 5, K = 4") !=
          std::string::npos);
}

TEST_CASE("complex: a GEMM-sized complex product is four real GEMMs, each temporary the other's epilogue") {
    ir::Program p = test::einsum_ir("ij,jk->ik", DType::C128);
    passes::Plan plan = passes::lower(p, {{"i", 64}, {"j", 32}, {"k", 48}}, passes::Device::Host);
    REQUIRE(plan.kernels.size() == 4);
    for (const auto &k : plan.kernels) CHECK(k.strategy == ir::Strategy::Gemm);
    CHECK(plan.program.temporaries.size() == 2);
    CHECK(ir::to_string(plan.program.definitions[1].value) == "sum[j](in0_re[i,j] * in1_re[j,k]) - out_ii[i,k]");
    CHECK(ir::to_string(plan.program.definitions[3].value) == "sum[j](in0_re[i,j] * in1_im[j,k]) + out_ir[i,k]");
    CHECK(plan.explain().find("complex product out[i,k] as four real GEMMs") != std::string::npos);
}

TEST_CASE("complex: programs refuse what has no complex meaning here, with a diagnostic") {
    const char *refused[] = {"y[i] = max[j](z[i,j])", "y[i] = log(z[i])", "y[i] = z[i] < w[i]",
                             "y[i] = max(z[i], w[i])", "y[i] = z[i] ^ 3",  "y[i] = prod[j](z[i,j])"};
    for (const char *src : refused) {
        CAPTURE(src);
        try {
            std::map<std::string, DType> types{{"z", DType::C64}};
            if (std::string(src).find("w[") != std::string::npos) types["w"] = DType::C64;
            frontend::program_ir(frontend::parse_program(src), types, {});
            FAIL("accepted");
        } catch (const UserError &e) {
            CHECK(std::string(e.what()).find("of complex values is not supported") != std::string::npos);
        }
    }
    // The same with real inputs is fine, and conj/real/imag of reals are numpy's.
    CHECK_NOTHROW(frontend::program_ir(frontend::parse_program("y[i] = log(z[i]) + imag(z[i])"), {{"z", DType::F32}}, {}));
}
