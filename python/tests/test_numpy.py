"""einfuse.einsum, run and compile on numpy arrays, against numpy.einsum and numpy itself."""
import numpy as np
import pytest

import einfuse

pytestmark = pytest.mark.host

rng = np.random.default_rng(7)


def rand(*shape, dtype=np.float64):
    return rng.uniform(-1, 1, shape).astype(dtype)


# (expression, operand shapes): numpy.einsum's semantics, each checked against it.
CASES = [
    ("bij,bjk->bik", [(64, 2, 2), (64, 2, 2)]),
    ("bij,bjk->bik", [(33, 3, 3), (33, 3, 3)]),
    ("bij,bpj->bpi", [(12, 3, 3), (12, 50, 3)]),
    ("nc,nc->n", [(100, 7), (100, 7)]),
    ("ij,jk,kl->il", [(5, 6), (6, 7), (7, 3)]),
    ("ii->i", [(5, 5)]),
    ("ii", [(5, 5)]),
    ("ij->", [(4, 3)]),
    ("ij", [(4, 3)]),
    ("ba", [(4, 3)]),
    ("...ij,...jk->...ik", [(2, 1, 3, 4), (5, 4, 2)]),
    ("ij,ij->ij", [(1, 3), (4, 3)]),
    ("ik,kj->ij", [(6, 1), (1, 5)]),
    ("i,j->ij", [(3,), (4,)]),
]


@pytest.mark.parametrize("expr,shapes", CASES)
def test_einsum_matches_numpy(expr, shapes):
    ops = [rand(*s) for s in shapes]
    got = einfuse.einsum(expr, *ops)
    want = np.einsum(expr, *ops)
    assert isinstance(got, np.ndarray)
    assert got.shape == want.shape and got.dtype == want.dtype
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.int32, np.int64])
def test_dtypes(dtype):
    a = (rand(20, 3, 4) * 4).astype(dtype)
    b = (rand(20, 4, 2) * 4).astype(dtype)
    got = einfuse.einsum("bij,bjk->bik", a, b)
    assert got.dtype == dtype
    want = np.einsum("bij,bjk->bik", a.astype(np.float64), b.astype(np.float64))
    np.testing.assert_allclose(got.astype(np.float64), want, rtol=1e-2 if dtype == np.float16 else 1e-5, atol=1e-2)


def test_mixed_dtypes_promote_as_numpy():
    got = einfuse.einsum("ij,j->i", rand(3, 4, dtype=np.float32), rand(4))
    assert got.dtype == np.float64


def test_strided_readonly_and_negative_inputs():
    m = rand(6, 5)
    np.testing.assert_allclose(einfuse.einsum("ij->i", m.T), m.T.sum(1))          # transposed, no copy
    b = np.broadcast_to(rand(4), (3, 4))                                           # read-only, stride 0
    np.testing.assert_allclose(einfuse.einsum("ij->i", b), b.sum(1))
    r = m[::-1, ::2]                                                               # negative strides: copied
    np.testing.assert_allclose(einfuse.einsum("ij->j", r), r.sum(0))


def test_out_is_written_in_place():
    a, b = rand(4, 3), rand(3, 5)
    out = np.full((4, 5), np.nan)
    res = einfuse.einsum("ij,jk->ik", a, b, out=out)
    assert res is out
    np.testing.assert_allclose(out, a @ b)
    col = np.zeros((5, 4))                      # a transposed (strided) output view
    einfuse.einsum("ij,jk->ik", a, b, out=col.T)
    np.testing.assert_allclose(col.T, a @ b)


def test_errors_carry_the_caret_diagnostic_and_category():
    with pytest.raises(einfuse.Error) as e:
        einfuse.einsum("bij,bjk->bik", rand(2, 3, 3), rand(2, 4, 4))
    assert e.value.category == "expression" and e.value.status == 2
    assert "index 'j' has size 3 in operand 0 but 4 in operand 1" in str(e.value)
    assert "  bij,bjk->bik\n" in str(e.value) and "^" in str(e.value)
    with pytest.raises(einfuse.Error) as e:
        einfuse.einsum("ij,jk->ik)", rand(2, 2), rand(2, 2))
    assert e.value.category == "expression" and "^" in str(e.value)
    with pytest.raises(einfuse.Error) as e:  # a dtype numpy has and einfuse does not
        einfuse.einsum("i->i", np.zeros(3, np.float128 if hasattr(np, "float128") else np.str_))
    assert e.value.category == "argument"
    # bool and the narrow integers are einsummed as numpy does: wrapping, bools as or of ands
    assert einfuse.einsum("i,i->", np.full(10, 10, np.int8), np.full(10, 10, np.int8)) == -24
    r = einfuse.einsum("i,i->", np.array([1, 0, 1], bool), np.array([0, 0, 1], bool))
    assert r.dtype == np.bool_ and bool(r)
    r = einfuse.einsum("i,i->", np.array([200, 100], np.uint8), np.array([-3, 2], np.int8))
    assert r.dtype == np.int16 and r == -400
    with pytest.raises(einfuse.Error) as e:
        einfuse.einsum("ij,jk->ik", rand(2, 3), rand(3, 2), out=np.empty((3, 3)))
    assert e.value.category == "expression"
    with pytest.raises(einfuse.Error):
        einfuse.einsum("ij->ij", rand(2, 2), target="cuda")
    with pytest.raises(einfuse.Error) as e:
        einfuse.einsum("i->i", [1.0, 2.0])
    assert "__dlpack__" in str(e.value)


