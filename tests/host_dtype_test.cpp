// The LLVM host backend in every element type: casts, rounding to f16/bf16 bit for bit,
// integer wrapping, each against values computed here.
#include "HostKernelTestUtil.h"

namespace {

using einfuse::Tensor;

int64_t offset_of(const Tensor &t, std::initializer_list<int64_t> idx) {
    int64_t offset = 0, d = 0;
    for (int64_t i : idx)
        offset += i * t.strides()[d++];
    return offset;
}

/** A random tensor (every storage element, padding included) of dtype t laid out with `strides`. */
Tensor random_tensor(DType t, einfuse::Shape shape, std::vector<int64_t> strides) {
    Tensor x(t, std::move(shape), std::move(strides));
    x.fill_random(rng());
    return x;
}

/** v rounded to t the way the kernels store it (v already holds the value computed in f32/f64). */
double stored(DType t, double v) {
    Tensor w(t, {1});
    w.store(0, v);
    return w.load(0);
}

/** The type a kernel over elements of t computes in: f32 for f16 and bf16, t otherwise. */
DType compute_type(DType t) { return t == DType::F16 || t == DType::BF16 ? DType::F32 : t; }

/** Relative rounding error of one store to t: 2^-11 for f16, 2^-8 for bf16; 0 for integers. */
double unit_roundoff(DType t) {
    switch (t) {
    case DType::F16:
        return 0x1p-11;
    case DType::BF16:
        return 0x1p-8;
    case DType::F32:
        return 0x1p-24;
    case DType::F64:
        return 0x1p-53;
    default:
        return 0;
    }
}

const DType kAllTypes[] = {DType::F16,  DType::BF16, DType::F32, DType::F64, DType::I32, DType::I64, DType::Bool,
                           DType::I8,   DType::I16,  DType::U8,  DType::U16, DType::U32, DType::U64};

/** out[i,j] = Cast(T, Cast(C, x[i,j]) * Cast(C, y[j])), C = compute_type(T), both loops parallel. */
ir::Kernel cast_product_kernel(DType t) {
    DType c = compute_type(t);
    auto x = ir::Cast::make(c, ir::Access::make(t, "x", {"i", "j"}));
    auto y = ir::Cast::make(c, ir::Access::make(t, "y", {"j"}));
    auto value = ir::Cast::make(t, ir::Binary::make(ir::BinaryOp::Mul, x, y));
    return kernel("cast_product", t, {{"x", t, 2}, {"y", t, 1}, {"out", t, 2}}, 2, {"i", "j"},
                  nest({"i", "j"}, ir::LoopKind::Parallel, ir::Store::make("out", {"i", "j"}, value)));
}

} // namespace

TEST_CASE("host backend: elementwise product in every dtype is exact") {
    for (DType t : kAllTypes) {
        SUBCASE(std::string(einfuse::dtype_name(t)).c_str()) {
            auto module = HostModule::compile({cast_product_kernel(t)});
            const int64_t I = 37, J = 45;
            Tensor x = random_tensor(t, {I, J}, packed({I, J}, {0, 1}, 3)); // transposed, padded
            Tensor y = random_tensor(t, {J}, {1});
            Tensor out = random_tensor(t, {I, J}, packed({I, J}, {1, 0}, 0)); // unwritten: mismatch
            void *data[] = {x.data(), y.data(), out.data()};
            run_split(module->function("cast_product"), data, concat({&x.strides(), &y.strides(), &out.strides()}),
                      {I, J}, I, 2);
            int bad = 0;
            for (int64_t i = 0; i < I; ++i)
                for (int64_t j = 0; j < J; ++j) {
                    double a = x.load(offset_of(x, {i, j})), b = y.load(j);
                    double product = compute_type(t) == DType::F32 ? double(float(a) * float(b)) : a * b;
                    bad += out.load(offset_of(out, {i, j})) != stored(t, product);
                }
            CHECK(bad == 0);
            if (t == DType::F16 || t == DType::BF16) // the conversions vectorise
                CHECK(module->optimized_ir().find(" x i16>") != std::string::npos);
        }
    }
}

