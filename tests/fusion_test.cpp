// fuse_producers: what fuses (epilogues, elementwise chains, nested reductions) and what is
// materialised (a reduction read across a loop it does not index), on programs built in IR.
#include "ir/Printer.h"
#include "ir/Reference.h"
#include "passes/Pipeline.h"

#include <doctest/doctest.h>

#include <random>

using namespace einfuse;
using namespace einfuse::ir;

namespace {

const DType F = DType::F32;

Expr at(const char *t, std::vector<std::string> idx) { return Access::make(F, t, std::move(idx)); }
Definition define(const char *t, std::vector<std::string> idx, std::vector<std::string> implicit, Expr body,
                  ReduceOp op = ReduceOp::Sum) {
    return {t, idx, Reduce::make(idx, std::move(implicit), op, std::move(body))};
}

/** C[b,i,k] = A[b,i,j] * B[b,j,k];  D[b,i,k] = relu(C[b,i,k] + bias[k]) */
Program epilogue() {
    Program p;
    p.inputs = {{"A", F, 3}, {"B", F, 3}, {"bias", F, 1}};
    p.temporaries = {{"C", F, 3}};
    p.outputs = {{"D", F, 3}};
    p.index_vars = {"b", "i", "j", "k"};
    p.definitions = {
        define("C", {"b", "i", "k"}, {"j"}, Binary::make(BinaryOp::Mul, at("A", {"b", "i", "j"}), at("B", {"b", "j", "k"}))),
        define("D", {"b", "i", "k"}, {},
               Unary::make(UnaryOp::Relu, Binary::make(BinaryOp::Add, at("C", {"b", "i", "k"}), at("bias", {"k"})))),
    };
    return p;
}

/** D2[i,j] = sum[d]((x[i,d] - y[j,d])^2);  out[i] = sum[j](exp(-D2[i,j]) * w[j]) */
Program gaussian() {
    Program p;
    p.inputs = {{"x", F, 2}, {"y", F, 2}, {"w", F, 1}};
    p.temporaries = {{"D2", F, 2}};
    p.outputs = {{"out", F, 1}};
    p.index_vars = {"i", "j", "d"};
    Expr diff = Binary::make(BinaryOp::Sub, at("x", {"i", "d"}), at("y", {"j", "d"}));
    p.definitions = {
        define("D2", {"i", "j"}, {"d"}, Binary::make(BinaryOp::Pow, diff, Const::make(F, 2))),
        define("out", {"i"}, {"j"},
               Binary::make(BinaryOp::Mul, Unary::make(UnaryOp::Exp, Unary::make(UnaryOp::Neg, at("D2", {"i", "j"}))),
                            at("w", {"j"}))),
    };
    return p;
}

/** m[i] = max[j](S[i,j]);  e[i,j] = exp(S[i,j] - m[i]);  s[i] = sum[j](e[i,j]);  out[i,j] = e[i,j] / s[i] */
Program softmax() {
    Program p;
    p.inputs = {{"S", F, 2}};
    p.temporaries = {{"m", F, 1}, {"e", F, 2}, {"s", F, 1}};
    p.outputs = {{"out", F, 2}};
    p.index_vars = {"i", "j"};
    p.definitions = {
        define("m", {"i"}, {"j"}, at("S", {"i", "j"}), ReduceOp::Max),
        define("e", {"i", "j"}, {}, Unary::make(UnaryOp::Exp, Binary::make(BinaryOp::Sub, at("S", {"i", "j"}), at("m", {"i"})))),
        define("s", {"i"}, {"j"}, at("e", {"i", "j"})),
        define("out", {"i", "j"}, {}, Binary::make(BinaryOp::Div, at("e", {"i", "j"}), at("s", {"i"}))),
    };
    return p;
}

/** Runs both programs through the reference on the same random inputs; returns the max error. */
double same_meaning(const Program &a, const Program &b, const Extents &e, const std::vector<Shape> &shapes) {
    std::mt19937_64 rng(std::random_device{}());
    std::vector<Tensor> in;
    for (const auto &s : shapes) {
        in.emplace_back(DType::F64, s);
        in.back().fill_random(rng);
    }
    std::vector<const Tensor *> ptrs;
    for (auto &t : in) ptrs.push_back(&t);
    return max_relative_error(evaluate_reference(a, ptrs, e).front(), evaluate_reference(b, ptrs, e).front());
}

} // namespace

