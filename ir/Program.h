#pragma once
// A program: input tensors, definitions of output tensors, and the index variables they use.
// "bij,bjk->bik" is
//   input in0: f32[b,i,j]; input in1: f32[b,j,k]
//   out[b,i,k] = sum[j](in0[b,i,j] * in1[b,j,k])
#include "ir/Expr.h"

#include <cstdint>
#include <map>
#include <utility>

namespace einfuse::ir {

struct TensorInfo {
    std::string name;
    DType dtype;
    int rank;
};

/** tensor[indices] = value, with value a Reduce whose out_vars are `indices`. */
struct Definition {
    std::string tensor;
    std::vector<std::string> indices;
    Expr value;
};

struct Program {
    std::vector<TensorInfo> inputs;
    std::vector<TensorInfo> outputs;
    std::vector<TensorInfo> temporaries;  // intermediates a pass introduced; never returned
    std::vector<std::string> index_vars; // every index variable, in order of first appearance
    std::vector<Definition> definitions;
    std::string source;                  // the user's text, for comments in emitted code
    std::string name;                    // a C identifier naming its kernels ("bij_bjk_to_bik");
                                         // empty: each kernel is named after the tensor it defines
    /** After passes/SplitComplex: each complex tensor of the program before it (c64 `x`) and the two
     * real tensors that hold its parts (f32 `x_re`, `x_im`: views of x, strides doubled). */
    std::map<std::string, std::pair<std::string, std::string>> complex_parts;

    const TensorInfo *find_tensor(const std::string &name) const;
};

/** The size of every index variable, bound from the inputs' shapes or from --dims. */
using Extents = std::map<std::string, int64_t>;

/** Whether p has a complex (c64, c128) tensor or expression: before passes/SplitComplex only. */
bool has_complex_type(const Program &p);

/** Throws InternalError if the program breaks an invariant (undeclared tensor or variable, wrong
 * rank, mixed types, a reduction variable that is also an output variable, an index expression
 * that uses a variable not bound where it is read or has a coefficient or constant of 2^32 or
 * more). */
void verify(const Program &p);

} // namespace einfuse::ir