namespace {

/** "bij,bjk->bik" with its own types: acc = 0; acc = acc + Cast(acc, in0) * Cast(acc, in1);
 * out = Cast(out, acc). */
struct TypedBmmRow {
    const char *name;
    DType in0, in1, acc, out;
};

const TypedBmmRow kTypedBmmRows[] = {
    {"f16 x f16, f32 accumulator, f16 out", DType::F16, DType::F16, DType::F32, DType::F16},
    {"bf16 x bf16, f32 accumulator, bf16 out", DType::BF16, DType::BF16, DType::F32, DType::BF16},
    {"f16 x f32, f32 accumulator, f32 out", DType::F16, DType::F32, DType::F32, DType::F32},
    {"bf16 x f16, f32 accumulator, f64 out", DType::BF16, DType::F16, DType::F32, DType::F64},
    {"f32 x f64 through Cast, f64 accumulator and out", DType::F32, DType::F64, DType::F64, DType::F64},
    {"i32, exact", DType::I32, DType::I32, DType::I32, DType::I32},
    {"i64, exact", DType::I64, DType::I64, DType::I64, DType::I64},
    {"i32 x i64, i64 accumulator, i32 out", DType::I32, DType::I64, DType::I64, DType::I32},
    {"i8, wraps (37 terms up to 16 overflow)", DType::I8, DType::I8, DType::I8, DType::I8},
    {"u8 x i8 in i16 (numpy's promotion)", DType::U8, DType::I8, DType::I16, DType::I16},
    {"i16 x u16 in i32, i16 out", DType::I16, DType::U16, DType::I32, DType::I16},
    {"u32, exact", DType::U32, DType::U32, DType::U32, DType::U32},
    {"u64 x u8 in u64", DType::U64, DType::U8, DType::U64, DType::U64},
    {"bool: the or of ands", DType::Bool, DType::Bool, DType::Bool, DType::Bool},
    {"u8 x f16, f32 accumulator, f16 out", DType::U8, DType::F16, DType::F32, DType::F16},
};

ir::Kernel typed_bmm_kernel(const TypedBmmRow &r) {
    auto acc = ir::ScalarRef::make(r.acc, "acc");
    auto product =
        ir::Binary::make(ir::BinaryOp::Mul, ir::Cast::make(r.acc, ir::Access::make(r.in0, "in0", {"b", "i", "j"})),
                         ir::Cast::make(r.acc, ir::Access::make(r.in1, "in1", {"b", "j", "k"})));
    auto body = ir::Block::make({
        ir::DeclareScalar::make("acc", r.acc, ir::Const::make(r.acc, 0.0)),
        ir::For::make("j", ir::LoopKind::Serial,
                      ir::AssignScalar::make("acc", ir::Binary::make(ir::BinaryOp::Add, acc, product))),
        ir::Store::make("out", {"b", "i", "k"}, ir::Cast::make(r.out, acc)),
    });
    return typed_kernel("bmm", {{"in0", r.in0, 3}, {"in1", r.in1, 3}, {"out", r.out, 3}}, 2, {"b", "i", "j", "k"},
                        nest({"b", "i", "k"}, ir::LoopKind::Parallel, body));
}

} // namespace

