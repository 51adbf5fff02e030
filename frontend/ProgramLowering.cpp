// From the checked AST to ir::Program: one Definition per statement, types by numpy's rules.
//   out[i] = sum[j](A[i,j]) + B[i,k]
// becomes out[i] = Reduce({i}, {k}, Sum, Reduce({}, {j}, Sum, A[i,j]) + B[i,k]): k, on neither
// side's binder, is summed over the whole right-hand side.
#include "frontend/Einsum.h"
#include "frontend/Program.h"
#include "frontend/ProgramAnalysis.h"

#include <algorithm>
#include <set>

namespace einfuse::frontend {

namespace {

ir::BinaryOp binary_op(const std::string &op) {
    static const std::map<std::string, ir::BinaryOp> ops = {
        {"+", ir::BinaryOp::Add},   {"-", ir::BinaryOp::Sub},  {"*", ir::BinaryOp::Mul}, {"/", ir::BinaryOp::Div},
        {"^", ir::BinaryOp::Pow},   {"<", ir::BinaryOp::Lt},   {"<=", ir::BinaryOp::Le}, {">", ir::BinaryOp::Gt},
        {">=", ir::BinaryOp::Ge},   {"==", ir::BinaryOp::Eq},  {"!=", ir::BinaryOp::Ne}, {"max", ir::BinaryOp::Max},
        {"min", ir::BinaryOp::Min}, {"pow", ir::BinaryOp::Pow}};
    return ops.at(op);
}

ir::UnaryOp unary_op(const std::string &f) {
    static const std::map<std::string, ir::UnaryOp> ops = {
        {"exp", ir::UnaryOp::Exp},         {"log", ir::UnaryOp::Log},   {"sqrt", ir::UnaryOp::Sqrt},
        {"rsqrt", ir::UnaryOp::Rsqrt},     {"abs", ir::UnaryOp::Abs},   {"tanh", ir::UnaryOp::Tanh},
        {"sigmoid", ir::UnaryOp::Sigmoid}, {"relu", ir::UnaryOp::Relu}, {"gelu", ir::UnaryOp::Gelu},
        {"sin", ir::UnaryOp::Sin},         {"cos", ir::UnaryOp::Cos},   {"floor", ir::UnaryOp::Floor},
        {"ceil", ir::UnaryOp::Ceil},       {"sign", ir::UnaryOp::Sign}, {"conj", ir::UnaryOp::Conj},
        {"real", ir::UnaryOp::Real},       {"imag", ir::UnaryOp::Imag}};
    return ops.at(f);
}

ir::ReduceOp reduce_op(const std::string &r) {
    if (r == "max") return ir::ReduceOp::Max;
    if (r == "min") return ir::ReduceOp::Min;
    if (r == "prod") return ir::ReduceOp::Prod;
    return ir::ReduceOp::Sum;
}

std::vector<std::string> vars_of(const std::vector<IndexAst> &list) {
    std::vector<std::string> out;
    for (const auto &i : list)
        out.push_back(i.var);
    return out;
}

class Lowering {
  public:
    Lowering(DType compute, const std::map<std::string, DType> &tensor_types)
        : compute_(compute), types_(tensor_types) {}

