// Index expressions (ir/Index.h): construction, printing, evaluation, the verifier's checks, and
// hand-built programs with affine reads (a 1-D convolution, a strided one) evaluated by the
// reference interpreter against loops written here.
#include "ir/IRMutator.h"
#include "ir/IRVisitor.h"
#include "ir/Printer.h"
#include "ir/Reference.h"
#include "support/Error.h"

#include <doctest/doctest.h>

#include <map>
#include <random>

using namespace einfuse;
using namespace einfuse::ir;

namespace {

Index affine(std::vector<IndexTerm> terms, int64_t c) { return Index::affine(std::move(terms), c); }

Tensor random_tensor(Shape s) {
    static std::mt19937_64 rng(std::random_device{}());
    Tensor t(DType::F64, std::move(s));
    t.fill_random(rng);
    return t;
}

/** out[i] = sum[r](x[stride*i + r] * w[r]), with x of size `x_size`. */
Program convolution(int64_t stride) {
    Program p;
    p.inputs = {{"x", DType::F64, 1}, {"w", DType::F64, 1}};
    p.outputs = {{"out", DType::F64, 1}};
    p.index_vars = {"i", "r"};
    Expr x = Access::make(DType::F64, "x", {affine({{"i", stride}, {"r", 1}}, 0)});
    Expr w = Access::make(DType::F64, "w", {"r"});
    p.definitions.push_back({"out", {"i"}, Reduce::make({"i"}, {"r"}, ReduceOp::Sum, Binary::make(BinaryOp::Mul, x, w))});
    return p;
}

} // namespace

TEST_CASE("index: a plain variable, a constant and affine combinations") {
    Index i("i");
    REQUIRE(i.as_var() != nullptr);
    CHECK(*i.as_var() == "i");
    CHECK(to_string(i) == "i");
    CHECK(i.vars() == std::vector<std::string>{"i"});

    Index three = Index::constant(3);
    CHECK(three.as_var() == nullptr);
    CHECK(three.vars().empty());
    CHECK(to_string(three) == "3");
    CHECK(to_string(Index::constant(0)) == "0");
    CHECK(to_string(Index::constant(-2)) == "-2");

    Index hr = affine({{"h", 1}, {"r", 1}}, 0);
    CHECK(hr.as_var() == nullptr);
    CHECK(to_string(hr) == "h + r");
    CHECK(hr.vars() == std::vector<std::string>{"h", "r"});

    Index strided = affine({{"h", 2}, {"r", 1}}, -1);
    CHECK(to_string(strided) == "2*h + r - 1");
    CHECK(to_string(affine({{"i", -1}}, 3)) == "-i + 3");
    CHECK(to_string(affine({{"i", 1}, {"j", -2}}, 0)) == "i - 2*j");

    // Normalised: terms of one variable merge, zero terms vanish, so equal indices compare equal.
    CHECK(affine({{"h", 1}, {"r", 1}, {"h", 1}}, 0) == affine({{"h", 2}, {"r", 1}}, 0));
    Index back_to_var = affine({{"i", 1}, {"j", 1}, {"j", -1}}, 0);
    REQUIRE(back_to_var.as_var() != nullptr);
    CHECK(*back_to_var.as_var() == "i");
    CHECK(affine({{"i", 1}}, 1) != Index("i"));
    CHECK(to_string(std::vector<Index>{"b", hr, three}) == "b,h + r,3");
}

TEST_CASE("index: evaluation, renaming, ranges") {
    std::map<std::string, int64_t> at{{"h", 4}, {"r", 2}};
    auto value = [&](const std::string &v) { return at.at(v); };
    CHECK(affine({{"h", 2}, {"r", 1}}, -1).evaluate(value) == 9);
    CHECK(Index::constant(7).evaluate(value) == 7);
    CHECK(Index("r").evaluate(value) == 2);

    CHECK(to_string(affine({{"h", 2}, {"r", 1}}, 0).renamed({{"h", "y"}})) == "2*y + r");
    CHECK(to_string(affine({{"h", 1}, {"r", 1}}, 0).renamed({{"r", "h"}})) == "2*h");

    std::map<std::string, int64_t> extents{{"i", 5}, {"r", 3}};
    auto range = index_range(affine({{"i", 1}, {"r", -1}}, 2), extents);
    REQUIRE(range.has_value());
    CHECK(range->first == 0);  // i = 0, r = 2
    CHECK(range->second == 6); // i = 4, r = 0
    CHECK_FALSE(index_range(Index("i"), {{"i", 0}}).has_value());

    CHECK(index_out_of_range("x", 0, affine({{"i", 1}, {"r", 1}}, 0), 7, extents) == "");
    CHECK(index_out_of_range("x", 0, affine({{"i", 1}, {"r", 1}}, 0), 6, extents) ==
          "x's index i + r reaches 6 in dimension 0 of size 6");
    CHECK(index_out_of_range("x", 1, affine({{"i", 1}}, -1), 9, extents) ==
          "x's index i - 1 reaches -1 in dimension 1 of size 9");

    std::string why;
    CHECK(plain_vars("x", {"n", "c"}, &why) == std::vector<std::string>{"n", "c"});
    CHECK_FALSE(plain_vars("x", {"n", affine({{"h", 1}, {"r", 1}}, 0)}, &why).has_value());
    CHECK(why == "x's index h + r is not a plain variable");
    CHECK_THROWS_AS(expect_vars("x", {Index::constant(0)}), InternalError);
}