TEST_CASE("host backend: bij,bjk->bik in every dtype matches a double loop") {
    for (const TypedBmmRow &r : kTypedBmmRows) {
        SUBCASE(r.name) {
            auto module = HostModule::compile({typed_bmm_kernel(r)});
            const int64_t B = 6, I = 5, J = 37, K = 9;
            Tensor a = random_tensor(r.in0, {B, I, J}, packed({B, I, J}, {0, 2, 1}, 2));
            Tensor b = random_tensor(r.in1, {B, J, K}, packed({B, J, K}, {1, 2, 0}, 1));
            Tensor out = random_tensor(r.out, {B, I, K}, packed({B, I, K}, {2, 1, 0}, 0));
            void *data[] = {a.data(), b.data(), out.data()};
            run_split(module->function("bmm"), data, concat({&a.strides(), &b.strides(), &out.strides()}), {B, I, J, K},
                      B, 3);
            double acc_eps = r.acc == DType::F32 ? 0x1p-23 : r.acc == DType::F64 ? 0x1p-52 : 0;
            Mismatches bad;
            for (int64_t ib = 0; ib < B; ++ib)
                for (int64_t i = 0; i < I; ++i)
                    for (int64_t k = 0; k < K; ++k) {
                        double want = 0, magnitude = 0;
                        for (int64_t j = 0; j < J; ++j) {
                            double p = a.load(offset_of(a, {ib, i, j})) * b.load(offset_of(b, {ib, j, k}));
                            want += p;
                            magnitude += std::abs(p);
                        }
                        if (einfuse::is_integer(r.acc)) // the sum wraps in acc, the store in out
                            want = einfuse::wrap_to(r.out, einfuse::wrap_to(r.acc, want));
                        double acc_error = 2 * acc_eps * double(J + 1) * magnitude; // 0 for integers
                        double bound = acc_error + unit_roundoff(r.out) * (std::abs(want) + acc_error);
                        bad.expect(out.load(offset_of(out, {ib, i, k})), want, bound);
                    }
            CHECK(bad.count == 0);
        }
    }
}

namespace {

/** out[i] = Cast(to, x[i]), over one parallel loop. */
ir::Kernel cast_kernel(DType from, DType to) {
    return typed_kernel(
        "cast", {{"x", from, 1}, {"out", to, 1}}, 1, {"i"},
        ir::For::make("i", ir::LoopKind::Parallel,
                      ir::Store::make("out", {"i"}, ir::Cast::make(to, ir::Access::make(from, "x", {"i"})))));
}

/** Runs cast_kernel(from, to) over the n elements of `in` (raw, of from's size) into `out`. */
void run_cast(DType from, DType to, const void *in, void *out, int64_t n) {
    auto module = HostModule::compile({cast_kernel(from, to)});
    void *data[] = {const_cast<void *>(in), out};
    std::vector<int64_t> strides{1, 1}, extents{n};
    run_split(module->function("cast"), data, strides, extents, n, 2);
}

template <class T> uint64_t bits_of(T v) {
    uint64_t u = 0;
    std::memcpy(&u, &v, sizeof v);
    return u;
}

/** The f16/bf16 pattern nearest to d, ties to the even pattern, found independently of the
 * backend's algorithm: compare |d| with the neighbours of a first guess, where infinity stands
 * for the step after the largest finite value (2^16 for f16, 2^128 for bf16). */
uint16_t nearest_16bit(double d, DType to) {
    bool half = to == DType::F16;
    uint16_t sign = std::signbit(d) ? 0x8000 : 0;
    uint16_t inf = half ? 0x7c00 : 0x7f80;
    double mag = std::abs(d);
    auto value = [&](int m) {
        return m == inf ? (half ? 0x1p16 : 0x1p128)
               : half   ? double(einfuse::half_to_float(m))
                        : double(einfuse::bf16_to_float(m));
    };
    int guess = (half ? einfuse::float_to_half(float(mag)) : einfuse::float_to_bf16(float(mag))) & 0x7fff;
    int best = -1;
    for (int m = std::max(guess - 1, 0); m <= std::min<int>(guess + 1, inf); ++m) {
        if (best < 0) {
            best = m;
            continue;
        }
        double dm = std::abs(value(m) - mag), db = std::abs(value(best) - mag);
        if (dm < db || (dm == db && m % 2 == 0)) best = m;
    }
    return static_cast<uint16_t>(sign | best);
}

/** Values around every rounding boundary of f16 and bf16: ties, just past ties, the largest
 * finite values and overflow, subnormals, and (for f64 sources) the double-rounding traps. */
const double kEdgeValues[] = {0.0,
                              -0.0,
                              1.0,
                              -1.0,
                              0.1,
                              -1.0 / 3,
                              1 + 0x1p-11,
                              1 + 3 * 0x1p-11,
                              1 + 0x1p-11 + 0x1p-23,
                              -(1 + 0x1p-11),
                              1 + 0x1p-8,
                              1 + 3 * 0x1p-8,
                              1 + 0x1p-8 + 0x1p-23,
                              1 + 0x1p-8 + 0x1p-40,
                              1 + 0x1p-11 + 0x1p-40,
                              65504,
                              65519.99609375,
                              65520,
                              -65520,
                              65520 - 0x1p-30,
                              1e6,
                              3.3895313892515355e38,
                              3.4e38,
                              1e300,
                              -1e300,
                              0x1p-24,
                              0x1p-25,
                              3 * 0x1p-25,
                              0x1p-25 + 0x1p-40,
                              0x1p-14,
                              0x1p-14 - 0x1p-25,
                              -0x1p-14 + 0x1p-25,
                              1e-10,
                              -2.5e-8,
                              1e-40,
                              0x1p-133,
                              0x1p-134,
                              3 * 0x1p-134,
                              1e-300,
                              -1e-300,
                              std::numeric_limits<double>::infinity(),
                              -std::numeric_limits<double>::infinity(),
                              std::numeric_limits<double>::quiet_NaN(),
                              -std::numeric_limits<double>::quiet_NaN()};

} // namespace

