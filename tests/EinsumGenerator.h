#pragma once
// Random valid einsums (numpy.einsum's semantics) with shapes, strided layouts and dtypes, and the
// differential check that runs each through a target against the float64 reference. The
// generator keeps its own model of every case (each dimension's variable, numpy's output shape,
// a brute-force result), so that a frontend bug the reference interpreter shares still shows.
// Longer than a header should be: it is the one thing the host and GPU differential tests share.
#include "TestUtil.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>

namespace einfuse::test {

/** One generated case. dims[i] names operand i's dimensions: a label ("a", "Q") or "...k" for
 * broadcast dimension k of the '...' (right-aligned, as numpy does). Strides are in elements. */
struct EinsumCase {
    std::string spec;
    std::vector<DType> dtypes;
    std::vector<Shape> shapes, strides;
    std::vector<std::vector<std::string>> dims;
    std::vector<std::string> out_dims;     // the output's variables, implicit outputs resolved
    std::map<std::string, int64_t> extent; // each variable's size after broadcasting
    int threads = 1;

    Shape out_shape() const {
        Shape s;
        for (const auto &v : out_dims)
            s.push_back(extent.at(v));
        return s;
    }
    std::string describe() const {
        std::ostringstream s;
        auto list = [&](const Shape &v) {
            s << "(";
            for (std::size_t d = 0; d < v.size(); ++d)
                s << (d ? "," : "") << v[d];
            s << (v.size() == 1 ? ",)" : ")");
        };
        s << "einsum \"" << spec << "\" threads=" << threads;
        for (std::size_t i = 0; i < shapes.size(); ++i) {
            s << "\n  operand " << i << ": " << dtype_name(dtypes[i]) << " shape ";
            list(shapes[i]);
            s << " strides ";
            list(strides[i]);
        }
        s << "\n  numpy output shape ";
        list(out_shape());
        return s.str();
    }
};

/** An environment variable as an unsigned integer, or `otherwise`. */
inline uint64_t env_or(const char *name, uint64_t otherwise) {
    const char *v = std::getenv(name);
    return v && *v ? std::strtoull(v, nullptr, 0) : otherwise;
}

namespace gen {

inline int pick(std::mt19937_64 &rng, int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); }
inline bool chance(std::mt19937_64 &rng, double p) { return std::bernoulli_distribution(p)(rng); }
template <class T> const T &any_of(std::mt19937_64 &rng, const std::vector<T> &v) {
    return v[pick(rng, 0, static_cast<int>(v.size()) - 1)];
}

/** Strides for a shape: C order, Fortran order or shuffled, sometimes padded between dimensions,
 * sometimes stride 0 on a dimension (a broadcast view). */
inline Shape random_strides(std::mt19937_64 &rng, const Shape &shape) {
    int r = static_cast<int>(shape.size());
    std::vector<int> order(r); // innermost first
    for (int d = 0; d < r; ++d)
        order[d] = r - 1 - d;
    int layout = pick(rng, 0, 9);
    if (layout == 5 || layout == 6) std::reverse(order.begin(), order.end()); // Fortran order
    if (layout == 7) std::shuffle(order.begin(), order.end(), rng);
    bool pad = layout == 8 || chance(rng, 0.1);
    Shape strides(r, 0);
    int64_t next = 1;
    for (int d : order) {
        strides[d] = next;
        next = next * std::max<int64_t>(shape[d], 1) + (pad ? pick(rng, 1, 3) : 0);
    }
    if (layout == 9 || chance(rng, 0.05))
        for (int d = 0; d < r; ++d)
            if (chance(rng, 0.5)) strides[d] = 0;
    return strides;
}

inline DType random_dtype(std::mt19937_64 &rng) { return static_cast<DType>(pick(rng, 0, 5)); }

} // namespace gen

/** Draws a valid case: 1-5 operands; labels a-z A-Z; diagonals; '...' anywhere with fewer or
 * size-1 broadcast dimensions; scalars; implicit and explicit outputs; size-1 labels that
 * broadcast; rarely a zero size; strided layouts; any dtypes. Every operand stays under ~4096
 * elements and the product of all extents under ~1e5. A third of the 3+ operand cases are
 * chains sized so that the contraction-order pass splits them into steps. */
