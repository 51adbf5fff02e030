"""The einsum backward rules (einfuse/_grad.py) checked without any framework: an einsum is
linear in each operand, so operand k's gradient g_k must satisfy <g_k, V> = <G, einsum(.., V, ..)>
for any V. The rule's einsum runs in einfuse; its expand and diagonal scatter in numpy."""
import numpy as np
import pytest

import einfuse

pytestmark = pytest.mark.host
from einfuse import _grad

rng = np.random.default_rng(3)

CASES = [
    ("bij,bjk->bik", [(4, 2, 3), (4, 3, 2)]),
    ("ii->i", [(4, 4)]),
    ("ii", [(4, 4)]),
    ("iij->j", [(3, 3, 2)]),
    ("ij->i", [(3, 5)]),
    ("ij->", [(3, 5)]),
    ("ij,ij->ij", [(1, 3), (4, 3)]),
    ("ij,ij->", [(3, 4), (1, 4)]),
    ("...ij,...jk->...ik", [(2, 1, 3, 4), (5, 4, 2)]),
    ("ij,jk,kl->il", [(2, 3), (3, 4), (4, 2)]),
    ("ij,jk", [(2, 3), (3, 4)]),
    ("i,j->ij", [(3,), (4,)]),
    ("ijk,ik->j", [(2, 3, 1), (2, 1)]),
]


def grad_numpy(expr, ops, G):
    grads = []
    for k, p in enumerate(_grad.plan(expr, [o.shape for o in ops])):
        t = G if p.identity else einfuse.einsum(p.expr, G, *[ops[j] for j in p.others])
        t = np.broadcast_to(np.reshape(t, p.view_shape), p.sizes)
        if p.diagonal:
            z = np.zeros(p.shape)
            np.lib.stride_tricks.as_strided(z, p.sizes, [s * 8 for s in p.diagonal_strides])[...] = t
            t = z
        grads.append(np.asarray(t))
    return grads


@pytest.mark.parametrize("expr,shapes", CASES)
def test_gradient_is_the_adjoint(expr, shapes):
    ops = [rng.uniform(-1, 1, s) for s in shapes]
    out = np.einsum(expr, *ops)
    G = rng.uniform(-1, 1, out.shape)
    for k, g in enumerate(grad_numpy(expr, ops, G)):
        assert g.shape == ops[k].shape
        V = rng.uniform(-1, 1, ops[k].shape)
        moved = list(ops)
        moved[k] = V
        np.testing.assert_allclose(np.sum(g * V), np.sum(G * np.einsum(expr, *moved)), rtol=1e-10, atol=1e-12)
