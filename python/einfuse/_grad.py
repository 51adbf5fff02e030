"""The backward of an einsum as einsums: each operand's gradient is an einsum of the output
gradient with the other operands, followed by the framework's expand (labels only that operand
has, and its broadcast size-1 dimensions) and diagonal scatter (labels it repeats).

    'bij,bjk->bik', A: 'bik,bjk->bij' (G with B)     'ii->i', A: 'i->i' scattered on the diagonal
    'ij->i', A: 'i->i' expanded over j               'ij,ij->ij' with A (1,3): A's i becomes a
                                                     fresh label, summed, kept as size 1
Pure string and shape logic, no framework: python/tests/test_grad_rules.py checks it on numpy."""
import string

from ._lib import Error


class GradPlan:
    """How to build operand k's gradient from G (the output's gradient)."""

    def __init__(self, **kw):
        self.__dict__.update(kw)

    def __repr__(self):
        return "GradPlan(%s)" % ", ".join("%s=%r" % kv for kv in sorted(self.__dict__.items()))


def parse(expr, ndims):
    """Each operand's labels ('...' expanded into fresh letters, right-aligned as numpy
    broadcasts), the output's labels, and an iterator of still unused letters."""
    s = expr.replace(" ", "")
    lhs, arrow, rhs = s.partition("->")
    ops = lhs.split(",")
    if len(ops) != len(ndims):
        raise Error("einfuse: error: the einsum has %d operands, got %d arrays" % (len(ops), len(ndims)), 2)
    used = set(c for c in s if c.isalpha())
    fresh = iter([c for c in string.ascii_letters if c not in used])
    ell = [nd - len(op.replace("...", "")) if "..." in op else 0 for op, nd in zip(ops, ndims)]
    try:
        ell_labels = [next(fresh) for _ in range(max(ell + [0]))]
    except StopIteration:
        raise Error("einfuse: error: too many dimensions to differentiate this einsum (52 labels at most)", 2)

    def expand(op, e):
        if "..." not in op:
            return list(op)
        before, after = op.split("...")
        return list(before) + ell_labels[len(ell_labels) - e:] + list(after)

    labels = [expand(op, e) for op, e in zip(ops, ell)]
    if arrow:
        out = list(rhs.replace("...", "".join(ell_labels)))
    else:
        counts = {}
        for op in ops:
            for c in op.replace("...", ""):
                counts[c] = counts.get(c, 0) + 1
        out = ell_labels + sorted((c for c, n in counts.items() if n == 1), key=ord)
    return labels, out, fresh


def plan(expr, shapes):
    """One GradPlan per operand of the einsum `expr` on operands of these shapes."""
    shapes = [tuple(s) for s in shapes]
    labels, out, fresh = parse(expr, [len(s) for s in shapes])
    size = {}
    for lab, shp in zip(labels, shapes):
        for c, n in zip(lab, shp):
            if size.get(c, 1) == 1:
                size[c] = n
    plans = []
    for k, (lab_k, shape_k) in enumerate(zip(labels, shapes)):
        lab = list(lab_k)
        for d, c in enumerate(lab):
            if shape_k[d] == 1 and size[c] != 1:  # broadcast here: its gradient sums over c
                lab[d] = next(fresh)
        uniq = list(dict.fromkeys(lab))
        sizes_u = [shape_k[lab.index(c)] for c in uniq]
        others = [j for j in range(len(shapes)) if j != k]
        present = {}
        for c, n in zip(out, [size[c] for c in out]):
            present[c] = n
        for j in others:
            for c, n in zip(labels[j], shapes[j]):
                present[c] = max(present.get(c, 1), n)
        # A label is computed by the einsum where G or another operand has it at its full size;
        # otherwise the gradient is constant along it (expanded).
        avail = [c for c, n in zip(uniq, sizes_u) if present.get(c) == n]
        contiguous, step = [0] * len(shape_k), 1
        for d in reversed(range(len(shape_k))):
            contiguous[d], step = step, step * max(shape_k[d], 1)
        plans.append(GradPlan(
            expr=",".join(["".join(out)] + ["".join(labels[j]) for j in others]) + "->" + "".join(avail),
            others=others,
            identity=not others and avail == out,
            view_shape=[n if c in avail else 1 for c, n in zip(uniq, sizes_u)],
            sizes=sizes_u,
            diagonal=len(uniq) != len(lab),
            diagonal_strides=[sum(contiguous[d] for d in range(len(lab)) if lab[d] == c) for c in uniq],
            shape=shape_k))
    return plans
