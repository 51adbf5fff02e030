"""einfuse on PyTorch tensors: results, autograd (gradcheck in float64), programs' missing
backward, torch.compile (custom operators, no graph break), and on CUDA the caller's device and
stream. CUDA tests skip without a GPU; torch.compile tests without torch >= 2.4."""
import warnings
import numpy as np
import pytest

torch = pytest.importorskip("torch")
import einfuse  # noqa: E402
from einfuse import _torch  # noqa: E402
import test_grad_rules  # noqa: E402

cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
compile_ok = pytest.mark.skipif(not (_torch.HAVE_CUSTOM_OPS and hasattr(torch, "compile")),
                                reason="torch.compile and torch.library.custom_op need torch >= 2.4 (here %s)"
                                % torch.__version__)
DEVICES = [pytest.param("cpu", marks=pytest.mark.host), pytest.param("cuda", marks=cuda)]

# The gradient rules' table (test_grad_rules.py), here through torch.autograd.gradcheck.
GRAD_CASES = test_grad_rules.CASES


@pytest.mark.parametrize("device", DEVICES)
def test_einsum_returns_torch_on_the_callers_device(device):
    a = torch.randn(100, 3, 3, device=device)
    b = torch.randn(100, 3, 3, device=device)
    c = einfuse.einsum("bij,bjk->bik", a, b)
    assert isinstance(c, torch.Tensor) and c.device == a.device and c.dtype == torch.float32
    torch.testing.assert_close(c, torch.bmm(a, b), rtol=1e-5, atol=1e-5)
    h = einfuse.einsum("bij,bjk->bik", a.half(), b.half())
    assert h.dtype == torch.float16
    if device == "cuda":
        bf = einfuse.einsum("bij,bjk->bik", a.bfloat16(), b.bfloat16())
        assert bf.dtype == torch.bfloat16


@pytest.mark.parametrize("device", DEVICES)
def test_strided_inputs_and_out(device):
    a = torch.randn(4, 6, device=device).t()              # (6, 4), transposed strides
    b = torch.randn(4, device=device).expand(3, 4)        # stride 0
    out = torch.empty(6, 3, device=device)
    res = einfuse.einsum("ij,kj->ik", a, b, out=out)
    assert res is out
    torch.testing.assert_close(out, a @ b.t())


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("expr,shapes", GRAD_CASES)
def test_gradcheck(device, expr, shapes):
    ops = [torch.randn(*s, dtype=torch.float64, device=device, requires_grad=True) for s in shapes]
    assert torch.autograd.gradcheck(lambda *xs: einfuse.einsum(expr, *xs), ops)
    out = einfuse.einsum(expr, *ops)
    torch.testing.assert_close(out, torch.einsum(expr, *ops))


@pytest.mark.host
def test_gradient_only_where_asked():
    a = torch.randn(3, 4, dtype=torch.float64, requires_grad=True)
    b = torch.randn(4, 2, dtype=torch.float64)
    einfuse.einsum("ij,jk->ik", a, b).sum().backward()
    torch.testing.assert_close(a.grad, torch.ones(3, 2, dtype=torch.float64) @ b.t())
    with torch.no_grad():
        assert not einfuse.einsum("ij,jk->ik", a, b).requires_grad


@pytest.mark.host
def test_programs_say_backward_is_not_supported():
    x = torch.randn(5, 3, dtype=torch.float64, requires_grad=True)
    y = torch.randn(4, 3, dtype=torch.float64)
    w = torch.randn(4, dtype=torch.float64)
    out = einfuse.run("out[i] = sum[j](exp(-sum[d]((x[i,d] - y[j,d])^2)) * w[j])", x=x, y=y, w=w)
    want = (torch.exp(-((x[:, None] - y[None]) ** 2).sum(-1)) * w).sum(1)
    torch.testing.assert_close(out, want)
    with pytest.raises(NotImplementedError, match="backward not yet supported for programs"):
        out.sum().backward()


@pytest.mark.host
def test_compile_callable_on_torch():
    f = einfuse.compile("bij,bjk->bik")
    a, b = torch.randn(10, 2, 2), torch.randn(10, 2, 2)
    torch.testing.assert_close(f(a, b), torch.bmm(a, b))
    assert "unrolled" in f.plan


