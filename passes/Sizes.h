#pragma once
// The one way passes read index sizes: each read records the fact the pass relies on as an
// ir::SizeGuard in the plan (passes::Plan::guards), so a plan knows its shape class and cannot
// depend on a size it did not record. Ask the narrowest question the decision needs:
//   sizes.exact_up_to("j", 16)        unroll j: "j == 4" (or "j > 16", "'j' not known")
//   sizes.at_least({"j"}, 16)         a GEMM's K: "j >= 16" or "j <= 15"
//   sizes.bucket("i", 16)             a cost estimate: "128 <= i <= 255", costed at 181
//   sizes.exact("k")                  a size baked into the code: "k == 3"
// shown() reads without recording, for the text of a message only (the plan says which sizes
// it was made for).
#include "ir/SizeGuard.h"

#include <optional>
#include <string>
#include <vector>

namespace einfuse::passes {

class Sizes {
  public:
    /** Reads of `extents`, recorded in *guards (nullptr: not recorded). Implicit, so that a
     * caller holding plain extents (a test, the reference's tolerance) passes them as they are. */
    Sizes(const ir::Extents &extents, std::vector<ir::SizeGuard> *guards = nullptr)
        : extents_(extents), guards_(guards) {}

    /** Whether no size at all is known (planned for unknown sizes). */
    bool empty() const;
    /** Whether v has a size. */
    bool known(const std::string &v) const;
    /** v's size, which must be known; the plan holds only for exactly it. */
    int64_t exact(const std::string &v) const;
    /** v's size when known (then exact), else nothing. */
    std::optional<int64_t> value(const std::string &v) const;
    /** v's size when known and at most `limit` (then exact), else nothing ("v > limit" or
     * "'v' not known"). */
    std::optional<int64_t> exact_up_to(const std::string &v, int64_t limit) const;
    /** Whether the product of the sizes of vars (all known) is at least n, or at most n. */
    bool at_least(const std::vector<std::string> &vars, int64_t n) const;
    bool at_most(const std::vector<std::string> &vars, int64_t n) const;
    /** For a cost model: v's size when at most kExactUpTo (exact), else the geometric middle of
     * its octave [2^k, 2^(k+1)) (recorded as that range); `unknown` when v has no size. A model
     * fed these gives one answer per bucket, so the range is all it relied on. */
    double bucket(const std::string &v, double unknown) const;
    static constexpr int64_t kExactUpTo = 64;

    /** Whether v has a size, not recorded: for a caller that records what it relies on itself
     * (passes/GpuSpecialise: "'v' not known" when it is not, nothing when every size is). */
    bool given(const std::string &v) const { return extents_.count(v) != 0; }
    /** The product of the sizes of vars (all known), not recorded: for messages only. */
    int64_t shown(const std::vector<std::string> &vars) const { return ir::size_product(vars, extents_); }

  private:
    void record(ir::SizeGuard g) const;
    void range(const std::vector<std::string> &vars, int64_t lo, int64_t hi) const;
    const ir::Extents &extents_;
    std::vector<ir::SizeGuard> *guards_;
};

} // namespace einfuse::passes
