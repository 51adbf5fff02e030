#include "exec/LibraryGemm.h"

#include "ir/Walk.h"
#include "support/Error.h"

#include <algorithm>
#include <map>

namespace einfuse {

namespace {

/** A group of index variables folded to one dimension of one tensor. */
struct Dim {
    int64_t size = 1, stride = 0;
};

/** What the mapping knows of the call: each tensor's stride per index variable, the sizes. */
struct Layout {
    std::map<std::string, std::map<std::string, int64_t>> strides; // tensor -> variable -> stride
    std::map<std::string, int64_t> extents;

    bool has(const std::string &t, const std::string &v) const { return strides.at(t).count(v) > 0; }
    int64_t stride(const std::string &t, const std::string &v) const { return strides.at(t).at(v); }

    /** vars of tensor t as one dimension: each variable's stride is the next one's times its
     * size (or all are 0, a broadcast); nothing when they do not fold. */
    std::optional<Dim> fold(const std::string &t, const std::vector<std::string> &vars) const {
        Dim d;
        for (std::size_t i = 0; i < vars.size(); ++i) {
            int64_t s = stride(t, vars[i]);
            if (i > 0 && d.stride != s * extents.at(vars[i]) && !(d.stride == 0 && s == 0)) return std::nullopt;
            d.size *= extents.at(vars[i]);
            d.stride = s;
        }
        return d;
    }
};

/** The variables of a group with more than one value: extent-1 dimensions fold away. */
std::vector<std::string> live(const std::vector<std::string> &vars, const Layout &l) {
    std::vector<std::string> out;
    for (const auto &v : vars)
        if (l.extents.at(v) > 1) out.push_back(v);
    return out;
}

/** Splits a group into the outer variables that become a loop of calls and the inner ones that
 * fold to one dimension in every tensor in `tensors`: as few outer ones as possible. */
void split_group(const std::vector<std::string> &vars, const std::vector<std::string> &tensors, const Layout &l,
                 std::vector<std::string> &looped, std::vector<std::string> &folded) {
    for (std::size_t first = 0; first <= vars.size(); ++first) {
        std::vector<std::string> inner(vars.begin() + static_cast<std::ptrdiff_t>(first), vars.end());
        bool ok = std::all_of(tensors.begin(), tensors.end(), [&](const std::string &t) { return l.fold(t, inner).has_value(); });
        if (ok) {
            looped.assign(vars.begin(), vars.begin() + static_cast<std::ptrdiff_t>(first));
            folded = inner;
            return;
        }
    }
}

/** A stored matrix read as op(X) of rows x cols, from the strides along its rows and columns:
 * column-major (unit row stride) or transposed (unit column stride); nothing otherwise. */
std::optional<LtMatrix> matrix(Dim rows, Dim cols) {
    LtMatrix m;
    if (rows.size == 1 || rows.stride == 1) {
        m.ld = cols.size == 1 ? std::max<int64_t>(rows.size, 1) : cols.stride;
        if (m.ld >= std::max<int64_t>(rows.size, 1)) return m;
    }
    if (cols.size == 1 || cols.stride == 1) {
        m.transposed = true;
        m.ld = rows.size == 1 ? std::max<int64_t>(cols.size, 1) : rows.stride;
        if (m.ld >= std::max<int64_t>(cols.size, 1)) return m;
    }
    return std::nullopt;
}

LtType lt_type(DType t) {
    switch (t) {
    case DType::F16: return LtType::F16;
    case DType::BF16: return LtType::BF16;
    case DType::F64: return LtType::F64;
    case DType::F32: return LtType::F32;
    default: throw InternalError("cuBLASLt got " + std::string(dtype_name(t)) + ": passes/GemmMatch refuses it");
    }
}

/** Every combination of the looped variables' values, as the element offset of each tensor. */
std::vector<std::map<std::string, int64_t>> loop_offsets(const std::vector<std::string> &vars,
                                                         const std::vector<std::string> &tensors, const Layout &l) {
    std::vector<std::map<std::string, int64_t>> out{{}};
    for (const auto &t : tensors) out[0][t] = 0;
    for (const auto &v : vars) {
        std::vector<std::map<std::string, int64_t>> next;
        for (const auto &o : out)
            for (int64_t i = 0; i < l.extents.at(v); ++i) {
                auto n = o;
                for (const auto &t : tensors)
                    if (l.has(t, v)) n[t] += i * l.stride(t, v);
                next.push_back(std::move(n));
            }
        out = std::move(next);
    }
    return out;
}

/** At most this many calls stand for one kernel; beyond, the emitted kernel runs. */
constexpr std::size_t kMaxLibraryCalls = 4096;

} // namespace

std::optional<std::vector<LibraryCall>> plan_library_gemm(const ir::Kernel &k, const std::vector<std::uint64_t> &address,
                                                          const KernelArgs &args, std::string *why_not) {
    auto refuse = [&](std::string why) -> std::optional<std::vector<LibraryCall>> {
        *why_not = std::move(why);
        return std::nullopt;
    };
    const ir::Gemm &g = *k.gemm;
    const ir::LibraryEpilogue &epi = *g.library;
    const std::string out = k.params.at(static_cast<std::size_t>(k.num_inputs)).name;

    Layout l;
    for (std::size_t v = 0; v < k.index_vars.size(); ++v) l.extents[k.index_vars[v]] = args.extents[v];
    std::map<std::string, std::vector<std::string>> indices;
    ir::for_each_tensor_var_use(k.body, [&](const std::string &t, const std::vector<std::string> &idx) { indices.emplace(t, idx); });
    std::map<std::string, std::uint64_t> pointer;
    std::size_t at = 0;
    for (std::size_t p = 0; p < k.params.size(); ++p) {
        const auto &name = k.params[p].name;
        pointer[name] = address[p];
        for (int d = 0; d < k.params[p].rank; ++d) l.strides[name][indices.at(name)[static_cast<std::size_t>(d)]] = args.strides[at++];
    }

    // An empty label: nothing to multiply (numpy's zero-size arrays, any strides); the emitted
    // kernel writes the zeros of an empty K without asking cuBLASLt about zero-sized matrices.
    if (std::any_of(args.extents.begin(), args.extents.end(), [](int64_t e) { return e == 0; }))
        return refuse("an index of size 0");
    // cuBLASLt's leading dimensions and batch strides are not negative: a reversed view
    // (x[::-1]) runs in the emitted kernel, which takes any strides.
    if (std::any_of(args.strides.begin(), args.strides.end(), [](int64_t s) { return s < 0; }))
        return refuse("a negative stride (cuBLASLt takes none)");
    std::vector<std::string> with_batch{g.a, g.b, out}, with_m{g.a, out}, with_n{g.b, out};
    if (!epi.addend.empty()) {
        for (auto *list : {&with_batch, &with_m, &with_n}) list->push_back(epi.addend);
    }
    std::vector<std::string> batch_loop, batch, k_loop, kk;
    split_group(live(g.batch, l), with_batch, l, batch_loop, batch);
    split_group(live(g.k, l), {g.a, g.b}, l, k_loop, kk);
    std::vector<std::string> m = live(g.m, l), n = live(g.n, l);
    for (const auto &t : with_m)
        if (!l.fold(t, m)) return refuse("the M indices of " + t + " do not fold into one dimension");
    for (const auto &t : with_n)
        if (!l.fold(t, n)) return refuse("the N indices of " + t + " do not fold into one dimension");
    if (!k_loop.empty() && (k.params.back().dtype == DType::F16 || k.params.back().dtype == DType::BF16))
        return refuse("the K indices do not fold into one dimension, and partial sums would round to the output's type");

    // cuBLASLt's rows: the output's unit-stride group, or the bias's group (its vector runs along rows).
    Dim out_m = *l.fold(out, m), out_n = *l.fold(out, n);
    bool rows_are_m = out_m.size == 1 || out_m.stride == 1;
    if (!epi.bias.empty()) rows_are_m = std::find(g.m.begin(), g.m.end(), epi.bias_var) != g.m.end();
    Dim out_rows = rows_are_m ? out_m : out_n, out_cols = rows_are_m ? out_n : out_m;
    if (out_rows.size > 1 && out_rows.stride != 1)
        return refuse(epi.bias.empty() ? "the output has no unit stride along either matrix dimension"
                                       : "cuBLASLt adds a bias along the output's unit-stride dimension, and " +
                                             epi.bias + " runs along the other");

    LtProblem p;
    p.type = lt_type(k.params.back().dtype);
    p.tf32 = g.allow_tf32 && p.type == LtType::F32;
    p.m = out_rows.size;
    p.n = out_cols.size;
    p.k = 1;
    for (const auto &v : kk) p.k *= l.extents.at(v);
    p.batch = 1;
    for (const auto &v : batch) p.batch *= l.extents.at(v);
    p.alpha = epi.alpha;
    // As cuBLASLt sees it: D = A' B' with A' = A (rows M) or B^T (rows N).
    const std::string &first = rows_are_m ? g.a : g.b, &second = rows_are_m ? g.b : g.a;
    const std::vector<std::string> &rows = rows_are_m ? m : n, &cols = rows_are_m ? n : m;
    auto a = matrix(*l.fold(first, rows), *l.fold(first, kk));
    auto b = matrix(*l.fold(second, kk), *l.fold(second, cols));
    auto d = matrix(out_rows, out_cols);
    if (!a || !b) return refuse("an operand has no unit stride along either of its matrix dimensions");
    if (!d || d->transposed) return refuse("the output has no unit stride along cuBLASLt's rows");
    p.a = *a;
    p.b = *b;
    p.d = *d;
    p.a.batch_stride = l.fold(first, batch)->stride;
    p.b.batch_stride = l.fold(second, batch)->stride;
    p.d.batch_stride = l.fold(out, batch)->stride;
    if (!epi.addend.empty()) {
        auto c = matrix(*l.fold(epi.addend, rows), *l.fold(epi.addend, cols));
        if (!c || c->transposed) return refuse("the added tensor has no unit stride along cuBLASLt's rows");
        p.c = *c;
        p.c.batch_stride = l.fold(epi.addend, batch)->stride;
    }
    if (!epi.bias.empty() && l.extents.at(epi.bias_var) > 1 && l.stride(epi.bias, epi.bias_var) != 1)
        return refuse("the bias is not contiguous");

    std::vector<std::string> tensors{g.a, g.b, out};
    if (!epi.addend.empty()) tensors.push_back(epi.addend);
    if (!epi.bias.empty()) tensors.push_back(epi.bias);
    auto batch_offsets = loop_offsets(batch_loop, tensors, l), k_offsets = loop_offsets(k_loop, tensors, l);
    if (batch_offsets.size() * k_offsets.size() > kMaxLibraryCalls)
        return refuse("its layout needs more than " + std::to_string(kMaxLibraryCalls) + " cuBLASLt calls");

    // The calls: per batch point, the K parts in order; only the last applies bias and relu, the
    // ones after the first add the output so far (beta = 1 on D itself).
    std::vector<LibraryCall> calls;
    std::map<std::string, int> alignment; // of every pointer any call passes
    auto bytes = [&](const std::string &t) {
        return static_cast<int64_t>(dtype_size(k.params[static_cast<std::size_t>(k.param_index(t))].dtype));
    };
    struct Step {
        bool add_c, bias, relu, c_is_d;
    };
    std::vector<Step> steps;
    for (const auto &bo : batch_offsets)
        for (std::size_t ki = 0; ki < k_offsets.size(); ++ki) {
            bool last = ki + 1 == k_offsets.size();
            Step s{ki > 0 || !epi.addend.empty(), last && !epi.bias.empty(), last && epi.relu, ki > 0};
            auto address_of = [&](const std::string &t) {
                return pointer.at(t) + static_cast<std::uint64_t>((bo.at(t) + k_offsets[ki].at(t)) * bytes(t));
            };
            LibraryCall c;
            c.a = address_of(first);
            c.b = address_of(second);
            c.d = address_of(out);
            c.c = s.c_is_d ? c.d : epi.addend.empty() ? 0 : address_of(epi.addend);
            c.bias = epi.bias.empty() ? 0 : address_of(epi.bias);
            for (auto [name, ptr] : {std::pair{"a", c.a}, {"b", c.b}, {"c", c.c}, {"d", c.d}})
                if (ptr) alignment[name] = std::min(alignment.count(name) ? alignment[name] : 256, lt_alignment(ptr));
            calls.push_back(c);
            steps.push_back(s);
        }
    p.a.alignment = alignment["a"];
    p.b.alignment = alignment["b"];
    p.d.alignment = alignment["d"];
    p.c.alignment = alignment.count("c") ? alignment["c"] : 256;
    // Calls of one kind share one plan (descriptors and algorithm).
    std::map<std::tuple<bool, bool, bool, bool>, std::shared_ptr<const LtMatmul>> plans;
    for (std::size_t i = 0; i < calls.size(); ++i) {
        const Step &s = steps[i];
        auto &plan = plans[{s.add_c, s.bias, s.relu, s.c_is_d}];
        if (!plan) {
            LtProblem q = p;
            q.add_c = s.add_c;
            q.bias = s.bias;
            q.relu = s.relu;
            if (s.c_is_d) q.c = q.d;
            plan = std::make_shared<const LtMatmul>(q);
        }
        calls[i].matmul = plan;
    }
    return calls;
}

} // namespace einfuse