@cuda
def test_runs_on_the_current_stream():
    s = torch.cuda.Stream()
    a = torch.randn(1 << 20, 2, 2, device="cuda")
    b = torch.randn(1 << 20, 2, 2, device="cuda")
    want = torch.bmm(a, b)
    s.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(s):
        torch.cuda._sleep(50_000_000)     # s is busy: a kernel on another stream would read a2 unwritten
        a2 = a * 1
        c = einfuse.einsum("bij,bjk->bik", a2, b)
        d = c * 2
    s.synchronize()
    torch.testing.assert_close(d, want * 2)


@cuda
def test_cuda_plan_and_source():
    f = einfuse.compile("bij,bjk->bik")
    f(torch.randn(1000, 3, 3, device="cuda"), torch.randn(1000, 3, 3, device="cuda"))
    assert "__global__" in f.cuda_source
    assert "for cuda" in f.plan


@compile_ok
@pytest.mark.parametrize("device", DEVICES)
def test_torch_compile_without_graph_break(device):
    def f(a, b, bias):
        return torch.relu(einfuse.einsum("bij,bjk->bik", a, b) + bias)
    g = torch.compile(f, fullgraph=True)
    a, b = torch.randn(64, 3, 3, device=device), torch.randn(64, 3, 3, device=device)
    bias = torch.randn(3, device=device)
    torch.testing.assert_close(g(a, b, bias), torch.relu(torch.bmm(a, b) + bias), rtol=1e-5, atol=1e-5)


@compile_ok
@pytest.mark.parametrize("device", DEVICES)
def test_torch_compile_with_autograd(device):
    def f(a, b):
        return einfuse.einsum("bij,bjk->bik", a, b).sin().sum()
    g = torch.compile(f, fullgraph=True)
    a = torch.randn(8, 2, 3, dtype=torch.float64, device=device, requires_grad=True)
    b = torch.randn(8, 3, 2, dtype=torch.float64, device=device, requires_grad=True)
    ga, gb = torch.autograd.grad(g(a, b), (a, b))
    wa, wb = torch.autograd.grad(torch.bmm(a, b).sin().sum(), (a, b))
    torch.testing.assert_close(ga, wa)
    torch.testing.assert_close(gb, wb)


@compile_ok
@pytest.mark.parametrize("device", DEVICES)
def test_custom_operator_checks(device):
    a, b = torch.randn(4, 2, 3, device=device), torch.randn(4, 3, 2, device=device)
    torch.library.opcheck(torch.ops.einfuse.einsum.default, ("bij,bjk->bik", [a, b], ""))
    torch.library.opcheck(torch.ops.einfuse.run.default, ("C[i,k] = A[i,j] * B[j,k]", [a[0], b[0]], ""))


@pytest.mark.host
def test_numpy_and_torch_inputs_mix():
    a = torch.randn(3, 4, dtype=torch.float64)
    b = np.random.rand(4, 2)
    c = einfuse.einsum("ij,jk->ik", a, b)
    assert isinstance(c, torch.Tensor)
    torch.testing.assert_close(c, a @ torch.from_numpy(b))


@pytest.mark.host
def test_out_then_allocated_output_on_one_entry():
    # out= describes the caller's output in a DLTensor of its own: the entry's slot (whose shape the
    # allocated outputs use) must not keep pointers into that call's temporaries.
    a, b = torch.randn(4, 3), torch.randn(3, 5)
    out = torch.empty(5, 4).t()
    for _ in range(3):
        einfuse.einsum("ij,jk->ik", a, b, out=out)
        torch.testing.assert_close(einfuse.einsum("ij,jk->ik", a, b), a @ b)
    torch.testing.assert_close(out, a @ b)


@pytest.mark.parametrize("device", DEVICES)
def test_double_backward_and_a_tensor_used_twice(device):
    x = torch.randn(3, 3, dtype=torch.float64, device=device, requires_grad=True)
    y = torch.randn(3, dtype=torch.float64, device=device, requires_grad=True)
    assert torch.autograd.gradcheck(lambda a: einfuse.einsum("ij,jk->ik", a, a), (x,))
    assert torch.autograd.gradgradcheck(lambda a, b: einfuse.einsum("ij,j->i", a, b), (x, y))


