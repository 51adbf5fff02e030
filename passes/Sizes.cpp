#include "passes/Sizes.h"

#include "support/Error.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace einfuse::passes {

namespace {
constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
}

void Sizes::record(ir::SizeGuard g) const {
    if (!guards_) return;
    for (auto &old : *guards_) {
        if (old == g) return;
        // Two ranges of one product hold together where their intersection does: "j known" and
        // then "j == 4" keep "j == 4".
        if (old.kind == ir::SizeGuard::Kind::Range && g.kind == old.kind && old.vars == g.vars) {
            old.lo = std::max(old.lo, g.lo);
            old.hi = std::min(old.hi, g.hi);
            return;
        }
    }
    guards_->push_back(std::move(g));
}

void Sizes::range(const std::vector<std::string> &vars, int64_t lo, int64_t hi) const {
    record({ir::SizeGuard::Kind::Range, vars, lo, hi});
}

bool Sizes::empty() const {
    record({extents_.empty() ? ir::SizeGuard::Kind::Unsized : ir::SizeGuard::Kind::Sized, {}});
    return extents_.empty();
}

bool Sizes::known(const std::string &v) const {
    bool is = extents_.count(v) != 0;
    if (is) range({v}, 0, kMax);
    else record({ir::SizeGuard::Kind::Unknown, {v}});
    return is;
}

int64_t Sizes::exact(const std::string &v) const {
    auto it = extents_.find(v);
    EINFUSE_ASSERT(it != extents_.end(), "the size of '" + v + "' is read but not known");
    int64_t n = std::max<int64_t>(it->second, 0) == it->second ? it->second : 0;
    range({v}, n, n);
    return it->second;
}

std::optional<int64_t> Sizes::value(const std::string &v) const {
    if (!extents_.count(v)) {
        record({ir::SizeGuard::Kind::Unknown, {v}});
        return std::nullopt;
    }
    return exact(v);
}

std::optional<int64_t> Sizes::exact_up_to(const std::string &v, int64_t limit) const {
    auto it = extents_.find(v);
    if (it == extents_.end()) {
        record({ir::SizeGuard::Kind::Unknown, {v}});
        return std::nullopt;
    }
    if (it->second > limit) {
        range({v}, limit + 1, kMax);
        return std::nullopt;
    }
    return exact(v);
}

bool Sizes::at_least(const std::vector<std::string> &vars, int64_t n) const {
    for (const auto &v : vars) EINFUSE_ASSERT(extents_.count(v), "the size of '" + v + "' is compared but not known");
    bool yes = ir::size_product(vars, extents_) >= n;
    if (yes) range(vars, n, kMax);
    else range(vars, 0, n - 1);
    return yes;
}

bool Sizes::at_most(const std::vector<std::string> &vars, int64_t n) const { return !at_least(vars, n + 1); }

double Sizes::bucket(const std::string &v, double unknown) const {
    if (!extents_.count(v)) {
        record({ir::SizeGuard::Kind::Unknown, {v}});
        return unknown;
    }
    int64_t n = std::max<int64_t>(extents_.at(v), 0);
    if (n <= kExactUpTo) return static_cast<double>(exact(v));
    int64_t lo = int64_t{1} << (63 - __builtin_clzll(static_cast<uint64_t>(n))); // 2^k <= n
    int64_t hi = lo > kMax / 2 ? kMax : 2 * lo - 1;
    range({v}, lo, hi);
    return static_cast<double>(lo) * std::sqrt(2.0);
}

} // namespace einfuse::passes
