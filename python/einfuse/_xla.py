"""einfuse inside jax.jit: an XLA FFI custom call.

Under jax.jit (and grad-free transformations that trace) the arrays are tracers, which have no
memory einfuse could read. Instead, einfuse compiles the kernel at trace time (dtypes and shapes
are known then), asks the C ABI for the outputs' shapes, and emits an XLA custom call
`einfuse_run` whose handler (xla_ffi.cc) runs that kernel on XLA's buffers and on XLA's stream.

The handler is a small C++ file compiled at the first traced call, against the running jaxlib's
own FFI headers (jax.ffi.include_dir()) and einfuse's headers, with the C++ compiler named by $CXX
(default c++); the shared object is cached under $XDG_CACHE_HOME/einfuse (default ~/.cache),
keyed by the source, jax's version and libeinfuse's path. docs/python.md ("JAX") says what it needs."""
import hashlib
import os
import shutil
import subprocess
import tempfile
import threading
from pathlib import Path

from . import _core, _lib
from ._lib import DLTensor, Error, KDLCPU, KDLCUDA

TARGET = "einfuse_run"
_SOURCE = Path(__file__).with_name("xla_ffi.cc")
_lock = threading.Lock()
_registered = False
# Kernels named by compiled XLA executables (as addresses): kept for the life of the process.
_kernels = {}


def _ffi():
    import jax
    ffi = getattr(jax, "ffi", None)
    if ffi is None or not hasattr(ffi, "ffi_call"):
        raise Error("einfuse: error: einfuse under jax.jit needs jax.ffi (jax >= 0.4.38); this is jax %s. "
                    "Call einfuse eagerly instead (docs/python.md, 'JAX')" % jax.__version__, 1)
    return jax, ffi


def _include_dirs(ffi):
    """jaxlib's FFI headers, einfuse.h and dlpack/dlpack.h (which einfuse.h includes)."""
    lib_dir = Path(_lib.library_path).resolve().parent
    candidates = [os.environ.get("EINFUSE_INCLUDE_DIR"),
                  lib_dir.parent / "include",                        # <prefix>/lib -> <prefix>/include
                  Path(__file__).resolve().parent.parent.parent / "include",  # the source tree
                  lib_dir / "include",                               # a carried build (scripts/gpu-build.sh)
                  "/usr/include", "/usr/local/include"]
    dirs = [ffi.include_dir()]
    for header in ("einfuse/einfuse.h", "dlpack/dlpack.h"):
        found = next((Path(c) for c in candidates if c and (Path(c) / header).is_file()), None)
        if found is None:
            raise Error("einfuse: error: einfuse under jax.jit compiles a small XLA FFI handler and needs %s; "
                        "set EINFUSE_INCLUDE_DIR to the folder that holds it" % header, 4)
        dirs.append(str(found))
    return dirs


def _build(jax, ffi):
    """The handler's shared object: cached, or compiled now (atomically renamed into the cache)."""
    lib_path = str(Path(_lib.library_path).resolve())
    key = hashlib.sha256(_SOURCE.read_bytes() + jax.__version__.encode() + lib_path.encode()).hexdigest()[:16]
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "einfuse"
    target = cache / ("xla_ffi-%s.so" % key)
    if target.is_file():
        return target
    cxx = os.environ.get("CXX", "c++")
    if shutil.which(cxx) is None:
        raise Error("einfuse: error: einfuse under jax.jit compiles a small XLA FFI handler, but there is no C++ "
                    "compiler (%s); install one or set CXX" % cxx, 4)
    cache.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=cache) as tmp:
        out = Path(tmp) / target.name
        cmd = [cxx, "-std=c++17", "-O2", "-shared", "-fPIC", "-fvisibility=hidden", str(_SOURCE), "-o", str(out),
               lib_path, "-Wl,-rpath," + str(Path(lib_path).parent)]
        for d in _include_dirs(ffi):
            cmd[1:1] = ["-I", d]
        done = subprocess.run(cmd, capture_output=True, text=True)
        if done.returncode != 0:
            raise Error("einfuse: error: compiling the XLA FFI handler failed:\n%s\n%s"
                        % (" ".join(cmd), done.stderr[-4000:]), 4)
        os.replace(out, target)
    return target


def _register():
    global _registered
    jax, ffi = _ffi()
    with _lock:
        if not _registered:
            import ctypes
            handlers = ctypes.CDLL(str(_build(jax, ffi)))
            ffi.register_ffi_target(TARGET, ffi.pycapsule(handlers.einfuse_xla_host), platform="cpu")
            try:
                ffi.register_ffi_target(TARGET, ffi.pycapsule(handlers.einfuse_xla_cuda), platform="CUDA")
            except Exception:  # a jaxlib without CUDA: the host handler is all it can call
                if jax.default_backend() == "gpu":
                    raise
            _registered = True
    return jax, ffi


def _shape_only(shape, dtype, keep):
    """A DLTensor that says only a shape and a dtype (einfuse_output_shapes reads no data)."""
    import ctypes
    t = DLTensor()
    t.ndim = len(shape)
    t.dtype.code, t.dtype.bits = _lib.DTYPE_CODES[dtype]
    t.dtype.lanes = 1
    sh = (ctypes.c_int64 * max(len(shape), 1))(*shape)
    keep.append(sh)
    t.shape = sh
    return t


def call(expr, optstr, arrays):
    """[(name, result)] of expr on traced JAX arrays: the custom call's results, in the kernel's
    order of outputs."""
    jax, ffi = _register()
    import numpy as np
    dtypes = tuple(np.dtype(x.dtype).name for x in arrays)
    for name in dtypes:
        if name not in _lib.DTYPE_CODES:
            raise Error("einfuse: error: JAX dtype %s is not supported under jax.jit" % name, 1)
    device_type = KDLCUDA if jax.default_backend() == "gpu" else KDLCPU
    shapes = tuple(tuple(int(e) for e in x.shape) for x in arrays)
    key = (expr, optstr, dtypes, tuple(len(s) for s in shapes), device_type)
    with _lock:
        kernel = _kernels.get(key)
        if kernel is None:
            kernel = _kernels[key] = _core.Kernel(expr, list(dtypes), [len(s) for s in shapes], device_type, optstr)
    keep = []
    inputs = (DLTensor * max(len(arrays), 1))(*[_shape_only(s, d, keep) for s, d in zip(shapes, dtypes)])
    results = [jax.ShapeDtypeStruct(shape, np.dtype(dtype)) for shape, dtype in kernel.output_meta(inputs)]
    outs = ffi.ffi_call(TARGET, results, vmap_method="sequential")(*arrays, kernel=np.int64(kernel.handle))
    return [(name, x) for (name, _, _), x in zip(kernel.outputs, outs)]
