"""The compiled call path (python/einfuse/_fastcall.c): cached torch and numpy calls run through
it, give the Python path's results, fall back where they must (autograd, conjugate and negative
views, negative numpy strides, other array types), are safe on several threads, raise
einfuse.Error, and the package works without the module (EINFUSE_FASTCALL=0)."""
import ctypes
import os
import subprocess
import sys
import threading

import numpy as np
import pytest

torch = pytest.importorskip("torch")
import einfuse  # noqa: E402
from einfuse import _core, _lib  # noqa: E402

fast = _lib.fastcall
built = pytest.mark.skipif(fast is None, reason="no compiled call path: %s" % _lib.fastcall_problem)
cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
DEVICES = [pytest.param("cpu", marks=pytest.mark.host), pytest.param("cuda", marks=cuda)]


def test_the_build_tree_has_the_module():
    """Where the library is this checkout's build, the module beside it must load: a missing
    one would silently leave every call on the slower path."""
    here = os.path.dirname(str(_lib.library_path))
    if os.path.exists(os.path.join(here, "_fastcall.abi3.so")) and os.environ.get("EINFUSE_FASTCALL", "1") != "0":
        assert fast is not None, _lib.fastcall_problem


@built
@pytest.mark.parametrize("device", DEVICES)
def test_a_cached_call_runs_in_c_and_matches(device):
    einfuse.clear_cache()
    a = torch.randn(300, 3, 3, device=device)
    b = torch.randn(300, 3, 3, device=device)
    first = einfuse.einsum("bij,bjk->bik", a, b)  # the Python path, which remembers the call
    assert fast.size() == 1
    e = _core.entry_for("bij,bjk->bik", "", (a, b))
    assert isinstance(e.run, fast.Runner)
    result = fast.lookup("bij,bjk->bik", "", (a, b), 1)
    assert result is not None and len(result) == 1
    second = einfuse.einsum("bij,bjk->bik", a, b)
    for c in (first, result[0], second):
        assert c.device == a.device and c.dtype == a.dtype
        torch.testing.assert_close(c, torch.bmm(a, b), rtol=1e-5, atol=1e-5)
    # Another shape, dtype or stride is another entry; the key never confuses them.
    assert fast.lookup("bij,bjk->bik", "", (a[:7], b[:7]), 1) is None
    assert fast.lookup("bij,bjk->bik", "", (a.double(), b.double()), 1) is None
    assert fast.lookup("bij,bjk->bik", "", (a.transpose(1, 2), b), 1) is None
    torch.testing.assert_close(einfuse.einsum("bij,bjk->bik", a.transpose(1, 2), b), torch.bmm(a.transpose(1, 2), b),
                               rtol=1e-5, atol=1e-5)


@built
@pytest.mark.host
def test_what_the_cache_does_not_take():
    a = torch.randn(5, 4, dtype=torch.float64)
    b = torch.randn(4, 3, dtype=torch.float64)
    einfuse.einsum("ij,jk->ik", a, b)
    assert fast.lookup("ij,jk->ik", "", (a, b), 1) is not None
    assert fast.lookup("ij,jk->ik", "", (a, b), 2) is None  # another number of outputs
    assert fast.lookup("ij,jk->ik", "", (a.numpy(), b), 1) is None  # mixed types: the Python path
    g = a.clone().requires_grad_()
    assert fast.lookup("ij,jk->ik", "", (g, b), 1) is None  # needs grad: autograd's path
    with torch.no_grad():
        assert fast.lookup("ij,jk->ik", "", (g, b), 1) is not None
    out = einfuse.einsum("ij,jk->ik", g, b)
    out.sum().backward()
    torch.testing.assert_close(g.grad, b.sum(1).expand(5, 4))


@pytest.mark.host
def test_conjugate_and_negative_views_are_read_as_their_values():
    """x.conj() and its .imag share x's memory with a flag: their data pointer holds x's values."""
    a = torch.randn(6, dtype=torch.complex128)
    b = torch.randn(6, dtype=torch.complex128)
    for _ in range(2):  # the second call is a cached one
        torch.testing.assert_close(einfuse.einsum("i,i->", a.conj(), b), torch.einsum("i,i->", a.conj(), b))
        neg = a.conj().imag
        assert neg.is_neg()
        torch.testing.assert_close(einfuse.einsum("i->i", neg), neg.resolve_neg())
        torch.testing.assert_close(einfuse.run("y[i] = 2 * x[i]", x=neg), 2 * neg.resolve_neg())
    with pytest.raises(einfuse.Error, match="conjugate or negative view"):
        einfuse.einsum("i,i->i", a, b, out=torch.empty(6, dtype=torch.complex128).conj())


