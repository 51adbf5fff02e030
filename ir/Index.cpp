#include "ir/Index.h"

#include "support/Error.h"

#include <algorithm>

namespace einfuse::ir {

Index::Index(std::string var) {
    EINFUSE_ASSERT(!var.empty(), "an index variable needs a name");
    terms_.push_back({std::move(var), 1});
}

Index Index::constant(int64_t value) {
    Index i;
    i.constant_ = value;
    return i;
}

Index Index::affine(std::vector<IndexTerm> terms, int64_t constant) {
    Index i;
    i.constant_ = constant;
    for (auto &t : terms) {
        EINFUSE_ASSERT(!t.var.empty(), "an index term needs a variable");
        auto same = std::find_if(i.terms_.begin(), i.terms_.end(), [&](const IndexTerm &x) { return x.var == t.var; });
        if (same == i.terms_.end()) i.terms_.push_back(std::move(t));
        else same->coeff += t.coeff;
    }
    i.terms_.erase(std::remove_if(i.terms_.begin(), i.terms_.end(), [](const IndexTerm &t) { return t.coeff == 0; }),
                   i.terms_.end());
    return i;
}

const std::string *Index::as_var() const {
    return terms_.size() == 1 && terms_[0].coeff == 1 && constant_ == 0 ? &terms_[0].var : nullptr;
}

std::vector<std::string> Index::vars() const {
    std::vector<std::string> out;
    for (const auto &t : terms_) out.push_back(t.var);
    return out;
}

Index Index::renamed(const std::map<std::string, std::string> &to) const {
    std::vector<IndexTerm> terms = terms_;
    for (auto &t : terms)
        if (auto it = to.find(t.var); it != to.end()) t.var = it->second;
    return affine(std::move(terms), constant_);
}

std::string to_string(const Index &i) {
    std::string out;
    auto add = [&](int64_t coeff, const std::string &var) {
        // The first term carries its own sign; later ones are joined by " + " or " - ".
        int64_t size = coeff < 0 ? -coeff : coeff;
        if (!out.empty()) out += coeff < 0 ? " - " : " + ";
        else if (coeff < 0) out += "-";
        if (var.empty()) out += std::to_string(size);
        else out += (size == 1 ? "" : std::to_string(size) + "*") + var;
    };
    for (const auto &t : i.terms()) add(t.coeff, t.var);
    if (i.constant() != 0 || out.empty()) add(i.constant(), "");
    return out;
}

std::string to_string(const std::vector<Index> &indices, const char *sep) {
    std::string out;
    for (std::size_t d = 0; d < indices.size(); ++d) out += (d ? sep : "") + to_string(indices[d]);
    return out;
}

std::vector<Index> to_indices(const std::vector<std::string> &vars) { return {vars.begin(), vars.end()}; }

std::optional<std::vector<std::string>> plain_vars(const std::string &tensor, const std::vector<Index> &indices,
                                                   std::string *why_not) {
    std::vector<std::string> out;
    for (const auto &i : indices) {
        if (const std::string *v = i.as_var()) {
            out.push_back(*v);
            continue;
        }
        if (why_not) *why_not = tensor + "'s index " + to_string(i) + " is not a plain variable";
        return std::nullopt;
    }
    return out;
}

std::vector<std::string> expect_vars(const std::string &tensor, const std::vector<Index> &indices) {
    std::string why;
    auto vars = plain_vars(tensor, indices, &why);
    if (!vars) throw InternalError(why + ", where only plain variables were planned for");
    return *vars;
}

std::optional<std::pair<int64_t, int64_t>> index_range(const Index &index, const std::map<std::string, int64_t> &extents) {
    int64_t lo = index.constant(), hi = index.constant();
    for (const auto &t : index.terms()) {
        auto it = extents.find(t.var);
        EINFUSE_ASSERT(it != extents.end(), "no size for index variable '" + t.var + "'");
        if (it->second <= 0) return std::nullopt;
        int64_t reach = t.coeff * (it->second - 1); // the term's value at the box's far corner
        (reach < 0 ? lo : hi) += reach;
    }
    return std::make_pair(lo, hi);
}

std::string index_out_of_range(const std::string &tensor, int dim, const Index &index, int64_t size,
                               const std::map<std::string, int64_t> &extents) {
    auto range = index_range(index, extents);
    if (!range || (range->first >= 0 && range->second < size)) return "";
    int64_t bad = range->first < 0 ? range->first : range->second;
    return tensor + "'s index " + to_string(index) + " reaches " + std::to_string(bad) + " in dimension " +
           std::to_string(dim) + " of size " + std::to_string(size);
}

std::vector<OffsetTerm> element_offset(const std::vector<Index> &indices) {
    std::vector<OffsetTerm> out;
    for (std::size_t d = 0; d < indices.size(); ++d) {
        int dim = static_cast<int>(d);
        for (const auto &t : indices[d].terms()) out.push_back({dim, t.coeff, t.var});
        if (indices[d].constant() != 0) out.push_back({dim, indices[d].constant(), ""});
    }
    return out;
}

bool indexes_last_alone(const std::vector<Index> &indices, const std::string &var) {
    const int last = static_cast<int>(indices.size()) - 1;
    bool along = false, other = false;
    for (const auto &term : element_offset(indices))
        if (term.dim == last) (term.var == var && term.coeff == 1 ? along : other) = true;
    return along && !other;
}

} // namespace einfuse::ir
