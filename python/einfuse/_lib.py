"""libeinfuse.so through ctypes: where it is found, the DLPack structs, the C functions, Error;
and the optional compiled call path (_fastcall.abi3.so, built beside the library).

The C ABI (include/einfuse/einfuse.h) is declared below by hand and must follow that header."""
import ctypes
import os
from pathlib import Path

# einfuse_status (include/einfuse/einfuse.h), by number, as Error.category names them.
CATEGORIES = {1: "argument", 2: "expression", 4: "target", 5: "internal"}


class Error(RuntimeError):
    """An einfuse failure. str(e) is einfuse's diagnostic (for an expression error the clang-style
    text with carets under the expression); `status` the C ABI's code (the CLI's exit code where
    they overlap: 1 argument, 2 expression/shape/type, 4 target, 5 internal) and `category` its
    name."""

    def __init__(self, message, status=1):
        super().__init__(message)
        self.message = message
        self.status = status
        self.category = CATEGORIES.get(status, "argument")


class DLDevice(ctypes.Structure):
    _fields_ = [("device_type", ctypes.c_int32), ("device_id", ctypes.c_int32)]


class DLDataType(ctypes.Structure):
    _fields_ = [("code", ctypes.c_uint8), ("bits", ctypes.c_uint8), ("lanes", ctypes.c_uint16)]


class DLTensor(ctypes.Structure):
    _fields_ = [
        ("data", ctypes.c_void_p),
        ("device", DLDevice),
        ("ndim", ctypes.c_int32),
        ("dtype", DLDataType),
        ("shape", ctypes.POINTER(ctypes.c_int64)),
        ("strides", ctypes.POINTER(ctypes.c_int64)),
        ("byte_offset", ctypes.c_uint64),
    ]


assert ctypes.sizeof(DLTensor) == 48
KDLCPU, KDLCUDA = 1, 2
# DLPack dtype codes: kDLInt 0, kDLUInt 1, kDLFloat 2, kDLBfloat 4, kDLComplex 5, kDLBool 6.
# einfuse's names (numpy's) by (code, bits).
DTYPE_NAMES = {(2, 16): "float16", (4, 16): "bfloat16", (2, 32): "float32", (2, 64): "float64",
               (0, 32): "int32", (0, 64): "int64", (6, 8): "bool", (0, 8): "int8", (0, 16): "int16",
               (1, 8): "uint8", (1, 16): "uint16", (1, 32): "uint32", (1, 64): "uint64",
               (5, 64): "complex64", (5, 128): "complex128"}
DTYPE_CODES = {name: key for key, name in DTYPE_NAMES.items()}


def _candidates():
    env = os.environ.get("EINFUSE_LIBRARY")
    if env:
        return [Path(env)]
    here = Path(__file__).resolve().parent
    root = here.parent.parent  # python/einfuse -> the source tree
    found = [here / "libeinfuse.so", root / "build" / "api" / "libeinfuse.so", root / ".gpu-carry" / "libeinfuse.so"]
    prefix = os.environ.get("EINFUSE_PREFIX", "/usr/local")
    found += [Path(prefix) / d / "libeinfuse.so" for d in ("lib", "lib64", "lib/x86_64-linux-gnu")]
    return found


def _load():
    tried = []
    for path in _candidates():
        if not path.exists():
            tried.append(str(path))
            continue
        try:
            return ctypes.CDLL(str(path)), path
        except OSError as first:
            # A carried build (scripts/gpu-build.sh) brings libraries the machine may lack in lib/.
            extra = path.parent / "lib"
            if not extra.is_dir():
                raise
            for dep in sorted(extra.iterdir()):
                ctypes.CDLL(str(dep), mode=ctypes.RTLD_GLOBAL)
            try:
                return ctypes.CDLL(str(path)), path
            except OSError:
                raise first
    raise ImportError("einfuse: libeinfuse.so not found; build it (scripts/build.sh) or set EINFUSE_LIBRARY "
                      "to its path. Looked in: " + ", ".join(tried))


lib, library_path = _load()

