#!/usr/bin/env python3
"""einfuse from Python in one page: numpy and PyTorch arrays in, the same kind out.

    python3 examples/python/quickstart.py        (after scripts/build.sh; docs/python.md)"""
import numpy as np

import einfuse

rng = np.random.default_rng(0)

# The seed case: a batch of 3x3 products, on numpy arrays. The result is a numpy array.
a = rng.standard_normal((100_000, 3, 3), dtype=np.float32)
b = rng.standard_normal((100_000, 3, 3), dtype=np.float32)
c = einfuse.einsum("bij,bjk->bik", a, b)
print("bij,bjk->bik:", type(c).__name__, c.shape, "max |error| vs numpy:", float(np.abs(c - a @ b).max()))

# An index-notation program: a Gaussian kernel sum that never materialises the N x M matrix.
x, y, w = rng.random((2000, 3)), rng.random((1500, 3)), rng.random(1500)
out = einfuse.run("out[i] = sum[j](exp(-sum[d]((x[i,d] - y[j,d])^2)) * w[j])", x=x, y=y, w=w)
print("Gaussian sum:", out.shape, out[:3])

# A reusable callable, with einfuse's plan: which strategy it chose and why.
f = einfuse.compile("bij,bjk->bik")
f(a, b)
print(f.plan.splitlines()[1])

# Errors carry einfuse's diagnostic, carets under the expression, and a category.
try:
    einfuse.einsum("bij,bjk->bik", a, b[:, :2])
except einfuse.Error as e:
    print("einfuse.Error (%s):\n%s" % (e.category, e))

try:
    import torch
except ImportError:
    torch = None
if torch is not None:
    # PyTorch: a torch tensor comes back, on the tensors' device; einsums are differentiable.
    device = "cuda" if torch.cuda.is_available() else "cpu"
    p = torch.randn(8, 2, 3, dtype=torch.float64, device=device, requires_grad=True)
    q = torch.randn(8, 3, 2, dtype=torch.float64, device=device, requires_grad=True)
    einfuse.einsum("bij,bjk->bik", p, q).pow(2).sum().backward()
    print("torch on", device, "grad of p:", tuple(p.grad.shape),
          "gradcheck:", torch.autograd.gradcheck(lambda u, v: einfuse.einsum("bij,bjk->bik", u, v), (p, q)))
