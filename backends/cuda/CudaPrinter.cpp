#include "backends/cuda/CudaPrinter.h"

#include "backends/cuda/CudaInternal.h"
#include "support/Error.h"

namespace einfuse::cuda_backend {

namespace detail {

namespace {

int precedence(ir::BinaryOp op) {
    switch (op) {
    case ir::BinaryOp::Add:
    case ir::BinaryOp::Sub:
        return 1;
    case ir::BinaryOp::Mul:
    case ir::BinaryOp::Div:
        return 2;
    default:
        return 3; // fmaxf(a, b): a call, never needs parentheses
    }
}

class ExprPrinter {
  public:
    explicit ExprPrinter(const KernelNames &names) : names_(names) {}

    std::string print(const ir::Expr &e) const {
        if (const auto *c = e.as<ir::Const>()) return literal(c->type, c->value);
        if (const auto *s = e.as<ir::ScalarRef>()) return names_.scalar(s->name);
        if (const auto *a = e.as<ir::Access>()) return access(a->tensor, a->indices);
        if (const auto *c = e.as<ir::Cast>())
            return convert(c->value.type(), c->type, print(c->value), infix(c->value));
        if (const auto *b = e.as<ir::Binary>()) return binary(*b);
        throw InternalError("the CUDA backend got a Reduce: the passes lower every Reduce to loops first");
    }

    /** t[i * t_s0 + j * t_s1]: strides are arguments, so one kernel serves every layout. */
    std::string access(const std::string &tensor, const std::vector<std::string> &idx) const {
        std::string offset;
        for (std::size_t d = 0; d < idx.size(); ++d)
            offset += (d ? " + " : "") + names_.var(idx[d]) + " * " + names_.stride(tensor, static_cast<int>(d));
        return names_.tensor(tensor) + "[" + (offset.empty() ? "0" : offset) + "]";
    }

  private:
    /** Whether e prints as `a op b`: float + - * /. Integer ops and max/min print as calls. */
    static bool infix(const ir::Expr &e) {
        const auto *b = e.as<ir::Binary>();
        return b && !is_integer(b->type) && precedence(b->op) < 3;
    }

    std::string binary(const ir::Binary &b) const {
        if (b.type == DType::F16 || b.type == DType::BF16)
            throw InternalError("the CUDA backend got " + std::string(dtype_name(b.type)) +
                                " arithmetic: the frontend computes f16/bf16 in f32 through Casts");
        if (is_integer(b.type)) return integer_binary(b);
        if (b.op == ir::BinaryOp::Max || b.op == ir::BinaryOp::Min) {
            std::string fn = b.op == ir::BinaryOp::Max ? "fmax" : "fmin";
            return fn + (b.type == DType::F32 ? "f(" : "(") + print(b.a) + ", " + print(b.b) + ")";
        }
        // Parentheses only where C would group differently: a right operand of equal precedence
        // keeps them, since floating-point a - (b - c) and a + (b + c) are not a - b - c, a + b + c.
        int p = precedence(b.op);
        auto operand = [&](const ir::Expr &e, bool right) {
            const auto *inner = e.as<ir::Binary>();
            bool paren = inner && (precedence(inner->op) < p || (right && precedence(inner->op) == p));
            return paren ? "(" + print(e) + ")" : print(e);
        };
        return operand(b.a, false) + " " + std::string(ir::binary_op_symbol(b.op)) + " " + operand(b.b, true);
    }

    /** acc + x in i64 is einfuse_wrap_add(acc, x): numpy wraps where C++'s signed overflow is
     * undefined (see device_prelude). max and min are CUDA's signed int/long long overloads. */
    std::string integer_binary(const ir::Binary &b) const {
        const char *fn = nullptr;
        switch (b.op) {
        case ir::BinaryOp::Add:
            fn = "einfuse_wrap_add";
            break;
        case ir::BinaryOp::Sub:
            fn = "einfuse_wrap_sub";
            break;
        case ir::BinaryOp::Mul:
            fn = "einfuse_wrap_mul";
            break;
        case ir::BinaryOp::Max:
            fn = "max";
            break;
        case ir::BinaryOp::Min:
            fn = "min";
            break;
        case ir::BinaryOp::Div:
            throw InternalError("the CUDA backend got an integer division: the frontend divides in floating point");
        }
        return std::string(fn) + "(" + print(b.a) + ", " + print(b.b) + ")";
    }

    const KernelNames &names_;
};

class StmtPrinter {
  public:
    StmtPrinter(const KernelNames &names, std::string &out) : names_(names), expr_(names), out_(out) {}

    void print(const ir::Stmt &s, int depth) {
        std::string pad(4 * depth, ' ');
        if (const auto *f = s.as<ir::For>()) {
            // A parallel loop below a serial one has independent iterations: running them in
            // order is correct, and the passes put parallel loops outermost anyway.
            const std::string &v = names_.var(f->var);
            out_ += pad + "for (long long " + v + " = 0; " + v + " < " + names_.extent(f->var) + "; ++" + v + ") {\n";
            print_body(f->body, depth + 1);
            out_ += pad + "}\n";
        } else if (s.as<ir::Block>()) {
            out_ += pad + "{\n"; // a nested block scopes its scalars, as in the IR
            print_body(s, depth + 1);
            out_ += pad + "}\n";
        } else if (const auto *st = s.as<ir::Store>()) {
            out_ += pad + expr_.access(st->tensor, st->indices) + " = " + expr_.print(st->value) + ";\n";
        } else if (const auto *d = s.as<ir::DeclareScalar>()) {
            out_ += pad + c_type(d->type) + " " + names_.scalar(d->name) + " = " + expr_.print(d->init) + ";\n";
        } else if (const auto *a = s.as<ir::AssignScalar>()) {
            out_ += pad + names_.scalar(a->name) + " = " + expr_.print(a->value) + ";\n";
        }
    }

