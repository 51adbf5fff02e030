// ir::magnitude_program, the scale `--check` holds a program's rounding errors to: an einsum's
// sum of |terms| exactly, never below the result, and larger where a program cancels.
#include "frontend/Einsum.h"
#include "frontend/Program.h"
#include "ir/Magnitude.h"
#include "ir/Reference.h"
#include "ir/Walk.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <random>

using namespace einfuse;

namespace {

ir::Program program(const char *text) {
    frontend::ProgramAst ast = frontend::parse_program(text);
    std::map<std::string, DType> dtypes;
    for (const auto &[name, rank] : frontend::program_inputs(ast))
        dtypes[name] = DType::F64;
    return frontend::program_ir(ast, dtypes);
}

/** The inputs, random in [-1, 1), then their magnitudes: magnitude_program's inputs. */
struct Inputs {
    std::vector<Tensor> values, magnitudes;
    std::vector<const Tensor *> both;
    Inputs(const ir::Program &p, const ir::Extents &sizes) {
        static std::mt19937_64 rng(std::random_device{}());
        for (const auto &in : p.inputs) {
            Shape shape;
            for (const auto &d : p.definitions) // the input's shape from a read of it
                ir::for_each_access(d.value, [&](const ir::Access &a) {
                    if (a.tensor != in.name || !shape.empty()) return;
                    for (const auto &index : a.indices)
                        shape.push_back(sizes.at(*index.as_var()));
                });
            values.emplace_back(DType::F64, shape);
            values.back().fill_random(rng);
        }
        for (const auto &t : values)
            magnitudes.push_back(ir::abs_copy(t));
        for (const auto &t : values)
            both.push_back(&t);
        for (const auto &t : magnitudes)
            both.push_back(&t);
    }
    std::vector<const Tensor *> plain() const { return {both.begin(), both.begin() + values.size()}; }
};

} // namespace

TEST_CASE("magnitude_program: an einsum's magnitude is its sum of |terms|") {
    auto ast = frontend::parse_einsum("bij,bjk->bik");
    ir::Program p =
        frontend::einsum_program(frontend::resolve_einsum(ast, frontend::label_ranks(ast)), {DType::F64, DType::F64});
    ir::Extents sizes{{"b", 3}, {"i", 4}, {"j", 5}, {"k", 2}};
    Inputs in(p, sizes);
    Tensor m = ir::evaluate_reference(ir::magnitude_program(p), in.both, sizes).front();
    Tensor terms = ir::evaluate_reference(p, {&in.magnitudes[0], &in.magnitudes[1]}, sizes).front();
    CHECK(ir::max_relative_error(m, terms) == 0);
}

TEST_CASE("magnitude_program: never below the result, for every function") {
    const char *texts[] = {
        "out[i] = exp(x[i]) - log(abs(y[i]) + 1) * sqrt(abs(x[i])) / (y[i] + 3)",
        "out[i] = sum[j](tanh(x[i] * y[j]) + sigmoid(x[i] - y[j]) - gelu(y[j]) * sin(x[i]) + cos(y[j]))",
        "out[i] = max[j](x[i] * y[j]) - min[j](y[j]) + prod[j](1 + 0.1 * y[j]) + relu(x[i])",
        "out[i] = where(x[i] > 0, x[i] ^ 2, -x[i]) + abs(y[i]) ^ y[i] + rsqrt(abs(x[i]) + 1) + floor(x[i] * 4)",
        "h[i,k] = relu(x[i,j] * W[j,k]); out[i] = h[i,k] * v[k]",
        "C[i] = x[i]; C[i] += y[i] * 2",
    };
    for (const char *text : texts) {
        CAPTURE(text);
        ir::Program p = program(text);
        ir::Extents sizes{{"i", 7}, {"j", 9}, {"k", 5}};
        for (auto it = sizes.begin(); it != sizes.end();)
            it = std::find(p.index_vars.begin(), p.index_vars.end(), it->first) == p.index_vars.end() ? sizes.erase(it)
                                                                                                      : std::next(it);
        Inputs in(p, sizes);
        Tensor value = ir::evaluate_reference(p, in.plain(), sizes).front();
        Tensor m = ir::evaluate_reference(ir::magnitude_program(p), in.both, sizes).front();
        for (int64_t e = 0; e < value.size(); ++e) {
            CAPTURE(e);
            CHECK(m.load(e) >= std::abs(value.load(e)));
        }
    }
}

TEST_CASE("magnitude_program: a cancelling difference keeps the magnitude of its terms") {
    ir::Program p = program("out[i] = x[i] * 3 - x[i] * 3 + y[i]");
    ir::Extents sizes{{"i", 16}};
    Inputs in(p, sizes);
    Tensor m = ir::evaluate_reference(ir::magnitude_program(p), in.both, sizes).front();
    for (int64_t e = 0; e < 16; ++e)
        CHECK(m.load(e) == doctest::Approx(6 * std::abs(in.values[0].load(e)) + std::abs(in.values[1].load(e))));
}