@pytest.mark.host
def test_empty_and_scalar_tensors():
    assert einfuse.einsum("ij,jk->ik", torch.ones(0, 3), torch.ones(3, 2)).shape == (0, 2)
    assert einfuse.einsum("i->", torch.arange(5, dtype=torch.int32)).item() == 10
    with warnings.catch_warnings():  # torch: "ComplexHalf support is experimental"
        warnings.simplefilter("ignore")
        half_complex = torch.ones(3, dtype=torch.complex32)
    with pytest.raises(einfuse.Error) as e:
        einfuse.einsum("i->", half_complex)
    assert e.value.category == "argument"
    r = einfuse.einsum("i->", torch.ones(3, dtype=torch.complex64))
    assert r.dtype == torch.complex64 and r.item() == 3
    r = einfuse.einsum("i->", torch.ones(3, dtype=torch.bool))
    assert r.dtype == torch.bool and r.item() is True


GAUSS = "out[i] = sum[j](exp(-sum[d]((x[i,d] - y[j,d])^2)) * w[j])"


@compile_ok
@pytest.mark.parametrize("device", DEVICES)
def test_torch_compile_dynamic_batch(device):
    g = torch.compile(lambda a, b: einfuse.einsum("bij,bjk->bik", a, b) * 2, fullgraph=True, dynamic=True)
    for n in (8, 13, 40):
        a, b = torch.randn(n, 3, 3, device=device), torch.randn(n, 3, 3, device=device)
        torch.testing.assert_close(g(a, b), 2 * torch.bmm(a, b), rtol=1e-5, atol=1e-5)


@compile_ok
@pytest.mark.parametrize("device", DEVICES)
def test_torch_compile_programs_and_out(device):
    x, y, w = (torch.randn(50, 3, device=device), torch.randn(40, 3, device=device), torch.randn(40, device=device))
    g = torch.compile(lambda x, y, w: einfuse.run(GAUSS, x=x, y=y, w=w) + 1, fullgraph=True)
    want = (torch.exp(-((x[:, None] - y[None]) ** 2).sum(-1)) * w).sum(1) + 1
    torch.testing.assert_close(g(x, y, w), want, rtol=1e-4, atol=1e-4)
    two = torch.compile(lambda A, B: einfuse.run("C[i,k] = A[i,j] * B[j,k]\nD[i,k] = relu(C[i,k])", A=A, B=B,
                                                 outputs=["C", "D"]), fullgraph=True)
    A, B = torch.randn(4, 3, device=device), torch.randn(3, 5, device=device)
    res = two(A, B)
    assert list(res) == ["C", "D"]
    torch.testing.assert_close(res["D"], torch.relu(A @ B), rtol=1e-5, atol=1e-5)
    out = torch.empty(4, 5, device=device)
    h = torch.compile(lambda A, B, out: einfuse.einsum("ij,jk->ik", A, B, out=out), fullgraph=True)
    h(A, B, out)
    torch.testing.assert_close(out, A @ B, rtol=1e-5, atol=1e-5)


@pytest.mark.host
def test_complex_einsum_and_its_gradient():
    # torch's convention for complex autograd: the other operands conjugated (gradcheck checks it)
    g = torch.Generator().manual_seed(3)
    a = torch.randn(3, 4, dtype=torch.complex128, generator=g, requires_grad=True)
    b = torch.randn(4, 2, dtype=torch.complex128, generator=g, requires_grad=True)
    assert torch.allclose(einfuse.einsum("ij,jk->ik", a, b), torch.einsum("ij,jk->ik", a, b))
    assert torch.autograd.gradcheck(lambda a, b: einfuse.einsum("ij,jk->ik", a, b), (a, b))
    x = torch.randn(4, 2, dtype=torch.float64, generator=g, requires_grad=True)  # real with complex
    assert torch.autograd.gradcheck(lambda a, x: einfuse.einsum("ij,jk->ik", a, x), (a, x))