    /** The statements of s without braces of their own (the enclosing loop has them). */
    void print_body(const ir::Stmt &s, int depth) {
        if (const auto *b = s.as<ir::Block>()) {
            for (const auto &x : b->stmts)
                print(x, depth);
        } else {
            print(s, depth);
        }
    }

  private:
    const KernelNames &names_;
    ExprPrinter expr_;
    std::string &out_;
};

std::string signature(const ir::Kernel &k, const KernelNames &names) {
    std::vector<std::string> params;
    for (std::size_t p = 0; p < k.params.size(); ++p) {
        const auto &t = k.params[p];
        bool input = static_cast<int>(p) < k.num_inputs;
        std::string line =
            std::string(input ? "const " : "") + c_type(t.dtype) + " *__restrict__ " + names.tensor(t.name);
        for (int d = 0; d < t.rank; ++d)
            line += ", long long " + names.stride(t.name, d);
        params.push_back(line);
    }
    std::string extents;
    for (const auto &v : k.index_vars)
        extents += (extents.empty() ? "long long " : ", long long ") + names.extent(v);
    if (!extents.empty()) params.push_back(extents);

    std::string out = "extern \"C\" __global__ void " + k.name + "(";
    for (std::size_t i = 0; i < params.size(); ++i)
        out += (i ? ",\n    " : "\n    ") + params[i];
    return out + ")";
}

} // namespace

std::string print_kernel(const ir::Kernel &k, const KernelNames &names) {
    std::vector<std::string> par = ir::parallel_vars(k);
    ir::Stmt inner = k.body;
    for (std::size_t i = 0; i < par.size(); ++i)
        inner = inner.as<ir::For>()->body;

    std::string out = signature(k, names) + " {\n";
    // The parallel loops become one 64-bit linear index, last variable fastest, so that
    // neighbouring threads touch neighbouring output elements. Before: parallel for b, i, k.
    // After: for idx in [0, n_b*n_i*n_k) step grid size { k = idx % n_k; i = idx / n_k % n_i; ... }
    std::string total;
    for (const auto &v : par)
        total += (total.empty() ? "" : " * ") + names.extent(v);
    out += "    const long long total = " + (total.empty() ? std::string("1") : total) + ";\n";
    out += "    for (long long idx = (long long)blockIdx.x * blockDim.x + threadIdx.x; idx < total;\n"
           "         idx += (long long)gridDim.x * blockDim.x) {\n";
    if (par.size() == 1) {
        out += "        const long long " + names.var(par[0]) + " = idx;\n";
    } else if (par.size() > 1) {
        out += "        long long rest = idx;\n";
        for (std::size_t i = par.size(); i-- > 1;)
            out += "        const long long " + names.var(par[i]) + " = rest % " + names.extent(par[i]) +
                   "; rest /= " + names.extent(par[i]) + ";\n";
        out += "        const long long " + names.var(par[0]) + " = rest;\n";
    }
    std::string body;
    StmtPrinter(names, body).print_body(inner, 2);
    return out + body + "    }\n}\n";
}

} // namespace detail

namespace {

/** "// " before every line of a possibly multi-line statement. A backslash at the end of a line
 * would splice the next line of code into the comment: "x \\" becomes "x \\.". */
std::string comment_lines(const std::string &text) {
    std::string out = "// ";
    for (std::size_t i = 0; i < text.size(); ++i) {
        out += text[i] == '\n' ? std::string("\n// ") : std::string(1, text[i]);
        if (text[i] == '\\' && (i + 1 == text.size() || text[i + 1] == '\n')) out += ".";
    }
    return out + "\n";
}

} // namespace

std::string emit_cuda(const std::vector<ir::Kernel> &kernels, std::string_view einfuse_version) {
    std::string out = "// Generated by einfuse " + std::string(einfuse_version) + ". Do not edit.\n";
    std::set<DType> types;
    for (const auto &k : kernels)
        for (DType t : detail::kernel_dtypes(k))
            types.insert(t);
    // Before the host part: its launchers cast data pointers to __half * as well.
    std::string prelude = detail::device_prelude(types);
    out += detail::abi_comment() + "\n" + (prelude.empty() ? "" : prelude + "\n") + detail::launcher_preamble();
    for (const auto &k : kernels) {
        out += "\n" + comment_lines(k.comment.empty() ? k.name : k.comment);
        detail::KernelNames names(k);
        out += detail::print_kernel(k, names) + "\n";
        out += detail::print_launcher(k, names);
    }
    return out;
}

CudaLaunchConfig cuda_launch_config(const ir::Kernel &k, const std::vector<int64_t> &extents) {
    EINFUSE_ASSERT(extents.size() == k.index_vars.size(), "one extent per index variable");
    int64_t total = 1;
    for (const auto &v : ir::parallel_vars(k))
        total *= extents[k.var_index(v)];
    int64_t grid = std::min((total + detail::kBlockSize - 1) / detail::kBlockSize, detail::kMaxGrid);
    return {grid, detail::kBlockSize};
}

} // namespace einfuse::cuda_backend
