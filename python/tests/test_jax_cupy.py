"""einfuse on JAX arrays (eagerly, through DLPack) and CuPy arrays; skipped where they are not
installed (the GPU machine has both)."""
import numpy as np
import pytest

import einfuse


def _gpu_jax():
    jax = pytest.importorskip("jax")
    try:
        return [d for d in jax.devices() if d.platform == "gpu"]
    except RuntimeError:
        return []


@pytest.mark.host
def test_jax_eager_cpu():
    jax = pytest.importorskip("jax")
    jnp = jax.numpy
    cpu = jax.devices("cpu")[0]
    a = jax.device_put(jnp.asarray(np.random.rand(50, 3, 3), jnp.float32), cpu)
    b = jax.device_put(jnp.asarray(np.random.rand(50, 3, 3), jnp.float32), cpu)
    c = einfuse.einsum("bij,bjk->bik", a, b)
    assert isinstance(c, jax.Array)
    np.testing.assert_allclose(np.asarray(c), np.asarray(a) @ np.asarray(b), rtol=1e-5)


def test_jax_eager_gpu():
    gpus = _gpu_jax()
    if not gpus:
        pytest.skip("no JAX GPU device")
    import jax
    jnp = jax.numpy
    a = jax.device_put(jnp.asarray(np.random.rand(5000, 2, 2), jnp.float32), gpus[0])
    b = jax.device_put(jnp.asarray(np.random.rand(5000, 2, 2), jnp.float32), gpus[0])
    c = einfuse.einsum("bij,bjk->bik", a, b)
    assert isinstance(c, jax.Array) and list(c.devices())[0] == gpus[0]
    d = c * 2                                               # XLA reads what einfuse wrote
    np.testing.assert_allclose(np.asarray(d), 2 * (np.asarray(a) @ np.asarray(b)), rtol=1e-5)


def _jit_devices():
    """The device jax.jit runs on here: the default backend's first."""
    jax = pytest.importorskip("jax")
    if not hasattr(jax, "ffi"):
        pytest.skip("jax %s has no jax.ffi" % jax.__version__)
    return jax.devices()[0]


def test_jax_jit_einsum_through_the_xla_custom_call():
    jax = pytest.importorskip("jax")
    jnp = jax.numpy
    dev = _jit_devices()
    rng = np.random.default_rng(7)
    a = jax.device_put(jnp.asarray(rng.random((3000, 3, 3)), jnp.float32), dev)
    b = jax.device_put(jnp.asarray(rng.random((3000, 3, 3)), jnp.float32), dev)

    @jax.jit
    def f(a, b):  # XLA's own ops around the custom call read and feed it
        return einfuse.einsum("bij,bjk->bik", a + 1, b) * 2

    c = f(a, b)
    assert isinstance(c, jax.Array) and list(c.devices())[0] == dev
    np.testing.assert_allclose(np.asarray(c), 2 * ((np.asarray(a) + 1) @ np.asarray(b)), rtol=1e-5)
    assert "einfuse_run" in f.lower(a, b).as_text()  # a custom call, not a fallback
    d = f(b, a)  # the same compiled executable, other data
    np.testing.assert_allclose(np.asarray(d), 2 * ((np.asarray(b) + 1) @ np.asarray(a)), rtol=1e-5)


def test_jax_jit_program_with_two_outputs():
    jax = pytest.importorskip("jax")
    jnp = jax.numpy
    dev = _jit_devices()
    rng = np.random.default_rng(8)
    S = jax.device_put(jnp.asarray(rng.standard_normal((64, 100)), jnp.float32), dev)
    prog = "m[i] = max[j](S[i,j]); s[i] = sum[j](exp(S[i,j] - m[i]))"
    m, s = jax.jit(lambda S: tuple(einfuse.run(prog, S=S, outputs=["m", "s"]).values()))(S)
    Sn = np.asarray(S, np.float64)
    np.testing.assert_allclose(np.asarray(m), Sn.max(1), rtol=1e-6)
    np.testing.assert_allclose(np.asarray(s), np.exp(Sn - Sn.max(1, keepdims=True)).sum(1), rtol=1e-5)


def test_jax_jit_shape_errors_carry_the_diagnostic():
    jax = pytest.importorskip("jax")
    _jit_devices()
    with pytest.raises(einfuse.Error, match="\\^"):
        jax.jit(lambda a, b: einfuse.einsum("ij,jk->ik", a, b))(jax.numpy.ones((2, 3)), jax.numpy.ones((4, 5)))


def test_cupy():
    cp = pytest.importorskip("cupy")
    try:
        if cp.cuda.runtime.getDeviceCount() == 0:
            pytest.skip("no CUDA device")
    except cp.cuda.runtime.CUDARuntimeError:
        pytest.skip("no CUDA device")
    a = cp.random.rand(1000, 3, 3).astype(cp.float32)
    b = cp.random.rand(1000, 3, 3).astype(cp.float32)
    s = cp.cuda.Stream(non_blocking=True)
    with s:
        c = einfuse.einsum("bij,bjk->bik", a, b)
    s.synchronize()
    assert isinstance(c, cp.ndarray)
    np.testing.assert_allclose(cp.asnumpy(c), cp.asnumpy(a) @ cp.asnumpy(b), rtol=1e-5)