TEST_CASE("index: the element offset is stride times index, summed over dimensions") {
    auto terms = element_offset({"i", affine({{"h", 2}, {"r", 1}}, -1), Index::constant(0)});
    REQUIRE(terms.size() == 4);
    CHECK((terms[0].dim == 0 && terms[0].coeff == 1 && terms[0].var == "i"));
    CHECK((terms[1].dim == 1 && terms[1].coeff == 2 && terms[1].var == "h"));
    CHECK((terms[2].dim == 1 && terms[2].coeff == 1 && terms[2].var == "r"));
    CHECK((terms[3].dim == 1 && terms[3].coeff == -1 && terms[3].var.empty()));
}

TEST_CASE("index: the printer shows affine reads, and plain ones as before") {
    Program p = convolution(2);
    CHECK(to_string(p) == "input x: f64 rank 1\ninput w: f64 rank 1\noutput out: f64 rank 1\n"
                          "out[i] = sum[r](x[2*i + r] * w[r])\n");
    CHECK(to_string(Access::make(DType::F32, "in0", {"b", "i", "j"})) == "in0[b,i,j]");
}

TEST_CASE("index: the verifier checks index expressions") {
    verify(convolution(1));
    Program unbound = convolution(1);
    unbound.definitions[0].value =
        Reduce::make({"i"}, {"r"}, ReduceOp::Sum, Access::make(DType::F64, "x", {affine({{"i", 1}, {"q", 1}}, 0)}));
    unbound.index_vars.push_back("q");
    CHECK_THROWS_WITH_AS(verify(unbound), doctest::Contains("index 'q' is not bound here"), InternalError);

    Program huge = convolution(1);
    huge.definitions[0].value = Reduce::make({"i"}, {"r"}, ReduceOp::Sum,
                                             Access::make(DType::F64, "x", {affine({{"i", int64_t{1} << 50}}, 0)}));
    CHECK_THROWS_WITH_AS(verify(huge), doctest::Contains("coefficient"), InternalError);
}

TEST_CASE("index: the reference interpreter evaluates convolutions") {
    for (int64_t stride : {1, 2}) {
        CAPTURE(stride);
        const int64_t I = 6, R = 3, X = stride * (I - 1) + R;
        Tensor x = random_tensor({X}), w = random_tensor({R});
        Tensor out = evaluate_reference(convolution(stride), {&x, &w}, {{"i", I}, {"r", R}}).front();
        REQUIRE(out.shape() == Shape{I});
        for (int64_t i = 0; i < I; ++i) {
            double want = 0;
            for (int64_t r = 0; r < R; ++r) want += x.load(stride * i + r) * w.load(r);
            CHECK(out.load(i) == doctest::Approx(want).epsilon(1e-14));
        }
        // One element short: the last output would read past x's end.
        Tensor short_x = random_tensor({X - 1});
        CHECK_THROWS_WITH_AS(evaluate_reference(convolution(stride), {&short_x, &w}, {{"i", I}, {"r", R}}),
                             doctest::Contains("x's index"), UserError);
    }
}

TEST_CASE("index: a constant index reads one element") {
    Program p;
    p.inputs = {{"x", DType::F64, 2}};
    p.outputs = {{"out", DType::F64, 1}};
    p.index_vars = {"i"};
    p.definitions.push_back({"out", {"i"}, Reduce::make({"i"}, {}, ReduceOp::Sum,
                                                        Access::make(DType::F64, "x", {"i", Index::constant(2)}))});
    verify(p);
    Tensor x = random_tensor({4, 3});
    Tensor out = evaluate_reference(p, {&x}, {{"i", 4}}).front();
    for (int64_t i = 0; i < 4; ++i) CHECK(out.load(i) == x.load(i * 3 + 2));
}

TEST_CASE("visitor and mutator: walk every node, rebuild only what changed") {
    Program p = convolution(1);
    struct CountReads : IRVisitor {
        std::vector<std::string> tensors;
        using IRVisitor::visit;
        void visit(const Access &a) override { tensors.push_back(a.tensor); }
    } count;
    count.walk(p.definitions[0].value);
    CHECK(count.tensors == std::vector<std::string>{"x", "w"});

    struct Nothing : IRMutator {};
    Expr v = p.definitions[0].value;
    CHECK(Nothing().mutate(v).same_as(v));

    struct ShiftX : IRMutator {
        using IRMutator::visit;
        Expr visit(const Access &a, const Expr &self) override {
            if (a.tensor != "x") return self;
            return Access::make(a.type, a.tensor, {affine({{"i", 1}, {"r", 1}}, 1)});
        }
    };
    Expr shifted = ShiftX().mutate(v);
    CHECK_FALSE(shifted.same_as(v));
    CHECK(to_string(shifted) == "sum[r](x[i + r + 1] * w[r])");
    // The untouched operand is the very same node.
    CHECK(shifted.as<Reduce>()->body.as<Binary>()->b.same_as(v.as<Reduce>()->body.as<Binary>()->b));

    Stmt loop = For::make("i", LoopKind::Parallel, Store::make("out", {"i"}, Access::make(DType::F64, "w", {"i"})));
    CHECK(Nothing().mutate(loop).same_as(loop));
}
