"""The call path: arrays in, a cached kernel, arrays out.

A call looks up an _Entry by (expression, options, each array's type, shape, strides, dtype,
device): a hit fills the entry's DLTensors with the arrays' data pointers, allocates the outputs
with the caller's framework and runs the kernel on the caller's stream. A miss compiles (one
einfuse_kernel per expression, dtypes, shapes and device, shared by entries) and asks the C ABI
for the outputs' shapes and dtypes."""
import ctypes
import functools
import sys
import threading

from . import _lib
from ._lib import DLTensor, Error, KDLCPU, KDLCUDA, DTYPE_NAMES, DTYPE_CODES

_memmove = ctypes.memmove
_capsule_pointer = _lib.capsule_pointer
_run = _lib.run_on_stream
CACHE_ENTRIES = 512


class Traced(Error):
    """Raised where an array is a JAX tracer: the public calls then emit an XLA custom call
    (_xla.py) instead of running."""


def _never():
    return False


# torch.compiler.is_compiling once torch is loaded (see _torch.py): under torch.compile the
# public calls route to the registered custom operators instead of running here.
compiling = _never
torch_hook = None  # _torch.Hooks once loaded


def options_text(options):
    """The C ABI's option string of keyword options (canonical, so equal options share a key)."""
    if not options:
        return ""
    parts = []
    for k in sorted(options):
        v = options[k]
        if isinstance(v, bool):
            v = int(v)
        elif isinstance(v, (list, tuple)):
            v = ",".join(v)
        parts.append("%s=%s" % (k, v))
    return ";".join(parts)


# --- Kernels ----------------------------------------------------------------------------------

class Kernel:
    """One einfuse_kernel: an expression compiled for input dtypes, ranks and a device type."""

    def __init__(self, expr, dtypes, ranks, device_type, options=""):
        n = len(dtypes)
        dl = (_lib.DLDataType * max(n, 1))()
        for i, name in enumerate(dtypes):
            dl[i].code, dl[i].bits = DTYPE_CODES[name]
            dl[i].lanes = 1
        rk = None if ranks is None else (ctypes.c_int * max(n, 1))(*ranks)
        self.handle = _lib.compile_with_options(expr.encode(), n, dl, rk, device_type, options.encode())
        if not self.handle:
            raise _lib.error()
        self.expr, self.device_type = expr, device_type
        self.inputs = self._tensors(0)
        self.outputs = self._tensors(1)

    def _tensors(self, outputs):
        count = ctypes.c_int()
        _lib.check(_lib.kernel_tensors(self.handle, outputs, ctypes.byref(count), 0, None, None, None))
        n = count.value
        names = (ctypes.c_char_p * max(n, 1))()
        dtypes = (_lib.DLDataType * max(n, 1))()
        ranks = (ctypes.c_int * max(n, 1))()
        _lib.check(_lib.kernel_tensors(self.handle, outputs, ctypes.byref(count), n, names, dtypes, ranks))
        return [(names[i].decode(), DTYPE_NAMES[(dtypes[i].code, dtypes[i].bits)], ranks[i]) for i in range(n)]

    def output_meta(self, tensors):
        """[(shape, dtype name)] of the outputs for these input DLTensors (only shapes are read)."""
        n_out = len(self.outputs)
        max_rank = max([r for _, _, r in self.outputs] + [1])
        dtypes = (_lib.DLDataType * max(n_out, 1))()
        ranks = (ctypes.c_int * max(n_out, 1))()
        shapes = (ctypes.c_int64 * (max(n_out, 1) * max_rank))()
        _lib.check(_lib.output_shapes(self.handle, len(tensors), tensors, n_out, dtypes, ranks, shapes, max_rank))
        return [(tuple(shapes[o * max_rank:o * max_rank + ranks[o]]), DTYPE_NAMES[(dtypes[o].code, dtypes[o].bits)])
                for o in range(n_out)]

    def _text(self, call):
        text = call(self.handle)
        if text is None:
            raise _lib.error()
        return text.decode()

    @property
    def plan(self):
        return self._text(_lib.kernel_plan)

    @property
    def cuda_source(self):
        return self._text(_lib.kernel_source)

    def __del__(self, free=_lib.free_kernel):
        if getattr(self, "handle", None):
            free(self.handle)
            self.handle = None


# --- Array adapters: what each framework's arrays look like to einfuse -----------------------

def _contiguous_strides(shape):
    strides, step = [], 1
    for e in reversed(shape):
        strides.append(step)
        step *= max(e, 1)
    return tuple(reversed(strides))


