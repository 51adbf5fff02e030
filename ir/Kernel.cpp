#include "ir/Kernel.h"

#include "ir/Walk.h"
#include "support/Error.h"

#include <algorithm>
#include <map>

namespace einfuse::ir {

std::string_view strategy_name(Strategy s) {
    switch (s) {
    case Strategy::Unrolled: return "unrolled";
    case Strategy::BroadcastReduce: return "broadcast-reduce";
    case Strategy::Gemm: return "gemm";
    case Strategy::Elementwise: return "elementwise";
    }
    return "?";
}

int Kernel::param_index(const std::string &tensor) const {
    for (std::size_t i = 0; i < params.size(); ++i)
        if (params[i].name == tensor) return static_cast<int>(i);
    return -1;
}

int Kernel::var_index(const std::string &var) const {
    auto it = std::find(index_vars.begin(), index_vars.end(), var);
    return it == index_vars.end() ? -1 : static_cast<int>(it - index_vars.begin());
}

std::vector<std::string> parallel_vars(const Kernel &k) {
    std::vector<std::string> vars;
    Stmt s = k.body;
    while (const auto *f = s.as<For>()) {
        if (f->loop_kind != LoopKind::Parallel) break;
        vars.push_back(f->var);
        s = f->body;
    }
    return vars;
}

Stmt parallel_body(const Kernel &k) {
    Stmt s = k.body;
    while (const auto *f = s.as<For>()) {
        if (f->loop_kind != LoopKind::Parallel) break;
        s = f->body;
    }
    return s;
}

AroundLoop around_first_loop(const Kernel &k) {
    Stmt inner = parallel_body(k);
    std::vector<Stmt> stmts = inner.as<Block>() ? inner.as<Block>()->stmts : std::vector<Stmt>{inner};
    AroundLoop a;
    for (const auto &s : stmts) {
        if (!a.loop && s.as<For>())
            a.loop = s.as<For>();
        else
            (a.loop ? a.after : a.before).push_back(s);
    }
    return a;
}

Kernel renamed(Kernel k, const std::string &name) {
    const std::string old = k.name;
    k.name = name;
    if (k.tiling && k.tiling->combine) {
        auto combine = std::make_shared<Kernel>(*k.tiling->combine);
        combine->name = name + "_combine";
        k.tiling->combine = combine;
    }
    std::map<const Kernel *, std::shared_ptr<const Kernel>> codes; // a specialisation's variants share one kernel
    for (auto &v : k.launch) {
        if (v.code) {
            EINFUSE_ASSERT(v.code->name.rfind(old, 0) == 0, "a specialisation's name starts with its kernel's");
            auto &code = codes[v.code.get()];
            if (!code) code = std::make_shared<Kernel>(renamed(*v.code, name + v.code->name.substr(old.size())));
            v.code = code;
        }
        if (v.combine) v.combine->kernel = (v.code ? v.code->name : name) + "_combine";
    }
    return k;
}

bool uses_var(const Kernel &k, const std::string &var) {
    bool used = false;
    for_each_tensor_use(k.body, [&](const std::string &, const std::vector<Index> &idx) {
        for (const auto &i : idx) {
            auto vars = i.vars();
            used |= std::find(vars.begin(), vars.end(), var) != vars.end();
        }
    });
    return used;
}

} // namespace einfuse::ir

namespace einfuse::ir {

int GemmSmall::shared_bytes() const {
    const int vec = 16 / static_cast<int>(dtype_size(type));
    return 2 * elements * (m * (bk + vec) + bk * n) * static_cast<int>(dtype_size(type));
}

} // namespace einfuse::ir
