#include "ir/IRVisitor.h"

namespace einfuse::ir {

void IRVisitor::walk(const Expr &e) {
    ir::visit(e, [&](const auto &n) { visit(n); });
}

void IRVisitor::walk(const Stmt &s) {
    ir::visit(s, [&](const auto &n) { visit(n); });
}

void IRVisitor::visit(const Const &) {}
void IRVisitor::visit(const Access &) {}
void IRVisitor::visit(const ScalarRef &) {}
void IRVisitor::visit(const Cast &n) { walk(n.value); }
void IRVisitor::visit(const Unary &n) { walk(n.a); }
void IRVisitor::visit(const Binary &n) {
    walk(n.a);
    walk(n.b);
}
void IRVisitor::visit(const Select &n) {
    walk(n.cond);
    walk(n.a);
    walk(n.b);
}
void IRVisitor::visit(const Reduce &n) { walk(n.body); }

void IRVisitor::visit(const For &n) { walk(n.body); }
void IRVisitor::visit(const Block &n) {
    for (const auto &s : n.stmts) walk(s);
}
void IRVisitor::visit(const Store &n) { walk(n.value); }
void IRVisitor::visit(const DeclareScalar &n) { walk(n.init); }
void IRVisitor::visit(const AssignScalar &n) { walk(n.value); }

} // namespace einfuse::ir