def _fill_dlpack(addr, x):
    """Copies x's own DLTensor (from its __dlpack__ capsule) into the slot; the capsule, returned,
    keeps its shape and strides alive until the call returns."""
    cap = x.__dlpack__()
    _memmove(addr, _capsule_pointer(cap, b"dltensor"), 48)
    return cap


class Adapter:
    """Generic DLPack producer; outputs as numpy arrays (host only)."""
    name = "dlpack"
    grad = False
    compiled = False  # whether the compiled runner (_fastcall.Runner) reads these arrays
    pointer = None  # there: x -> its data address (torch's data_ptr); None: the buffer protocol (numpy)
    needs_after = False  # whether after() does anything (the compiled runner has no after step)

    def key(self, x):
        return (self, tuple(x.shape), str(x.dtype), x.__dlpack_device__())

    def describe(self, x):
        """(dtype name, shape, strides in elements or None, device type, device id)."""
        cap = x.__dlpack__()
        t = DLTensor.from_address(_capsule_pointer(cap, b"dltensor"))
        code = (t.dtype.code, t.dtype.bits)
        if code not in DTYPE_NAMES or t.dtype.lanes != 1:
            raise Error("einfuse: error: DLPack dtype (code %d, bits %d, lanes %d) is not supported; supported: "
                        "float16/32/64, bfloat16, bool, int8/16/32/64, uint8/16/32/64, complex64/128" % (t.dtype.code, t.dtype.bits, t.dtype.lanes), 1)
        shape = tuple(t.shape[i] for i in range(t.ndim))
        strides = tuple(t.strides[i] for i in range(t.ndim)) if t.strides else None
        return DTYPE_NAMES[code], shape, strides, t.device.device_type, t.device.device_id

    def filler(self, slot, x):
        """fill(x) for this slot on later calls, returning what must stay alive through the call."""
        addr = ctypes.addressof(slot)
        return lambda x: _fill_dlpack(addr, x)

    def out_filler(self, slot):
        """fill(x) for an output slot, x being what empty() made."""
        addr = ctypes.addressof(slot)
        return lambda x: _fill_dlpack(addr, x)

    def allocator(self, shape, dtype, device):
        """A call without arguments that returns a new output array (what the hot path calls)."""
        return lambda: self.empty(shape, dtype, device)

    def empty(self, shape, dtype, device):
        import numpy
        if device[0] != KDLCPU:
            raise Error("einfuse: error: cannot allocate an output for %s arrays on a GPU: pass out=" % self.name, 1)
        return numpy.empty(shape, dtype)

    def stream(self, device_id):
        return None

    def stream_function(self):
        """device_id -> the current stream's address (or None), for the compiled runner."""
        return self.stream

    def after(self, device_type):
        pass