    /** current: the user's name of each defined tensor -> its version now. */
    ir::Expr lower(const ExprAst &e, const std::map<std::string, std::string> &current) const {
        auto arg = [&](std::size_t i) { return lower(*e.args[i], current); };
        switch (e.kind) {
        case ExprAstKind::Number:
            // i32-sized whole literals keep an integer program integer (ProgramAnalysis); a
            // narrower type must hold it too, as numpy (NEP 50) refuses uint8 + 300.
            if (is_integer(compute_) && wrap_to(compute_, e.number) != e.number)
                throw UserError(Diagnostic{"the literal " + std::to_string(static_cast<long long>(e.number)) +
                                               " does not fit the program's element type " +
                                               std::string(dtype_name(compute_)),
                                           {e.where},
                                           {"numpy refuses it too; write it as a tensor, or use a wider type"}});
            return ir::Const::make(compute_, e.number);
        case ExprAstKind::Read: {
            auto it = current.find(e.name);
            std::string tensor = it == current.end() ? e.name : it->second;
            return ir::Cast::make(compute_, ir::Access::make(types_.at(tensor), tensor, vars_of(e.indices)));
        }
        case ExprAstKind::Negate:
            reject_bool_minus(e);
            return ir::Unary::make(ir::UnaryOp::Neg, arg(0));
        case ExprAstKind::Binary:
            if (e.op == "-") reject_bool_minus(e);
            reject_complex(e, e.op, {"+", "-", "*", "/", "==", "!="});
            return ir::Binary::make(binary_op(e.op), arg(0), arg(1));
        case ExprAstKind::Call:
            if (e.name == "where") return ir::Select::make(arg(0), arg(1), arg(2));
            reject_complex(e, e.name, {"exp", "abs", "conj", "real", "imag"});
            if (e.args.size() == 2) return ir::Binary::make(binary_op(e.name), arg(0), arg(1));
            // real, imag and abs of a complex value are real: held in the program's complex type.
            return ir::Cast::make(compute_, ir::Unary::make(unary_op(e.name), arg(0)));
        case ExprAstKind::Reduction:
            reject_complex(e, e.name + "[...]", {"sum[...]"});
            return ir::Reduce::make({}, vars_of(e.indices), reduce_op(e.name), arg(0));
        }
        throw InternalError("unknown expression kind");
    }

    ir::Expr read(const std::string &version, const std::vector<std::string> &indices) const {
        return ir::Cast::make(compute_, ir::Access::make(types_.at(version), version, indices));
    }

  private:
    /** bool computes with + as or and * as and (numpy's einsum of bools); numpy has no bool
     * minus ("numpy boolean subtract, the `-` operator, is not supported"), nor has einfuse. */
    void reject_bool_minus(const ExprAst &e) const {
        if (compute_ == DType::Bool)
            throw UserError(Diagnostic{"'-' of bool values: numpy has no boolean subtract or negative",
                                       {e.name_where},
                                       {"compare instead (a != b), or give the inputs an integer type"}});
    }

    /** A complex program computes what passes/SplitComplex can write in real parts; numpy's other
     * complex functions (log, sqrt, the trigonometric ones, pow) and its lexicographic ordering
     * (<, max, max[...]) are not offered. */
    void reject_complex(const ExprAst &e, const std::string &what, std::initializer_list<const char *> allowed) const {
        if (!is_complex(compute_)) return;
        for (const char *a : allowed)
            if (what == a) return;
        throw UserError(Diagnostic{"'" + what + "' of complex values is not supported (the program computes in " +
                                       std::string(dtype_name(compute_)) + ")",
                                   {e.name_where},
                                   {"complex programs offer + - * / == != where exp abs conj real imag and sum"}});
    }

