# Makes python/ importable when the tests run from a checkout (ctest sets PYTHONPATH and
# EINFUSE_LIBRARY itself; a plain `python3 -m pytest python/tests` finds build/api/libeinfuse.so),
# and skips the tests marked `host` where the library has no host backend (the GPU machine's
# build, configured without LLVM by scripts/gpu-build.sh).
import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")  # JAX leaves the GPU to torch and CuPy too


def pytest_configure(config):
    config.addinivalue_line("markers", "host: needs einfuse's host backend (LLVM) in libeinfuse.so")


def _host_backend_missing():
    import numpy as np

    import einfuse
    try:
        einfuse.einsum("i->i", np.ones(1))
        return None
    except einfuse.Error as e:
        if e.category != "target":
            raise
        return str(e).splitlines()[0]


def pytest_collection_modifyitems(config, items):
    why = _host_backend_missing()
    if why:
        skip = pytest.mark.skip(reason="no host backend in this libeinfuse.so (%s)" % why)
        for item in items:
            if "host" in item.keywords:
                item.add_marker(skip)
