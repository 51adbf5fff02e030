#include "ir/SizeGuard.h"

#include <algorithm>

namespace einfuse::ir {

int64_t size_product(const std::vector<std::string> &vars, const Extents &sizes) {
    int64_t n = 1;
    for (const auto &v : vars) {
        int64_t e = std::max<int64_t>(sizes.at(v), 0);
        if (__builtin_mul_overflow(n, e, &n)) n = std::numeric_limits<int64_t>::max();
    }
    return n;
}

bool SizeGuard::holds(const Extents &sizes) const {
    switch (kind) {
    case Kind::Unknown: return sizes.find(vars.front()) == sizes.end();
    case Kind::Sized: return !sizes.empty();
    case Kind::Unsized: return sizes.empty();
    case Kind::Range: break;
    }
    int64_t n = 1;
    for (const auto &v : vars) {
        auto it = sizes.find(v);
        if (it == sizes.end()) return false;
        int64_t e = std::max<int64_t>(it->second, 0);
        if (__builtin_mul_overflow(n, e, &n)) n = std::numeric_limits<int64_t>::max();
    }
    return lo <= n && n <= hi;
}

bool all_hold(const std::vector<SizeGuard> &guards, const Extents &sizes) {
    for (const auto &g : guards)
        if (!g.holds(sizes)) return false;
    return true;
}

std::string to_string(const SizeGuard &g) {
    switch (g.kind) {
    case SizeGuard::Kind::Unknown: return "'" + g.vars.front() + "' not known";
    case SizeGuard::Kind::Sized: return "sizes known";
    case SizeGuard::Kind::Unsized: return "no sizes known";
    case SizeGuard::Kind::Range: break;
    }
    std::string product;
    for (const auto &v : g.vars) product += (product.empty() ? "" : "*") + v;
    constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
    if (g.lo == g.hi) return product + " == " + std::to_string(g.lo);
    if (g.hi == kMax) return g.lo <= 0 ? product + " known" : product + " >= " + std::to_string(g.lo);
    if (g.lo <= 0) return product + " <= " + std::to_string(g.hi);
    return std::to_string(g.lo) + " <= " + product + " <= " + std::to_string(g.hi);
}

} // namespace einfuse::ir