    DType compute_;
    const std::map<std::string, DType> &types_;
};

} // namespace

std::vector<std::pair<std::string, int>> program_inputs(const ProgramAst &ast) { return analyze_program(ast).inputs; }

ir::Program program_ir(const ProgramAst &ast, const std::map<std::string, DType> &dtypes,
                       const std::vector<std::string> &outputs) {
    const ProgramAnalysis a = analyze_program(ast);
    SourceRange whole{0, static_cast<int>(ast.source.size())};
    for (const auto &[name, type] : dtypes)
        if (!a.input_use.count(name))
            throw UserError(
                Diagnostic{"an element type is given for '" + name + "', which is not an input of the program",
                           {},
                           {"only the tensors a program reads and never defines take --dtype"}});

    // Types: numpy's promotion over the inputs; f16/bf16 compute in f32; integers compute in f64
    // where numpy would give floats ('/', '^', exp, ...), and then the outputs are f64 too.
    std::vector<DType> input_types;
    std::map<std::string, DType> types;
    for (const auto &[name, rank] : a.inputs) {
        auto it = dtypes.find(name);
        input_types.push_back(it == dtypes.end() ? DType::F32 : it->second);
        types[name] = input_types.back();
    }
    DType out_type = promote_types(input_types);
    if (is_integer(out_type) && a.needs_float) out_type = DType::F64;
    DType compute = (out_type == DType::F16 || out_type == DType::BF16) ? DType::F32 : out_type;

    // Which final versions are returned.
    std::vector<std::string> returned;
    if (outputs.empty()) {
        for (std::size_t s = 0; s < ast.statements.size(); ++s) {
            const std::string &t = ast.statements[s].tensor;
            if (a.last_definition.at(t) != static_cast<int>(s)) continue;
            bool read_later = false;
            for (std::size_t later = s + 1; later < ast.statements.size(); ++later)
                for (const auto &r : a.statements[later].reads)
                    read_later |= r.tensor == t;
            if (!read_later) returned.push_back(t);
        }
    } else {
        for (const auto &name : outputs) {
            if (!a.last_definition.count(name)) {
                std::string defined;
                for (const auto &[t, s] : a.last_definition)
                    defined += (defined.empty() ? "" : ", ") + t;
                auto input = a.input_use.find(name);
                throw UserError(
                    Diagnostic{input != a.input_use.end()
                                   ? "output '" + name + "' is an input of the program, not a tensor it defines"
                                   : "output '" + name + "' is not a tensor of the program",
                               input != a.input_use.end() ? std::vector<SourceRange>{input->second}
                                                          : std::vector<SourceRange>{whole},
                               {"the program defines: " + defined}});
            }
            if (std::find(returned.begin(), returned.end(), name) == returned.end()) returned.push_back(name);
        }
    }

    ir::Program p;
    p.source = ast.source;
    p.index_vars = a.vars;
    for (const auto &[name, rank] : a.inputs)
        p.inputs.push_back({name, types[name], rank});
    for (const auto &name : returned)
        p.outputs.push_back(
            {name, out_type, static_cast<int>(ast.statements[a.last_definition.at(name)].indices.size())});
    for (std::size_t s = 0; s < ast.statements.size(); ++s) {
        const std::string &version = a.statements[s].version;
        bool is_output = std::find(returned.begin(), returned.end(), version) != returned.end() &&
                         a.last_definition.at(ast.statements[s].tensor) == static_cast<int>(s);
        types[version] = is_output ? out_type : compute;
        if (!is_output) p.temporaries.push_back({version, compute, static_cast<int>(ast.statements[s].indices.size())});
    }

    Lowering lowering(compute, types);
    std::map<std::string, std::string> current;
    for (std::size_t s = 0; s < ast.statements.size(); ++s) {
        const StatementAst &st = ast.statements[s];
        const StatementInfo &info = a.statements[s];
        ir::Expr body = lowering.lower(*st.rhs, current);
        std::vector<std::string> implicit = vars_of(info.implicit);
        ir::Expr value;
        if (st.accumulate) {
            // new = old + rhs: the implicit sum covers the right-hand side only, so it is a nested
            // Reduce and the top one reduces nothing.
            ir::Expr rhs = implicit.empty() ? body : ir::Reduce::make({}, implicit, ir::ReduceOp::Sum, body);
            ir::Expr sum = ir::Binary::make(ir::BinaryOp::Add, lowering.read(info.previous, info.lhs), rhs);
            value = ir::Reduce::make(info.lhs, {}, ir::ReduceOp::Sum, sum);
        } else {
            value = ir::Reduce::make(info.lhs, implicit, ir::ReduceOp::Sum, body);
        }
        p.definitions.push_back({info.version, info.lhs, value});
        current[st.tensor] = info.version;
    }
    ir::verify(p);
    return p;
}

} // namespace einfuse::frontend
