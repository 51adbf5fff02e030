#pragma once
// The hand-built loop nest of "bij,bjk->bik" that the CUDA backend tests print and run.
#include "ir/Kernel.h"

namespace einfuse::test {

using namespace einfuse::ir;

/** parallel for b, i, k { acc = 0; for j { acc = acc + in0[b,i,j] * in1[b,j,k] } out[b,i,k] = acc }
 * with tensors of type `storage` and arithmetic in `compute`, as the frontend builds it: an f16
 * bmm reads Cast(f32, in0[b,i,j]), accumulates in f32 and stores Cast(f16, acc). */
inline Kernel bmm_kernel(DType storage, DType compute, const std::string &name) {
    auto at = [&](const char *tensor, std::vector<std::string> idx) {
        return Cast::make(compute, Access::make(storage, tensor, std::move(idx)));
    };
    Expr acc = ScalarRef::make(compute, "acc");
    Stmt inner = Block::make({
        DeclareScalar::make("acc", compute, Const::make(compute, 0)),
        For::make("j", LoopKind::Serial,
                  AssignScalar::make("acc", Binary::make(BinaryOp::Add, acc,
                                                         Binary::make(BinaryOp::Mul, at("in0", {"b", "i", "j"}),
                                                                      at("in1", {"b", "j", "k"}))))),
        Store::make("out", {"b", "i", "k"}, Cast::make(storage, acc)),
    });
    Kernel k;
    k.name = name;
    k.comment = "bij,bjk->bik";
    k.params = {{"in0", storage, 3}, {"in1", storage, 3}, {"out", storage, 3}};
    k.num_inputs = 2;
    k.index_vars = {"b", "i", "j", "k"};
    k.body = For::make("b", LoopKind::Parallel,
                       For::make("i", LoopKind::Parallel, For::make("k", LoopKind::Parallel, inner)));
    return k;
}
inline Kernel bmm_kernel(DType t, const std::string &name) { return bmm_kernel(t, t, name); }

} // namespace einfuse::test
