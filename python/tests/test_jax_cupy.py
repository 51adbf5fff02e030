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


def test_jax_under_jit_says_so():
    jax = pytest.importorskip("jax")
    with pytest.raises(einfuse.Error, match="JAX tracers"):
        jax.jit(lambda a: einfuse.einsum("ij->ji", a))(jax.numpy.ones((2, 3)))


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