inline EinsumCase random_einsum_case(std::mt19937_64 &rng) {
    using gen::chance;
    using gen::pick;
    EinsumCase c;
    const int n = std::discrete_distribution<int>({0, 15, 35, 25, 15, 10})(rng);
    const bool chain = n >= 3 && chance(rng, 0.3);
    std::string letters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
    std::shuffle(letters.begin(), letters.end(), rng);
    std::vector<std::string> pool;
    for (int k = 0, m = chain ? n + 1 : pick(rng, 1, 6); k < m; ++k)
        pool.push_back(std::string(1, letters[k]));

    std::map<std::string, int64_t> size; // before size-1 broadcasting
    const int chain_max = chain ? static_cast<int>(std::pow(1e5, 1.0 / (n + 1))) : 0;
    for (const auto &l : pool)
        size[l] = chain ? pick(rng, chain_max / 2 + 1, chain_max) : pick(rng, 1, 7);
    if (chance(rng, 0.03)) size[gen::any_of(rng, pool)] = 0;
    const bool ellipsis = !chain && chance(rng, 0.35);
    const int total = ellipsis ? pick(rng, 0, 3) : 0;
    for (int k = 0; k < total; ++k)
        size["..." + std::to_string(k)] = pick(rng, 1, 5);

    // Operands: labels (a repeat takes a diagonal), '...' anywhere, empty subscripts (scalars).
    c.dims.resize(n);
    std::vector<std::vector<bool>> ones(n); // dimensions given size 1, to broadcast
    std::vector<std::string> subs(n);
    std::map<std::string, int> uses;
    bool any_ellipsis = false;
    for (int i = 0; i < n; ++i) {
        std::vector<std::string> labels;
        if (chain) labels = {pool[i], pool[i + 1]};
        for (int k = 0, count = chain ? 0 : (chance(rng, 0.1) ? 0 : pick(rng, 1, 4)); k < count; ++k)
            labels.push_back(!labels.empty() && chance(rng, 0.15) ? gen::any_of(rng, labels) : gen::any_of(rng, pool));
        bool has = ellipsis && (chance(rng, 0.6) || (i == n - 1 && !any_ellipsis));
        int mine = has ? (!any_ellipsis || chance(rng, 0.6) ? total : pick(rng, 0, total)) : 0;
        int at = has ? pick(rng, 0, static_cast<int>(labels.size())) : -1;
        any_ellipsis |= has;
        for (int k = 0; k <= static_cast<int>(labels.size()); ++k) {
            if (k == at) {
                subs[i] += "...";
                for (int b = total - mine; b < total; ++b) {
                    c.dims[i].push_back("..." + std::to_string(b));
                    ones[i].push_back(chance(rng, 0.2));
                }
            }
            if (k == static_cast<int>(labels.size())) break;
            const auto &l = labels[k];
            subs[i] += l;
            c.dims[i].push_back(l);
            ++uses[l];
            // Size 1 broadcasts against the label's size elsewhere, but never within a diagonal.
            ones[i].push_back(std::count(labels.begin(), labels.end(), l) == 1 && chance(rng, 0.12));
        }
    }

    // Shrink until every operand and the whole iteration space are small.
    auto dim_size = [&](int i, std::size_t d) { return ones[i][d] ? int64_t{1} : size[c.dims[i][d]]; };
    for (bool shrunk = true; shrunk;) {
        shrunk = false;
        double everything = 1;
        for (const auto &[v, s] : size)
            everything *= (uses.count(v) || v[0] == '.') ? static_cast<double>(s) : 1;
        std::vector<std::string> big; // variables of an operand or space over the limit
        for (int i = 0; i < n; ++i) {
            double elements = 1;
            for (std::size_t d = 0; d < c.dims[i].size(); ++d)
                elements *= static_cast<double>(dim_size(i, d));
            if (elements > 4096 || everything > 1e5)
                for (std::size_t d = 0; d < c.dims[i].size(); ++d)
                    if (dim_size(i, d) > 1) big.push_back(c.dims[i][d]);
        }
        if (!big.empty()) {
            auto &s = size[gen::any_of(rng, big)];
            s = (s + 1) / 2;
            shrunk = true;
        }
    }
    for (const auto &[v, s] : size)
        c.extent[v] = 1; // unless some operand has the full size
    for (int i = 0; i < n; ++i) {
        c.shapes.emplace_back();
        for (std::size_t d = 0; d < c.dims[i].size(); ++d) {
            c.shapes[i].push_back(dim_size(i, d));
            if (!ones[i][d]) c.extent[c.dims[i][d]] = size[c.dims[i][d]];
        }
    }
    for (auto it = c.extent.begin(); it != c.extent.end();) // labels of the pool no operand uses
        it = (it->first[0] != '.' && !uses.count(it->first)) ? c.extent.erase(it) : std::next(it);

    // The output: implicit (numpy: broadcast dimensions, then labels used once, in ASCII order),
    // or explicit with any subset of the labels in any order, '...' wherever it goes.
    std::string out;
    if (chance(rng, 0.3)) {
        for (int k = 0; k < total; ++k)
            c.out_dims.push_back("..." + std::to_string(k));
        for (const auto &[l, count] : uses)
            if (count == 1) c.out_dims.push_back(l);
    } else {
        std::vector<std::string> labels;
        for (const auto &[l, count] : uses)
            if (chain ? (l == pool.front() || l == pool.back()) : chance(rng, 0.5)) labels.push_back(l);
        std::shuffle(labels.begin(), labels.end(), rng);
        int at = total > 0 || (any_ellipsis && chance(rng, 0.5)) ? pick(rng, 0, static_cast<int>(labels.size())) : -1;
        out = "->";
        for (int k = 0; k <= static_cast<int>(labels.size()); ++k) {
            if (k == at) {
                out += "...";
                for (int b = 0; b < total; ++b)
                    c.out_dims.push_back("..." + std::to_string(b));
            }
            if (k == static_cast<int>(labels.size())) break;
            out += labels[k];
            c.out_dims.push_back(labels[k]);
        }
    }
    for (int i = 0; i < n; ++i)
        c.spec += (i ? (chance(rng, 0.1) ? ", " : ",") : "") + subs[i];
    c.spec += out;

    bool mixed = chance(rng, 0.4);
    DType one = gen::random_dtype(rng);
    for (int i = 0; i < n; ++i) {
        c.dtypes.push_back(mixed ? gen::random_dtype(rng) : one);
        c.strides.push_back(gen::random_strides(rng, c.shapes[i]));
    }
    c.threads = pick(rng, 1, 2);
    return c;
}