TEST_CASE("host backend: f32/f64 -> f16/bf16 round to nearest even, bit for bit") {
    const int n = sizeof kEdgeValues / sizeof kEdgeValues[0];
    for (DType to : {DType::F16, DType::BF16}) {
        const bool half = to == DType::F16;
        SUBCASE((std::string("f32 -> ") + std::string(einfuse::dtype_name(to)) + ", edges and random bit patterns")
                    .c_str()) {
            std::vector<float> in;
            for (double d : kEdgeValues)
                in.push_back(float(d));
            std::uniform_int_distribution<uint32_t> any;
            for (int r = 0; r < (1 << 16); ++r) {
                uint32_t u = any(rng());
                float f;
                std::memcpy(&f, &u, 4);
                in.push_back(f);
            }
            std::vector<uint16_t> out(in.size(), 0xdead);
            run_cast(DType::F32, to, in.data(), out.data(), int64_t(in.size()));
            int bad = 0;
            for (std::size_t e = 0; e < in.size(); ++e)
                bad += out[e] != (half ? einfuse::float_to_half(in[e]) : einfuse::float_to_bf16(in[e]));
            CHECK(bad == 0);
        }
        SUBCASE((std::string("f64 -> ") + std::string(einfuse::dtype_name(to)) + ", one rounding").c_str()) {
            std::vector<uint16_t> out(n, 0xdead);
            run_cast(DType::F64, to, kEdgeValues, out.data(), n);
            for (int e = 0; e < n; ++e) {
                double d = kEdgeValues[e];
                uint16_t want = std::isnan(d)
                                    ? (half ? einfuse::float_to_half(float(d)) : einfuse::float_to_bf16(float(d)))
                                    : nearest_16bit(d, to);
                INFO("value " << d);
                CHECK(out[e] == want);
            }
        }
    }
    SUBCASE("the double-rounding trap: f64 1 + 2^-11 + 2^-40 -> f16 is 1 + 2^-10, not 1") {
        double d = 1 + 0x1p-11 + 0x1p-40;
        uint16_t out = 0;
        run_cast(DType::F64, DType::F16, &d, &out, 1);
        CHECK(out == 0x3c01);
    }
}