GAUSS = "out[i] = sum[j](exp(-sum[d]((x[i,d] - y[j,d])^2)) * w[j])"


def test_run_program_by_name():
    x, y, w = rand(50, 3), rand(40, 3), rand(40)
    got = einfuse.run(GAUSS, x=x, y=y, w=w)
    want = (np.exp(-((x[:, None] - y[None]) ** 2).sum(-1)) * w).sum(1)
    np.testing.assert_allclose(got, want, rtol=1e-12)
    with pytest.raises(einfuse.Error) as e:
        einfuse.run(GAUSS, x=x, y=y)
    assert "missing: w" in str(e.value)


def test_run_several_outputs_as_dict():
    A, B = rand(2, 3), rand(3, 4)
    res = einfuse.run("C[i,k] = A[i,j] * B[j,k]\nD[i,k] = relu(C[i,k])", A=A, B=B, outputs=["C", "D"])
    assert list(res) == ["C", "D"]
    np.testing.assert_allclose(res["C"], A @ B)
    np.testing.assert_allclose(res["D"], np.maximum(A @ B, 0))
    outs = {"C": np.empty((2, 4)), "D": np.empty((2, 4))}
    einfuse.run("C[i,k] = A[i,j] * B[j,k]\nD[i,k] = relu(C[i,k])", A=A, B=B, outputs=["C", "D"], out=outs)
    np.testing.assert_allclose(outs["D"], np.maximum(A @ B, 0))


def test_einsum_of_a_program_with_two_outputs_says_use_run():
    with pytest.raises(einfuse.Error, match="use einfuse.run"):
        einfuse.einsum("C[i,j] = A[i,j] * 2\nD[i,j] = A[i,j] + 1", rand(2, 3))


def test_program_through_einsum_positionally():
    A, x = rand(3, 4), rand(4)
    # j is summed over the whole right-hand side (Tensor Comprehensions' rule)
    np.testing.assert_allclose(einfuse.einsum("D[i] = relu(A[i,j] * x[j])", A, x), np.maximum(A * x, 0).sum(1))


def test_compile_plan_and_cuda_source():
    f = einfuse.compile("bij,bjk->bik")
    assert "bij,bjk->bik" in f.plan
    a, b = rand(1000, 2, 2), rand(1000, 2, 2)
    np.testing.assert_allclose(f(a, b), a @ b)
    assert "unrolled" in f.plan
    assert "__global__" in f.cuda_source
    assert f.outputs == ["out"]
    g = einfuse.compile(GAUSS)
    assert g.inputs == ["x", "y", "w"]
    x, y, w = rand(5, 3), rand(6, 3), rand(6)
    np.testing.assert_allclose(g(x=x, y=y, w=w), g(x, y, w))


def test_options_and_cache():
    a, b = rand(100, 3, 3), rand(100, 3, 3)
    np.testing.assert_allclose(einfuse.einsum("bij,bjk->bik", a, b, threads=1), a @ b)
    with pytest.raises(einfuse.Error) as e:
        einfuse.einsum("bij,bjk->bik", a, b, speed=11)
    assert "unknown option" in str(e.value) and e.value.category == "argument"
    from einfuse import _core
    k1 = _core.entry_for("bij,bjk->bik", "", (a, b)).kernel
    k2 = _core.entry_for("bij,bjk->bik", "", (rand(100, 3, 3), rand(100, 3, 3))).kernel
    assert k1 is k2                      # same expression, shapes and dtypes: one kernel


def test_threads_share_entries_safely():
    import threading
    a = [rand(64, 3, 3) for _ in range(8)]
    errors = []

    def work(i):
        for _ in range(50):
            if not np.allclose(einfuse.einsum("bij,bjk->bik", a[i], a[i]), a[i] @ a[i]):
                errors.append(i)
    ts = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert not errors


def test_complex_as_numpy():
    # complex64/complex128 (tensor networks, quantum chemistry), numpy's promotion: c64 with f64 is c128
    rng = np.random.default_rng(7)
    a = (rng.random((3, 4)) + 1j * rng.random((3, 4))).astype(np.complex64)
    b = (rng.random((4, 5)) + 1j * rng.random((4, 5))).astype(np.complex128)
    r = einfuse.einsum("ij,jk->ik", a, b)
    assert r.dtype == np.complex128 and np.allclose(r, np.einsum("ij,jk->ik", a, b), rtol=1e-6)
    r = einfuse.einsum("ij,jk->ik", a, rng.random((4, 5)).astype(np.float32))
    assert r.dtype == np.complex64
    r = einfuse.einsum("ii->i", b[:, :4][::-1, ::-1])  # strided, reversed
    assert np.allclose(r, np.einsum("ii->i", b[:, :4][::-1, ::-1]))
    out = einfuse.run("y[i] = sum[j](conj(z[i,j]) * z[i,j])", z=b)
    assert np.allclose(out, np.einsum("ij,ij->i", b.conj(), b))
    out = einfuse.run("m[i] = abs(z[i]) + real(z[i]) * imag(z[i])", z=b[0])
    assert np.allclose(out, np.abs(b[0]) + b[0].real * b[0].imag)