/** The case's result by brute force over every variable, from the generator's own model. */
inline Tensor model_result(const EinsumCase &c, const std::vector<Tensor> &inputs) {
    std::vector<std::string> vars;
    Shape extents;
    for (const auto &[v, e] : c.extent) {
        vars.push_back(v);
        extents.push_back(e);
    }
    auto slot = [&](const std::string &v) { return std::find(vars.begin(), vars.end(), v) - vars.begin(); };
    Tensor out(DType::F64, c.out_shape());
    std::vector<std::vector<std::pair<std::ptrdiff_t, int64_t>>> steps(inputs.size() + 1); // (slot, stride)
    for (std::size_t i = 0; i < inputs.size(); ++i)
        for (std::size_t d = 0; d < c.dims[i].size(); ++d)
            if (c.shapes[i][d] > 1) steps[i].push_back({slot(c.dims[i][d]), c.strides[i][d]});
    for (std::size_t d = 0; d < c.out_dims.size(); ++d)
        steps.back().push_back({slot(c.out_dims[d]), out.strides()[d]});
    auto offset = [&](std::size_t i, const Shape &at) {
        int64_t o = 0;
        for (const auto &[s, stride] : steps[i])
            o += at[s] * stride;
        return o;
    };
    if (std::find(extents.begin(), extents.end(), 0) != extents.end()) return out;
    for (Shape at(vars.size(), 0);;) {
        double product = 1;
        for (std::size_t i = 0; i < inputs.size(); ++i)
            product *= inputs[i].load(offset(i, at));
        int64_t o = offset(inputs.size(), at);
        out.store(o, out.load(o) + product);
        std::size_t k = 0;
        for (; k < vars.size() && ++at[k] == extents[k]; ++k)
            at[k] = 0;
        if (k == vars.size()) return out;
    }
}