TEST_CASE("host backend: every f16 and bf16 pattern widens exactly") {
    std::vector<uint16_t> all(1 << 16);
    for (int h = 0; h < (1 << 16); ++h)
        all[h] = static_cast<uint16_t>(h);
    for (DType from : {DType::F16, DType::BF16}) {
        auto widen = [&](uint16_t h) {
            return from == DType::F16 ? einfuse::half_to_float(h) : einfuse::bf16_to_float(h);
        };
        SUBCASE((std::string(einfuse::dtype_name(from)) + " -> f32").c_str()) {
            std::vector<float> out(all.size());
            run_cast(from, DType::F32, all.data(), out.data(), int64_t(all.size()));
            int bad = 0;
            for (std::size_t h = 0; h < all.size(); ++h)
                bad += bits_of(out[h]) != bits_of(widen(all[h]));
            CHECK(bad == 0);
        }
        SUBCASE((std::string(einfuse::dtype_name(from)) + " -> f64").c_str()) {
            std::vector<double> out(all.size());
            run_cast(from, DType::F64, all.data(), out.data(), int64_t(all.size()));
            int bad = 0;
            for (std::size_t h = 0; h < all.size(); ++h) {
                double want = widen(all[h]);
                bad += std::isnan(want) ? !std::isnan(out[h]) : bits_of(out[h]) != bits_of(want);
            }
            CHECK(bad == 0);
        }
    }
}

