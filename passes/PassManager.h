#pragma once
// Runs named passes in order and shows what they did: EINFUSE_PRINT_AFTER=<pass name> (or a
// comma-separated list, or "all") prints the IR after those passes to stderr, EINFUSE_DEBUG=2
// after every pass (as "all"), EINFUSE_TIME_PASSES=1 each pass's time. The names are the ones
// lower() gives: verify, simplify, fuse_producers, order_contractions, then per definition
// choose_strategy, lower_to_loops, refine, gpu_launch_rules (the GPU only).
//
//   EINFUSE_PRINT_AFTER=refine einfuse compile 'bij,bjk->bik' --dims b=64,i=4,j=4,k=4
#include "ir/Printer.h"

#include <chrono>
#include <ostream>
#include <string>
#include <vector>

namespace einfuse::passes {

class PassManager {
  public:
    /** From the environment, printing to std::cerr. */
    PassManager();
    /** `print_after`: pass names separated by commas, or "all"; empty: none. */
    PassManager(std::string print_after, bool time_passes, std::ostream &log);

    /** Runs pass() as the pass `name` and returns its result (an ir::Program, ir::Kernel or
     * anything with a to_string found by lookup), printed and timed when asked. */
    template <class F> auto run(const std::string &name, F &&pass) {
        auto start = std::chrono::steady_clock::now();
        auto result = pass();
        ran_.push_back(name);
        if (time_) note_time(name, std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start).count());
        if (prints(name)) {
            using ir::to_string;
            print(name, to_string(result));
        }
        return result;
    }

    bool prints(const std::string &name) const;
    /** Every pass run so far, in order (a name repeats per kernel). */
    const std::vector<std::string> &ran() const { return ran_; }

  private:
    void note_time(const std::string &name, double us);
    void print(const std::string &name, const std::string &ir);

    std::vector<std::string> print_after_;
    bool all_ = false, time_ = false;
    std::ostream &log_;
    std::vector<std::string> ran_;
};

} // namespace einfuse::passes