class NumpyAdapter(Adapter):
    name = "numpy"
    compiled = True  # through the buffer protocol, where filler() would not copy (see _compiled_runner)

    def __init__(self):
        if _lib.fastcall is not None:
            import numpy
            _lib.fastcall.configure_buffers((numpy.ndarray,), CACHE_ENTRIES)

    def allocator(self, shape, dtype, device):
        import numpy
        return functools.partial(numpy.empty, shape, dtype)

    def key(self, x):
        return (self, x.shape, x.strides, x.dtype)

    def describe(self, x):
        code = DTYPE_CODES.get(x.dtype.name)
        if code is None or not x.dtype.isnative:
            raise Error("einfuse: error: numpy dtype %s is not supported; supported: float16/32/64, bool, "
                        "int8/16/32/64, uint8/16/32/64"
                        % x.dtype, 1)
        item = x.itemsize
        strides = tuple(s // item for s in x.strides) if all(s % item == 0 for s in x.strides) else None
        return x.dtype.name, x.shape, strides, KDLCPU, 0

    @staticmethod
    def copied(x):
        """Whether x is read through a contiguous copy: einfuse takes non-negative element strides."""
        return any(s < 0 or s % x.itemsize for s in x.strides)

    def filler(self, slot, x):
        addr = ctypes.addressof(slot)
        if self.copied(x):
            import numpy

            def fill_copy(x):
                c = numpy.ascontiguousarray(x)
                return c, _fill_dlpack(addr, c)
            return fill_copy

        def fill(x):
            try:
                return _fill_dlpack(addr, x)
            except BufferError:  # numpy refuses to export a read-only array (np.broadcast_to), and bool (1.x)
                return _fill_interface(slot, x)
        return fill

    def out_filler(self, slot):
        return self.filler(slot, _NO_STRIDES)

    def empty(self, shape, dtype, device):
        import numpy
        return numpy.empty(shape, dtype)


class _NoStrides:
    """What NumpyAdapter.filler asks of an output it allocated itself: C order, no copy needed."""
    strides = ()
    itemsize = 1


_NO_STRIDES = _NoStrides()


def _fill_interface(slot, x):
    """The slot from numpy's __array_interface__ (read-only arrays, which DLPack 0.x cannot mark)."""
    n = x.ndim
    shape = (ctypes.c_int64 * max(n, 1))(*x.shape)
    strides = (ctypes.c_int64 * max(n, 1))(*[s // x.itemsize for s in x.strides])
    slot.data = x.__array_interface__["data"][0]
    slot.shape, slot.strides, slot.byte_offset = shape, strides, 0
    return shape, strides


class CupyAdapter(Adapter):
    name = "cupy"

    def empty(self, shape, dtype, device):
        import cupy
        with cupy.cuda.Device(device[1]):
            return cupy.empty(shape, dtype)

    def filler(self, slot, x):
        import cupy
        addr = ctypes.addressof(slot)

        def fill(x):
            cap = x.__dlpack__(stream=cupy.cuda.get_current_stream().ptr or 1)
            _memmove(addr, _capsule_pointer(cap, b"dltensor"), 48)
            return cap
        return fill

    def stream(self, device_id):
        import cupy
        return cupy.cuda.get_current_stream().ptr or None


class JaxAdapter(Adapter):
    """JAX arrays, eagerly. JAX hides its stream: einfuse runs on the default stream after the
    inputs are ready and the call waits for it, so that XLA's later work sees the result. The
    output is a fresh jax array that einfuse writes in place before anyone else sees it."""
    name = "jax"
    needs_after = True

    def key(self, x):
        if not hasattr(x, "__dlpack__") or type(x).__name__.endswith("Tracer"):
            raise Traced("einfuse: error: einfuse runs on JAX tracers (inside jax.jit) only through its XLA "
                         "custom call (docs/python.md, 'JAX')", 1)
        return (self, x.shape, str(x.dtype), x.__dlpack_device__())

    def empty(self, shape, dtype, device):
        import jax
        import jax.numpy as jnp
        if device[0] == KDLCPU:
            dev = jax.devices("cpu")[0]
        else:
            dev = [d for d in jax.devices() if d.platform == "gpu" and d.local_hardware_id == device[1]][0]
        with jax.default_device(dev):
            out = jnp.zeros(shape, jnp.dtype(dtype))
        out.block_until_ready()
        return out

    def filler(self, slot, x):
        addr = ctypes.addressof(slot)

        def fill(x):
            x.block_until_ready()
            return _fill_dlpack(addr, x)
        return fill

    def after(self, device_type):
        if device_type == KDLCUDA:
            _cuda_sync()


_libcuda = None


def _cuda_sync():
    global _libcuda
    if _libcuda is None:
        _libcuda = ctypes.CDLL("libcuda.so.1")
        _libcuda.cuStreamSynchronize.argtypes = [ctypes.c_void_p]
    status = _libcuda.cuStreamSynchronize(None)
    if status:
        raise Error("einfuse: error: cuStreamSynchronize failed (CUDA error %d)" % status, 4)


_ADAPTERS = {}
_GENERIC = Adapter()


def adapter_of(x):
    t = type(x)
    ad = _ADAPTERS.get(t)
    if ad is None:
        ad = _resolve(t, x)
    return ad


def _resolve(t, x):
    module = t.__module__ or ""
    numpy = sys.modules.get("numpy")
    if any(c.__module__.startswith("torch") and c.__name__ == "Tensor" for c in t.__mro__):
        from . import _torch  # torch.Tensor and its subclasses (nn.Parameter)
        ad = _torch.adapter()
    elif numpy is not None and isinstance(x, numpy.ndarray):
        ad = NumpyAdapter()
    elif module.startswith("cupy"):
        ad = CupyAdapter()
    elif module.startswith("jax"):
        ad = JaxAdapter()
    elif hasattr(x, "__dlpack__"):
        ad = _GENERIC
    else:
        raise Error("einfuse: error: a %s.%s is not an array einfuse can read (it needs __dlpack__: numpy, "
                    "PyTorch, JAX, CuPy)" % (module, t.__name__), 1)
    _ADAPTERS[t] = ad
    return ad


# --- Entries: one per expression and signature of the arrays ----------------------------------

class _Entry:
    __slots__ = ("kernel", "lock", "ins", "outs", "fills", "out_fills", "allocs", "out_meta", "out_adapter", "device",
                 "grad", "keep", "n_in", "n_out", "adapters", "run")


_entries = {}
_kernels = {}
_compile_lock = threading.Lock()


def _evict(cache):
    while len(cache) > CACHE_ENTRIES:
        cache.pop(next(iter(cache)))


def _slot_from(slot, info, keep):
    dtype, shape, strides, dev_type, dev_id = info
    n = len(shape)
    slot.device.device_type, slot.device.device_id = dev_type, dev_id
    slot.ndim = n
    slot.dtype.code, slot.dtype.bits = DTYPE_CODES[dtype]
    slot.dtype.lanes = 1
    sh = (ctypes.c_int64 * max(n, 1))(*shape)
    keep.append(sh)
    slot.shape = sh
    if strides is not None:
        st = (ctypes.c_int64 * max(n, 1))(*strides)
        keep.append(st)
        slot.strides = st
    slot.byte_offset = 0


def _make_entry(expr, optstr, arrays, adapters):
    infos = [ad.describe(x) for ad, x in zip(adapters, arrays)]
    devices = {(i[3], i[4]) for i in infos}
    device = infos[0][3:5] if infos else (KDLCPU, 0)
    if len(devices) > 1:
        raise Error("einfuse: error: the arrays are on different devices %s; all must share one"
                    % sorted(devices), 1)
    kkey = (expr, optstr, tuple((i[0], i[1]) for i in infos), device)
    with _compile_lock:
        kernel = _kernels.get(kkey)
    if kernel is None:
        kernel = Kernel(expr, [i[0] for i in infos], [len(i[1]) for i in infos], device[0], optstr)
        with _compile_lock:
            _kernels[kkey] = kernel
            _evict(_kernels)
    if len(infos) != len(kernel.inputs):
        raise Error("einfuse: error: the expression reads %d inputs, got %d" % (len(kernel.inputs), len(infos)), 2)
    e = _Entry()
    e.kernel, e.lock, e.keep, e.device = kernel, threading.Lock(), [], device
    e.n_in, e.n_out = len(arrays), len(kernel.outputs)
    e.ins = (DLTensor * max(e.n_in, 1))()
    e.outs = (DLTensor * max(e.n_out, 1))()
    for slot, info in zip(e.ins, infos):
        _slot_from(slot, info, e.keep)
    e.out_meta = kernel.output_meta(e.ins)
    for slot, (shape, dtype) in zip(e.outs, e.out_meta):
        _slot_from(slot, (dtype, shape, None, device[0], device[1]), e.keep)
    e.fills = [ad.filler(slot, x) for ad, slot, x in zip(adapters, e.ins, arrays)]
    e.out_adapter = adapters[0] if adapters else NumpyAdapter()
    e.out_fills = [e.out_adapter.out_filler(slot) for slot in e.outs[:e.n_out]]
    e.allocs = [e.out_adapter.allocator(shape, dtype, device) for shape, dtype in e.out_meta]
    e.adapters = adapters
    e.grad = any(ad.grad for ad in adapters)
    e.run = _runner(e, arrays)
    return e


def _runner(e, arrays):
    """run(arrays) -> new outputs: the hot path, everything it needs bound once per entry. The
    compiled one (_fastcall.Runner) where it can read the arrays."""
    return _compiled_runner(e, arrays) or python_runner(e)


def python_runner(e):
    """The hot path in Python: the entry's DLTensors filled under its lock, the ctypes call."""
    fills, allocs, out_fills, lock = e.fills, e.allocs, e.out_fills, e.lock
    handle, n_in, n_out, ins, outs = e.kernel.handle, e.n_in, e.n_out, e.ins, e.outs
    ad = e.out_adapter
    if e.device[0] != KDLCUDA:
        if n_out == 1:
            alloc, out_fill = allocs[0], out_fills[0]

            def run(arrays):
                with lock:
                    keep = [f(x) for f, x in zip(fills, arrays)]
                    res = alloc()
                    keep.append(out_fill(res))
                    status = _run(handle, n_in, ins, 1, outs, None)
                if status:
                    raise _lib.error(status)
                return [res]
            return run
        stream = lambda: None  # noqa: E731
        after = None
    else:
        device_id, stream_of, after = e.device[1], ad.stream, ad.after
        stream = lambda: stream_of(device_id)  # noqa: E731

    def run(arrays):
        with lock:
            keep = [f(x) for f, x in zip(fills, arrays)]
            res = [alloc() for alloc in allocs]
            keep += [f(x) for f, x in zip(out_fills, res)]
            status = _run(handle, n_in, ins, n_out, outs, stream())
        if status:
            raise _lib.error(status)
        if after is not None:
            after(KDLCUDA)
        return res
    return run


def _compiled_runner(e, arrays):
    """The entry's _fastcall.Runner, or None: it needs the module, one adapter for every array
    that the runner reads (torch; numpy where its element strides are whole and non-negative:
    others are copied first), no `after` step, and at most MAX_TENSORS tensors each way."""
    fast = _lib.fastcall
    if fast is None or e.n_out < 1 or max(e.n_in, e.n_out) > fast.MAX_TENSORS:
        return None
    kinds = set(e.adapters) | {e.out_adapter}
    ad = e.out_adapter
    if len(kinds) != 1 or not ad.compiled or ad.needs_after:
        return None
    if isinstance(ad, NumpyAdapter) and any(ad.copied(x) for x in arrays):
        return None
    stream = e.out_adapter.stream_function() if e.device[0] == KDLCUDA else None
    owner = e.kernel  # keeps the handle alive (the runner copies the DLTensors, with their shapes)
    return fast.Runner(_lib.run_address, e.kernel.handle, ctypes.addressof(e.ins), e.n_in, ctypes.addressof(e.outs),
                       e.n_out, e.device[1], owner, ad.pointer, tuple(e.allocs), stream, _lib.error)


def plain(arrays):
    """The arrays as einfuse reads them: torch's lazy conjugate and negative views resolved
    (their data pointers hold the values before the conjugation or negation)."""
    return arrays if torch_hook is None else torch_hook.resolved(arrays)


def entry_for(expr, optstr, arrays):
    adapters = []
    parts = [expr, optstr]
    for x in arrays:
        ad = _ADAPTERS.get(type(x)) or adapter_of(x)
        adapters.append(ad)
        parts.append(ad.key(x))
    key = tuple(parts)
    e = _entries.get(key)
    if e is None:
        e = _make_entry(expr, optstr, arrays, adapters)
        with _compile_lock:
            _entries[key] = e
            _evict(_entries)
    return e


def execute(e, arrays, outs=None):
    """Runs entry e on arrays: into `outs` (arrays of any DLPack type) or into new arrays of the
    first input's framework. Returns the outputs."""
    if outs is None:
        return e.run(arrays)
    ad = e.out_adapter
    if len(outs) != e.n_out:
        raise Error("einfuse: error: expected %d outputs, got %d" % (e.n_out, len(outs)), 1)
    # The caller's outputs are described in full, in DLTensors of this call (the entry's own output
    # slots keep the shapes its allocated outputs have).
    slots = (DLTensor * max(e.n_out, 1))()
    keep = [_fill_any(slot, x) for slot, x in zip(slots, outs)]
    with e.lock:
        keep += [f(x) for f, x in zip(e.fills, arrays)]
        stream = ad.stream(e.device[1]) if e.device[0] == KDLCUDA else None
        status = _run(e.kernel.handle, e.n_in, e.ins, e.n_out, slots, stream)
    if status:
        raise _lib.error(status)
    if e.device[0] == KDLCUDA:
        ad.after(KDLCUDA)
    return outs


def _fill_any(slot, x):
    """A caller's output array of any kind, fully described (shape, strides, dtype, device)."""
    if torch_hook is not None and torch_hook.lazy_view(x):
        raise Error("einfuse: error: out= is a conjugate or negative view (x.conj(), or its .imag): einfuse "
                    "would write the values before the conjugation; pass a plain tensor", 1)
    ad = adapter_of(x)
    info = ad.describe(x)
    keep = []
    _slot_from(slot, info, keep)
    keep.append(ad.filler(slot, x)(x))
    return keep


# --- Expressions: what a program reads, by name ---------------------------------------------

_inspected = {}


def inspect(expr):
    """(is_program, [input names]) of an expression, from its text."""
    r = _inspected.get(expr)
    if r is None:
        is_program, count = ctypes.c_int(), ctypes.c_int()
        _lib.check(_lib.inspect(expr.encode(), ctypes.byref(is_program), ctypes.byref(count), 0, None, None))
        names = (ctypes.c_char_p * max(count.value, 1))()
        _lib.check(_lib.inspect(expr.encode(), ctypes.byref(is_program), ctypes.byref(count), count.value, names,
                                None))
        r = (bool(is_program.value), [names[i].decode() for i in range(count.value)])
        _inspected[expr] = r
    return r


_output_names = {}


def output_names(expr, optstr, dtypes, ranks):
    """The names of what `expr` computes for inputs of these dtypes and ranks (a host kernel's)."""
    key = (expr, optstr, dtypes, ranks)
    names = _output_names.get(key)
    if names is None:
        k = Kernel(expr, list(dtypes), list(ranks), KDLCPU, optstr)
        names = _output_names[key] = tuple(name for name, _, _ in k.outputs)
    return names