namespace {

struct CastRow {
    const char *name;
    DType from, to;
    std::vector<double> in, want; // want NaN: any NaN
};

const double kInf = std::numeric_limits<double>::infinity();
const double kNaN = std::numeric_limits<double>::quiet_NaN();

const CastRow kCastRows[] = {
    {"f32 -> i32 truncates toward zero, saturates, nan is 0",
     DType::F32,
     DType::I32,
     {2.75, -2.75, 0.5, -0.5, 123456.9, 3e9, -3e9, kNaN},
     {2, -2, 0, 0, 123456, 2147483647.0, -2147483648.0, 0}},
    {"f64 -> i64",
     DType::F64,
     DType::I64,
     {-1e15 - 0.75, 4503599627370495.5, 1e19, -1e19},
     {-1e15, 4503599627370495.0, 0x1p63, -0x1p63}},
    {"f16 -> i32", DType::F16, DType::I32, {-3.5, 65504, -0.75}, {-3, 65504, 0}},
    {"bf16 -> i64", DType::BF16, DType::I64, {0x1p40, -384, 1.9921875}, {0x1p40, -384, 1}},
    {"i32 -> f16 rounds to nearest even",
     DType::I32,
     DType::F16,
     {2049, 2051, 70000, -65519, 65520},
     {2048, 2052, kInf, -65504, kInf}},
    {"i64 -> bf16",
     DType::I64,
     DType::BF16,
     {257, 259, 0x1p40 + 0x1p32, 0x1p40 + 0x1p32 + 1},
     {256, 260, 0x1p40, 0x1p40 + 0x1p33}},
    {"i64 -> f32", DType::I64, DType::F32, {16777217, 16777219, -0x1p40 - 1}, {16777216, 16777220, -0x1p40}},
    {"i64 -> i32 wraps", DType::I64, DType::I32, {0x1p32 + 5, 0x1p31, -0x1p31 - 1, -7}, {5, -0x1p31, 0x1p31 - 1, -7}},
    {"i32 -> i64 sign-extends", DType::I32, DType::I64, {-7, 2147483647.0}, {-7, 2147483647.0}},
    {"i32 -> f64 is exact", DType::I32, DType::F64, {-2147483648.0, 123456789}, {-2147483648.0, 123456789}},
    {"f64 -> f32 rounds to nearest even",
     DType::F64,
     DType::F32,
     {1 + 0x1p-24, 1 + 3 * 0x1p-24, 1e39, 1e-50},
     {1, 1 + 0x1p-22, kInf, 0}},
    {"f32 -> f64 is exact", DType::F32, DType::F64, {double(0.1f), -kInf}, {double(0.1f), -kInf}},
    // Float to a narrow or unsigned integer: through i32 (i64 for u32), then the low bits, as
    // numpy's astype on x86; NaN is 0.
    {"f32 -> u8 through i32", DType::F32, DType::U8, {-1, 300, 2.9, kNaN, 3e9}, {255, 44, 2, 0, 255}},
    {"f64 -> i8 through i32", DType::F64, DType::I8, {-129, 127.9, -3e10, -2.5}, {127, 127, 0, -2}},
    {"f64 -> i16", DType::F64, DType::I16, {40000, -32768.5, 65536 + 7}, {40000 - 65536, -32768, 7}},
    {"f32 -> u16", DType::F32, DType::U16, {-2, 65535.5, 70000}, {65534, 65535, 70000 - 65536}},
    {"f32 -> u32 through i64", DType::F32, DType::U32, {-1, 5e9, 7.5}, {4294967295.0, 5e9 - 0x1p32, 7}},
    {"f64 -> u64", DType::F64, DType::U64, {-1, 1e19, 0x1p63, 1.5e20, kNaN}, {0x1p64, 1e19, 0x1p63, 0x1p64, 0}},
    {"f16 -> u64", DType::F16, DType::U64, {-2, 65504}, {0x1p64, 65504}},
    {"f64 -> bool is != 0, NaN is true", DType::F64, DType::Bool, {0, -0.0, 0.5, kNaN, -3}, {0, 0, 1, 1, 1}},
    {"bf16 -> bool", DType::BF16, DType::Bool, {0, 0x1p-100, -0.0}, {0, 1, 0}},
    {"i16 -> bool", DType::I16, DType::Bool, {0, 256, -1}, {0, 1, 1}},
    {"u64 -> bool", DType::U64, DType::Bool, {0x1p63, 0}, {1, 0}},
    {"bool -> f32", DType::Bool, DType::F32, {1, 0}, {1, 0}},
    {"bool -> i64", DType::Bool, DType::I64, {1, 0}, {1, 0}},
    {"u8 -> i8 wraps", DType::U8, DType::I8, {255, 128, 127}, {-1, -128, 127}},
    {"i8 -> u16 sign-extends, then wraps", DType::I8, DType::U16, {-1, -128, 5}, {65535, 65408, 5}},
    {"u8 -> i64 zero-extends", DType::U8, DType::I64, {255, 128}, {255, 128}},
    {"i64 -> u8 keeps the low bits", DType::I64, DType::U8, {-1, 263}, {255, 7}},
    {"u32 -> i32 wraps", DType::U32, DType::I32, {4294967295.0, 0x1p31}, {-1, -0x1p31}},
    {"u32 -> f32 is unsigned", DType::U32, DType::F32, {4294967295.0, 16777217}, {0x1p32, 16777216}},
    {"u64 -> f64 is unsigned", DType::U64, DType::F64, {0x1p63, 0x1p63 + 0x1p11}, {0x1p63, 0x1p63 + 0x1p11}},
    {"u64 -> i64 wraps", DType::U64, DType::I64, {0x1p63}, {-0x1p63}},
    {"u16 -> f16 rounds", DType::U16, DType::F16, {65535, 2049}, {kInf, 2048}},
    {"i8 -> bf16 is exact", DType::I8, DType::BF16, {-128, 127}, {-128, 127}},
    {"u16 -> f64", DType::U16, DType::F64, {65535}, {65535}},
    {"f16 -> bf16",
     DType::F16,
     DType::BF16,
     {1 + 0x1p-10, 1 + 0x1p-8 + 0x1p-10, 65504, 0x1p-24},
     {1, 1 + 0x1p-7, 65536, 0x1p-24}},
    {"bf16 -> f16",
     DType::BF16,
     DType::F16,
     {1 + 0x1p-7, 0x1p20, 0x1p-30, -0x1p-25 - 0x1p-32},
     {1 + 0x1p-7, kInf, 0, -0x1p-24}},
};

} // namespace