/** Generates `EINFUSE_DIFF_CASES` cases (default `default_cases`) from seed `EINFUSE_DIFF_SEED`
 * (default: random) and checks each on `target`. With EINFUSE_DIFF_DUMP=FILE, also writes the
 * cases for tests/differential_numpy_check.py. */
inline void run_differential(Target target, uint64_t default_cases) {
    const uint64_t seed = env_or("EINFUSE_DIFF_SEED", uint64_t{std::random_device{}()} << 32 | std::random_device{}());
    const uint64_t cases = env_or("EINFUSE_DIFF_CASES", default_cases);
    INFO("reproduce with EINFUSE_DIFF_SEED=" << seed << " EINFUSE_DIFF_CASES=" << cases);
    MESSAGE("differential test on " << target_name(target) << ": seed " << seed << ", " << cases << " cases");
    std::mt19937_64 rng(seed);
    std::ofstream dump;
    if (const char *path = std::getenv("EINFUSE_DIFF_DUMP")) dump.open(path);
    int split = 0;
    auto start = std::chrono::steady_clock::now();
    for (uint64_t k = 0; k < cases; ++k) {
        EinsumCase c = random_einsum_case(rng);
        std::string what = "case " + std::to_string(k) + ": " + c.describe();
        CAPTURE(what);
        if (dump.is_open()) {
            dump << c.spec << '\t';
            for (std::size_t i = 0; i < c.shapes.size(); ++i) {
                dump << (i ? ";" : "");
                for (std::size_t d = 0; d < c.shapes[i].size(); ++d)
                    dump << (d ? "," : "") << c.shapes[i][d];
            }
            dump << '\t';
            for (std::size_t i = 0; i < c.dtypes.size(); ++i)
                dump << (i ? "," : "") << dtype_name(c.dtypes[i]);
            dump << '\t';
            for (std::size_t d = 0; d < c.out_dims.size(); ++d)
                dump << (d ? "," : "") << c.extent.at(c.out_dims[d]);
            dump << '\t' << dtype_name(frontend::promote_types(c.dtypes)) << '\n';
        }
        std::vector<int> ranks;
        for (const auto &s : c.shapes)
            ranks.push_back(static_cast<int>(s.size()));
        try {
            CompiledEinsum compiled(c.spec, c.dtypes, CompileOptions{target, "", c.threads}, ranks);
            ir::Extents extents =
                compiled.bind(std::vector<std::optional<Shape>>(c.shapes.begin(), c.shapes.end()), {});
            compiled.plan_for(extents);
            split += !compiled.plan().program.temporaries.empty();
            std::vector<Tensor> inputs;
            for (std::size_t i = 0; i < c.shapes.size(); ++i) {
                inputs.emplace_back(c.dtypes[i], c.shapes[i], c.strides[i]);
                inputs.back().fill_random(rng);
            }
            auto ptrs = pointers(inputs);
            Tensor got = compiled.run(ptrs, extents).outputs.front();
            Tensor want = einsum_reference(compiled, ptrs, extents);
            CHECK(got.dtype() == frontend::promote_types(c.dtypes));
            CHECK(got.shape() == c.out_shape());
            CHECK(want.shape() == c.out_shape());
            if (got.shape() != c.out_shape() || want.shape() != c.out_shape()) continue;
            int64_t n = reduction_length(compiled, extents);
            Tensor scale = einsum_scale(compiled, inputs, extents); // errors scale with sum |terms|
            double err = ir::max_relative_error(got, want, scale), tol = tolerance(got.dtype(), n);
            CAPTURE(n);
            CHECK(err <= tol);
            CHECK(ir::max_relative_error(want, model_result(c, inputs), scale) <= tolerance(DType::F64, n));
        } catch (const UserError &e) {
            FAIL_CHECK("UserError for a valid einsum: " << e.what());
        } catch (const std::exception &e) {
            FAIL_CHECK("exception for a valid einsum: " << e.what());
        }
    }
    double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    MESSAGE(cases << " cases in " << seconds << " s; " << split << " planned in steps");
    if (cases >= 100) CHECK(split > 0); // the contraction-order pass must have split some chains
}

} // namespace einfuse::test