TEST_CASE("fusion: a matmul's elementwise epilogue becomes one kernel, C is never written") {
    passes::Plan plan = passes::lower(epilogue());
    CHECK(plan.kernels.size() == 1);
    CHECK(plan.program.temporaries.empty());
    CHECK(plan.explain().find("fused: C[b,i,k] into D (never written to memory)") != std::string::npos);
    CHECK(to_string(plan.program.definitions[0].value) == "relu(sum[j](A[b,i,j] * B[b,j,k]) + bias[k])");
    CHECK(same_meaning(epilogue(), plan.program, {{"b", 3}, {"i", 4}, {"j", 5}, {"k", 6}},
                       {{3, 4, 5}, {3, 5, 6}, {6}}) < 1e-12);
}

TEST_CASE("fusion: the Gaussian kernel sum is one loop nest with two accumulators, no N*M buffer") {
    passes::Plan plan = passes::lower(gaussian());
    REQUIRE(plan.kernels.size() == 1);
    CHECK(plan.program.temporaries.empty());
    CHECK(to_string(plan.kernels[0].body) ==
          "parallel for i:\n"
          "  f64 acc = 0\n" // sums of unknown length accumulate in f64 on the host (passes/LongSums.h)
          "  for j:\n"
          "    f64 acc1 = 0\n"
          "    for d:\n"
          "      acc1 = acc1 + f64((x[i,d] - y[j,d]) * (x[i,d] - y[j,d]))\n" // x^2 simplified to x*x
          "    acc = acc + f64(exp(-f32(acc1)) * w[j])\n"
          "  out[i] = f32(acc)\n");
    CHECK(same_meaning(gaussian(), plan.program, {{"i", 7}, {"j", 9}, {"d", 3}}, {{7, 3}, {9, 3}, {9}}) < 1e-12);
}

TEST_CASE("fusion: softmax materialises the row max and the row sum, fuses the exponentials") {
    passes::Plan plan = passes::lower(softmax());
    CHECK(plan.kernels.size() == 3); // m, s, out
    std::string text = plan.explain();
    CHECK(text.find("materialised: m[i]: e reads it inside a loop over 'j'") != std::string::npos);
    CHECK(text.find("fused: e[i,j] into s,out") != std::string::npos);
    CHECK(text.find("materialised: s[i]: out reads it inside a loop over 'j'") != std::string::npos);
    CHECK(same_meaning(softmax(), plan.program, {{"i", 5}, {"j", 8}}, {{5, 8}}) < 1e-12);
}

TEST_CASE("fusion: an elementwise producer read inside a contraction's loops is a prologue") {
    Program p;
    p.inputs = {{"A", F, 2}, {"B", F, 2}};
    p.temporaries = {{"R", F, 2}};
    p.outputs = {{"C", F, 2}};
    p.index_vars = {"i", "j", "k"};
    p.definitions = {
        define("R", {"i", "j"}, {}, Unary::make(UnaryOp::Relu, at("A", {"i", "j"}))),
        define("C", {"i", "k"}, {"j"}, Binary::make(BinaryOp::Mul, at("R", {"i", "j"}), at("B", {"j", "k"}))),
    };
    passes::Plan plan = passes::lower(p);
    CHECK(plan.kernels.size() == 1);
    CHECK(to_string(plan.program.definitions[0].value) == "sum[j](relu(A[i,j]) * B[j,k])");
    CHECK(same_meaning(p, plan.program, {{"i", 4}, {"j", 5}, {"k", 6}}, {{4, 5}, {5, 6}}) < 1e-12);
}