@built
@pytest.mark.host
def test_threads_share_a_runner_safely():
    """Each call's DLTensors are its own (the runner copies the entry's to the stack), so threads
    running one entry at once each get their own result."""
    inputs = [(torch.randn(64, 4, 4, dtype=torch.float64), torch.randn(64, 4, 4, dtype=torch.float64)) for _ in range(8)]
    einfuse.einsum("bij,bjk->bik", *inputs[0])
    failures = []

    def work(pair):
        for _ in range(200):
            c = einfuse.einsum("bij,bjk->bik", *pair)
            if not torch.allclose(c, torch.bmm(*pair)):
                failures.append(pair)
                return

    threads = [threading.Thread(target=work, args=(p,)) for p in inputs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not failures


@built
def test_a_failed_run_raises_the_error_it_is_given():
    """A Runner raises what `error(status)` returns; here the run is a stand-in that fails."""
    proto = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p, ctypes.c_int,
                             ctypes.c_void_p, ctypes.c_void_p)
    failing = proto(lambda *args: 2)
    slots_in, slots_out = (_lib.DLTensor * 1)(), (_lib.DLTensor * 1)()
    allocs = (lambda: torch.empty(3),)
    r = fast.Runner(ctypes.cast(failing, ctypes.c_void_p).value, 1, ctypes.addressof(slots_in), 1,
                    ctypes.addressof(slots_out), 1, 0, (failing, slots_in, slots_out), torch.Tensor.data_ptr, allocs,
                    None, lambda status: einfuse.Error("einfuse: error: stand-in failure", status))
    with pytest.raises(einfuse.Error) as caught:
        r((torch.ones(3),))
    assert caught.value.status == 2 and "stand-in" in str(caught.value)
    with pytest.raises(ValueError):
        r((torch.ones(3), torch.ones(3)))  # the entry takes one array
    with pytest.raises(TypeError):
        r((object(),))  # no data_ptr


@pytest.mark.host
def test_the_package_works_without_the_module():
    code = ("import torch, einfuse\n"
            "assert einfuse._fastcall is None\n"
            "a = torch.randn(9, 2, 2); b = torch.randn(9, 2, 2)\n"
            "for _ in range(2):\n"
            "    torch.testing.assert_close(einfuse.einsum('bij,bjk->bik', a, b), torch.bmm(a, b))\n"
            "print('ok')\n")
    env = dict(os.environ, EINFUSE_FASTCALL="0")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [os.path.join(os.path.dirname(__file__), ".."),
                                                      env.get("PYTHONPATH")]))
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr


@built
def test_clear_cache_forgets_the_compiled_calls():
    a = torch.randn(3, 3, dtype=torch.float64)
    try:
        einfuse.einsum("ij->ji", a)
    except einfuse.Error as e:  # a build without the host backend
        assert e.category == "target"
    einfuse.clear_cache()
    assert fast.size() == 0


@built
@pytest.mark.host
def test_numpy_calls_run_in_c_through_the_buffer_protocol():
    einfuse.clear_cache()
    rng = np.random.default_rng(5)
    a, b = rng.random((40, 3, 4)), rng.random((40, 4, 2))
    want = np.einsum("bij,bjk->bik", a, b)
    np.testing.assert_allclose(einfuse.einsum("bij,bjk->bik", a, b), want, rtol=1e-12)
    assert fast.size() == 1
    result = fast.lookup("bij,bjk->bik", "", (a, b), 1)
    assert result is not None and isinstance(result[0], np.ndarray)
    np.testing.assert_allclose(result[0], want, rtol=1e-12)
    # Read-only (broadcast_to, stride 0) and transposed arrays: their own entries, in C too.
    ro = np.broadcast_to(rng.random((1, 3, 4)), (40, 3, 4))
    for _ in range(2):
        np.testing.assert_allclose(einfuse.einsum("bij,bjk->bik", ro, b), np.einsum("bij,bjk->bik", ro, b), rtol=1e-12)
    assert fast.lookup("bij,bjk->bik", "", (ro, b), 1) is not None
    # Negative strides are copied by the Python path, never remembered in C.
    flipped = a[::-1]
    for _ in range(2):
        np.testing.assert_allclose(einfuse.einsum("bij,bjk->bik", flipped, b), np.einsum("bij,bjk->bik", flipped, b),
                                   rtol=1e-12)
    assert fast.lookup("bij,bjk->bik", "", (flipped, b), 1) is None


@built
@pytest.mark.host
def test_an_out_call_between_plain_calls_leaves_the_runner_intact():
    """out= runs the entry's DLTensors through DLPack fills, which point their shapes into a
    capsule freed after that call; the runner keeps copies of its own (before, the next plain
    call read the freed shape: 'index n has size 1287')."""
    import gc
    x, y = np.random.rand(256, 8), np.random.rand(256, 8)
    want = np.einsum("nc,nc->n", x, y)
    np.testing.assert_allclose(einfuse.einsum("nc,nc->n", x, y), want, rtol=1e-12)
    out = np.empty(256)
    for _ in range(3):
        einfuse.einsum("nc,nc->n", x, y, out=out)
        gc.collect()
        np.testing.assert_allclose(out, want, rtol=1e-12)
        _ = [np.ones(8) for _ in range(100)]  # reuse the freed memory
        np.testing.assert_allclose(einfuse.einsum("nc,nc->n", x, y), want, rtol=1e-12)
