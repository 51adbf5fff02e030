#pragma once
// One lowering strategy per file behind one interface. A strategy looks at one definition of the
// program and either offers a Candidate (how to lower it: the loops to unroll, the GEMM it
// found, the plan's note) or says why not; choose_strategy (passes/ChooseStrategy.h) asks them
// in order of preference and takes the first offer. After the kernel is lowered with that
// candidate, the chosen strategy refines it: its GPU variants, who runs a GEMM, each noted in the
// plan. Adding a strategy: a file here that defines a Strategy and its `<name>_strategy()`, one
// line in Registry.cpp's list, a value of ir::Strategy, and the backends' printing if it needs
// its own.
//
//   unrolled (Unrolled.cpp) on "bij,bjk->bik" at i=j=k=2: consider() offers the schedule
//   {i, j, k unrolled}; refine() on the GPU adds the shared-memory staged variant or says why not.
#include "ir/Kernel.h"
#include "passes/LowerToLoops.h"
#include "passes/Pipeline.h"
#include "passes/Sizes.h"

#include <optional>
#include <string>
#include <vector>

namespace einfuse::passes {

/** What a strategy sees: one definition, the sizes planned for, the target and the options. */
struct StrategyContext {
    const ir::Program &program;
    std::size_t index;           // of the definition in program.definitions
    const Sizes &sizes;          // the planned index sizes, read through guards; empty when unknown
    const LowerOptions &options; // the target (ir/Target.h) and the user's choices

    const ir::Definition &definition() const { return program.definitions.at(index); }
    bool gpu() const { return options.target.is_gpu(); }
};

/** A strategy's offer: how lower_to_loops lowers the definition, and what the plan says. */
struct Candidate {
    UnrollSchedule schedule;      // loops with fixed trip counts (none: the plain loop nest)
    std::string detail;           // how the strategy applies, for --emit plan
    std::optional<ir::Gemm> gemm; // the matrix product, for the GEMM strategy
    std::vector<LongSum> long_sums; // how its long sums accumulate (LongSums.h)
};

class Strategy {
  public:
    virtual ~Strategy() = default;
    /** Recorded in ir::Kernel::strategy; its name (ir::strategy_name) labels the plan. */
    virtual ir::Strategy kind() const = 0;
    /** Its candidate for ctx's definition, or nothing with the reason in *why_not. The cost
     * rules (size limits and thresholds, which differ by target) are part of this answer. */
    virtual std::optional<Candidate> consider(const StrategyContext &ctx, std::string *why_not) const = 0;
    /** Called on the chosen candidate only, before lowering: the details that decide nothing
     * about whether the strategy fits (its unroll schedule, how its sums accumulate). The sizes
     * read here are guards of the plan only when this strategy is the one chosen; a strategy
     * asked only for its reason records none of them. */
    virtual void complete(Candidate &c, const StrategyContext &ctx) const {
        (void)c;
        (void)ctx;
    }
    /** Called on the kernel lowered from this strategy's chosen candidate: adds its variants and
     * the decisions that need the loop nest, noting each in k.strategy_detail. */
    virtual void refine(ir::Kernel &k, const StrategyContext &ctx) const {
        (void)k;
        (void)ctx;
    }
};

/** Every registered strategy, in order of preference (Registry.cpp); the last always fits. */
const std::vector<const Strategy *> &strategies();

/** The GEMM strategy's size rule (Gemm.cpp) as a launch rule over the sizes of g's groups: nonzero
 * where a plan with those sizes would not take the GEMM (too small to tile: the loop nest runs it
 * at the memory limit). An unsized plan's launcher runs the loop nest there (passes/GpuSpecialise). */
ir::SizeExpr gemm_too_small(const ir::Gemm &g, ir::DeviceKind device);

/** The largest trip count an unrolled loop may have, and the most multiply-adds one thread may
 * unroll for one batch element (D=8 batched matrix products: 512). */
constexpr int64_t kMaxUnrolledExtent = 16;
constexpr int64_t kMaxUnrolledWork = 1024;

} // namespace einfuse::passes