TEST_CASE("host backend: casts between every kind of type follow numpy") {
    for (const CastRow &r : kCastRows) {
        SUBCASE(r.name) {
            const int64_t n = int64_t(r.in.size());
            Tensor in(r.from, {n}), out(r.to, {n});
            for (int64_t e = 0; e < n; ++e)
                in.store(e, r.in[e]);
            run_cast(r.from, r.to, in.data(), out.data(), n);
            for (int64_t e = 0; e < n; ++e) {
                INFO(r.name << ", element " << e);
                if (std::isnan(r.want[e]))
                    CHECK(std::isnan(out.load(e)));
                else
                    CHECK(out.load(e) == r.want[e]);
            }
        }
    }
}

namespace {

/** q = x / y, s = x + y, p = x * y, m = max(x, y) - min(x, y), elementwise on integers. */
ir::Kernel integer_ops_kernel(DType t) {
    using Op = ir::BinaryOp;
    auto x = ir::Access::make(t, "x", {"i"}), y = ir::Access::make(t, "y", {"i"});
    auto bin = [](Op op, ir::Expr a, ir::Expr b) { return ir::Binary::make(op, a, b); };
    return kernel(
        "integer_ops", t, {{"x", t, 1}, {"y", t, 1}, {"q", t, 1}, {"s", t, 1}, {"p", t, 1}, {"m", t, 1}}, 2, {"i"},
        ir::For::make(
            "i", ir::LoopKind::Parallel,
            ir::Block::make({ir::Store::make("q", {"i"}, bin(Op::Div, x, y)),
                             ir::Store::make("s", {"i"}, bin(Op::Add, x, y)),
                             ir::Store::make("p", {"i"}, bin(Op::Mul, x, y)),
                             ir::Store::make("m", {"i"}, bin(Op::Sub, bin(Op::Max, x, y), bin(Op::Min, x, y)))})));
}

template <class I> I wrap(uint64_t v) { return static_cast<I>(v); } // two's complement

template <class I> DType integer_dtype_of() {
    if constexpr (std::is_signed_v<I>)
        return sizeof(I) == 1 ? DType::I8 : sizeof(I) == 2 ? DType::I16 : sizeof(I) == 4 ? DType::I32 : DType::I64;
    else
        return sizeof(I) == 1 ? DType::U8 : sizeof(I) == 2 ? DType::U16 : sizeof(I) == 4 ? DType::U32 : DType::U64;
}

template <class I> void check_integer_ops() {
    using U = std::make_unsigned_t<I>;
    const I lo = std::numeric_limits<I>::min(), hi = std::numeric_limits<I>::max();
    std::vector<I> x, y;
    if constexpr (std::is_signed_v<I>)
        x = {7, -7, 7, -7, hi, lo, lo, 5, hi, 3, -4}, y = {2, 2, -2, -2, 1, -1, 1, 0, hi, -4, 3};
    else // unsigned: no sign anywhere (max, min, /): hi is the largest, never -1
        x = {7, 7, hi, 0, hi, 5, 3, 1, I(hi - 1)}, y = {2, 3, 1, 1, hi, 0, hi, hi, hi};
    const std::size_t n = x.size();
    std::vector<I> q(n), s(n), p(n), m(n);
    DType t = integer_dtype_of<I>();
    auto module = HostModule::compile({integer_ops_kernel(t)});
    void *data[] = {x.data(), y.data(), q.data(), s.data(), p.data(), m.data()};
    std::vector<int64_t> strides(6, 1), extents{int64_t(n)};
    run_split(module->function("integer_ops"), data, strides, extents, int64_t(n), 2);
    for (std::size_t e = 0; e < n; ++e) {
        INFO("x = " << x[e] << ", y = " << y[e]);
        I want_q = y[e] == 0 ? 0 : (std::is_signed_v<I> && y[e] == I(-1)) ? wrap<I>(U(0) - U(x[e])) : I(x[e] / y[e]);
        CHECK(q[e] == want_q);
        CHECK(s[e] == wrap<I>(uint64_t(U(x[e])) + uint64_t(U(y[e])))); // in uint64_t: u16 * u16 overflows int
        CHECK(p[e] == wrap<I>(uint64_t(U(x[e])) * uint64_t(U(y[e]))));
        CHECK(m[e] == wrap<I>(uint64_t(U(std::max(x[e], y[e]))) - uint64_t(U(std::min(x[e], y[e])))));
    }
}

} // namespace

