#include "passes/HostGemm.h"

#include "ir/Walk.h"
#include "passes/GemmMatch.h"

#include <algorithm>
#include <cstdlib>

namespace einfuse::passes {

namespace {

const ir::Access *operand(const ir::Expr &e) {
    if (const auto *c = e.as<ir::Cast>()) return operand(c->value);
    return e.as<ir::Access>();
}

} // namespace

std::optional<PackedGemmParts> packed_gemm_parts(const ir::Kernel &k, std::string *why) {
    auto refuse = [&](std::string w) -> std::optional<PackedGemmParts> {
        if (why) *why = std::move(w);
        return std::nullopt;
    };
    if (k.strategy != ir::Strategy::Gemm || !k.gemm) return refuse("not the GEMM strategy");
    const ir::Gemm &g = *k.gemm;
    ir::AroundLoop around = ir::around_first_loop(k);
    if (!around.loop || around.before.size() != 1) return refuse("the loop nest is not one accumulator and its loop");
    const auto *decl = around.before[0].as<ir::DeclareScalar>();
    const auto *zero = decl ? decl->init.as<ir::Const>() : nullptr;
    if (!zero || zero->value != 0) return refuse("the accumulator does not start at 0");
    PackedGemmParts parts{decl->name, decl->type, around.after};
    if (parts.type != DType::F32 && parts.type != DType::F64)
        return refuse("it accumulates in " + std::string(dtype_name(parts.type)) +
                      "; the packed GEMM has f32 and f64 micro-kernels only");
    // The reduction: serial loops over exactly the K variables around acc = acc + x * y.
    std::vector<std::string> loop_vars;
    const ir::For *f = around.loop;
    ir::Stmt inner;
    while (f) {
        if (f->loop_kind != ir::LoopKind::Serial) return refuse("the reduction loop is not serial");
        loop_vars.push_back(f->var);
        inner = f->body;
        f = inner.as<ir::For>();
    }
    std::vector<std::string> ks = g.k, ls = loop_vars;
    std::sort(ks.begin(), ks.end());
    std::sort(ls.begin(), ls.end());
    if (ks != ls) return refuse("the reduction loops are not the K group");
    const auto *assign = inner.as<ir::AssignScalar>();
    const auto *add = assign ? assign->value.as<ir::Binary>() : nullptr;
    const auto *self = add ? add->a.as<ir::ScalarRef>() : nullptr;
    const auto *mul = add ? add->b.as<ir::Binary>() : nullptr;
    if (!add || add->op != ir::BinaryOp::Add || !self || self->name != parts.acc || !mul ||
        mul->op != ir::BinaryOp::Mul || assign->name != parts.acc)
        return refuse("the reduction is not acc = acc + a * b");
    for (const ir::Expr *x : {&mul->a, &mul->b}) {
        const ir::Access *a = operand(*x);
        if (!a || (a->tensor != g.a && a->tensor != g.b)) return refuse("a factor is not a read of A or B");
        // f16/bf16 operands widen to f32 exactly while packed: the f32 micro-kernel serves them.
        bool widened = parts.type == DType::F32 && (a->type == DType::F16 || a->type == DType::BF16);
        if (a->type != parts.type && !widened)
            return refuse(a->tensor + " is " + std::string(dtype_name(a->type)) + " and the accumulator " +
                          std::string(dtype_name(parts.type)) +
                          "; the packed GEMM reads operands of its type, or f16/bf16 into f32");
    }
    for (const auto &st : parts.epilogue) {
        bool loops = false;
        ir::for_each_loop(st, [&](const ir::For &) { loops = true; });
        if (loops) return refuse("the epilogue has loops of its own");
    }
    // A variable no group holds was planned with size 1 and is read at 0 (exec/HostExecutor
    // refuses other sizes), as the CUDA GEMM launcher does.
    return parts;
}

PackedGemmTile packed_gemm_tile(DType t, int vector_bits) {
    PackedGemmTile tile;
    tile.w = vector_bits / (8 * static_cast<int>(dtype_size(t)));
    tile.nrv = 2;
    tile.mr = vector_bits >= 512 ? 14 : 6;
    return tile;
}

int64_t packed_gemm_a_block_bytes(const ir::Target &target) {
    constexpr int64_t kUnknownL2ABlockBytes = 512 * 1024;
    return target.l2_bytes > 0 ? target.l2_bytes / 4 : kUnknownL2ABlockBytes;
}

namespace {

std::optional<std::string> why_not_packed(const ir::Kernel &k, int vector_bits) {
    // The one switch for benchmarks and comparisons: EINFUSE_HOST_GEMM=0 runs GEMM kernels as
    // their loop nest (documented in docs/performance.md).
    if (const char *env = std::getenv("EINFUSE_HOST_GEMM"); env && std::string(env) == "0")
        return std::string("EINFUSE_HOST_GEMM=0 asks for the loop nest");
    if (vector_bits < 128) return std::string("this CPU has no vector registers for the micro-kernel");
    std::string why;
    if (!packed_gemm_parts(k, &why)) return why;
    return std::nullopt;
}

/** "packed GEMM, f32 micro-kernel 14x32 in 512-bit vectors, ..." for the plan. */
std::string describe_packed(const ir::Kernel &k, const PackedGemmParts &parts, int vector_bits, const ir::Target &target) {
    PackedGemmTile t = packed_gemm_tile(parts.type, vector_bits);
    std::string widened;
    for (const auto *name : {&k.gemm->a, &k.gemm->b}) {
        DType stored = k.params[k.param_index(*name)].dtype;
        if (stored != parts.type)
            widened += "; " + *name + " (" + std::string(dtype_name(stored)) + ") widened to f32 while packed";
    }
    return "packed GEMM, " + std::string(dtype_name(parts.type)) + " micro-kernel " + std::to_string(t.mr) + "x" +
           std::to_string(t.nr()) + " in " + std::to_string(vector_bits) +
           "-bit vectors, A packed in blocks of MC rows (at most " + std::to_string(k.gemm->host_a_block_bytes / 1024) +
           " KiB: " +
           (target.l2_bytes > 0 ? "a quarter of the CPU's " + std::to_string(target.l2_bytes / 1024) + " KiB L2"
                                : std::string("the CPU's L2 not known")) +
           ") and B in panels of NC columns, both whole K deep (the "
           "tile's sums stay in registers), the epilogue applied to each finished tile; threads split batch x M" +
           widened;
}

} // namespace

void choose_host_gemm(ir::Kernel &k, const LowerOptions &options) {
    ir::Gemm &g = *k.gemm;
    const int bits = options.target.vector_bits;
    std::string detail;
    if (auto why = why_not_packed(k, bits)) {
        g.host_packed = false;
        detail = "host: the loop nest, not the packed GEMM: " + *why;
    } else {
        g.host_packed = true;
        g.host_vector_bits = bits;
        g.host_a_block_bytes = packed_gemm_a_block_bytes(options.target);
        detail = "host: " + describe_packed(k, *packed_gemm_parts(k, nullptr), bits, options.target);
    }
    k.strategy_detail += (k.strategy_detail.empty() ? "" : "; ") + detail;
}

} // namespace einfuse::passes