_P_TENSOR = ctypes.POINTER(DLTensor)
_P_DTYPE = ctypes.POINTER(DLDataType)
_P_INT = ctypes.POINTER(ctypes.c_int)
_P_CHARP = ctypes.POINTER(ctypes.c_char_p)


def _declare(name, restype, argtypes):
    f = getattr(lib, name)
    f.restype, f.argtypes = restype, argtypes
    return f


last_error = _declare("einfuse_last_error", ctypes.c_char_p, [])
last_status = _declare("einfuse_last_status", ctypes.c_int, [])
compile_with_options = _declare("einfuse_compile_with_options", ctypes.c_void_p,
                                [ctypes.c_char_p, ctypes.c_int, _P_DTYPE, _P_INT, ctypes.c_int, ctypes.c_char_p])
run_on_stream = _declare("einfuse_run_on_stream", ctypes.c_int,
                         [ctypes.c_void_p, ctypes.c_int, _P_TENSOR, ctypes.c_int, _P_TENSOR, ctypes.c_void_p])
inspect = _declare("einfuse_inspect", ctypes.c_int,
                   [ctypes.c_char_p, _P_INT, _P_INT, ctypes.c_int, _P_CHARP, _P_INT])
kernel_tensors = _declare("einfuse_kernel_tensors", ctypes.c_int,
                          [ctypes.c_void_p, ctypes.c_int, _P_INT, ctypes.c_int, _P_CHARP, _P_DTYPE, _P_INT])
output_shapes = _declare("einfuse_output_shapes", ctypes.c_int,
                         [ctypes.c_void_p, ctypes.c_int, _P_TENSOR, ctypes.c_int, _P_DTYPE, _P_INT,
                          ctypes.POINTER(ctypes.c_int64), ctypes.c_int])
kernel_plan = _declare("einfuse_kernel_plan", ctypes.c_char_p, [ctypes.c_void_p])
kernel_source = _declare("einfuse_kernel_source", ctypes.c_char_p, [ctypes.c_void_p])
free_kernel = _declare("einfuse_free", None, [ctypes.c_void_p])
version = _declare("einfuse_version", ctypes.c_char_p, [])().decode()

run_address = ctypes.cast(run_on_stream, ctypes.c_void_p).value


def _load_fastcall():
    """einfuse._fastcall (python/einfuse/_fastcall.c), found beside the loaded library (the build
    tree's api/, .gpu-carry/) or in its einfuse/ folder (an installed prefix), or None: then the
    calls take the Python runner, which does the same (fastcall_problem says why, when it is
    there but does not load). EINFUSE_FASTCALL=0 turns it off."""
    global fastcall_problem
    if os.environ.get("EINFUSE_FASTCALL", "1") in ("0", "off", "no"):
        fastcall_problem = "turned off by EINFUSE_FASTCALL"
        return None
    import importlib.machinery
    import importlib.util
    for folder in (library_path.parent, library_path.parent / "einfuse"):
        path = folder / "_fastcall.abi3.so"
        if path.exists():
            loader = importlib.machinery.ExtensionFileLoader("einfuse._fastcall", str(path))
            spec = importlib.util.spec_from_file_location("einfuse._fastcall", str(path), loader=loader)
            module = importlib.util.module_from_spec(spec)
            try:
                loader.exec_module(module)
            except (ImportError, OSError) as e:  # an interpreter older than its limited API (3.11)
                fastcall_problem = "%s: %s" % (path, e)
                return None
            return module
    fastcall_problem = "no _fastcall.abi3.so beside %s" % library_path
    return None


fastcall_problem = None
fastcall = _load_fastcall()

capsule_pointer = ctypes.pythonapi.PyCapsule_GetPointer
capsule_pointer.restype, capsule_pointer.argtypes = ctypes.c_void_p, [ctypes.py_object, ctypes.c_char_p]


def error(status=None):
    """The Error of a failed call (this thread's last message; without a status, e.g. for a NULL
    result, this thread's last status)."""
    if status is None:
        status = last_status() or 5
    text = last_error()
    return Error(text.decode(errors="replace").rstrip("\n") if text else "einfuse: error (status %d)" % status, status)


def check(status):
    if status:
        raise error(status)