TEST_CASE("host backend: integer arithmetic wraps; division truncates, x/0 is 0, MIN/-1 is MIN") {
    SUBCASE("i8") { check_integer_ops<int8_t>(); }
    SUBCASE("i16") { check_integer_ops<int16_t>(); }
    SUBCASE("i32") { check_integer_ops<int32_t>(); }
    SUBCASE("i64") { check_integer_ops<int64_t>(); }
    SUBCASE("u8") { check_integer_ops<uint8_t>(); }
    SUBCASE("u16") { check_integer_ops<uint16_t>(); }
    SUBCASE("u32") { check_integer_ops<uint32_t>(); }
    SUBCASE("u64") { check_integer_ops<uint64_t>(); }
}

TEST_CASE("host backend: bool is numpy's einsum of bools: + is or, * is and, max or, min and; no minus") {
    using Op = ir::BinaryOp;
    const DType t = DType::Bool;
    auto x = ir::Access::make(t, "x", {"i"}), y = ir::Access::make(t, "y", {"i"});
    auto store = [&](const char *out, Op op) { return ir::Store::make(out, {"i"}, ir::Binary::make(op, x, y)); };
    ir::Kernel k = kernel("bool_ops", t, {{"x", t, 1}, {"y", t, 1}, {"s", t, 1}, {"p", t, 1}, {"mx", t, 1}, {"mn", t, 1}, {"lt", t, 1}},
                          2, {"i"},
                          ir::For::make("i", ir::LoopKind::Parallel,
                                        ir::Block::make({store("s", Op::Add), store("p", Op::Mul), store("mx", Op::Max),
                                                         store("mn", Op::Min), store("lt", Op::Lt)})));
    auto module = HostModule::compile({k});
    std::vector<uint8_t> a{0, 0, 1, 1}, b{0, 1, 0, 1}, s(4, 7), p(4, 7), mx(4, 7), mn(4, 7), lt(4, 7);
    void *data[] = {a.data(), b.data(), s.data(), p.data(), mx.data(), mn.data(), lt.data()};
    std::vector<int64_t> strides(7, 1), extents{4};
    run_split(module->function("bool_ops"), data, strides, extents, 4, 2);
    for (std::size_t e = 0; e < 4; ++e) {
        INFO(int(a[e]) << " op " << int(b[e]));
        CHECK(s[e] == (a[e] | b[e]));
        CHECK(p[e] == (a[e] & b[e]));
        CHECK(mx[e] == (a[e] | b[e]));
        CHECK(mn[e] == (a[e] & b[e]));
        CHECK(lt[e] == (a[e] < b[e]));
    }
    ir::Kernel minus = kernel("bool_minus", t, {{"x", t, 1}, {"y", t, 1}, {"s", t, 1}}, 2, {"i"},
                              ir::For::make("i", ir::LoopKind::Parallel, store("s", Op::Sub)));
    CHECK_THROWS_AS(HostModule::compile({minus}), einfuse::InternalError);
}
