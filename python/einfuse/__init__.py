"""einfuse from Python: einsums and index-notation programs on numpy, PyTorch, JAX and CuPy arrays.

    import einfuse
    c = einfuse.einsum("bij,bjk->bik", a, b)            # a, b: anything with __dlpack__
    out = einfuse.run("out[i] = sum[j](exp(-sum[d]((x[i,d] - y[j,d])^2)) * w[j])", x=x, y=y, w=w)
    f = einfuse.compile("bij,bjk->bik"); c = f(a, b); print(f.plan)

Results are arrays of the first input's framework, on its device, computed in place there (no
copies) and, on a GPU, on the framework's current stream. Python over libeinfuse.so's C ABI
(ctypes), with an optional compiled call path for cached calls; docs/python.md has the details."""
import sys as _sys

from . import _core, _lib
from ._lib import Error, library_path

_fastcall = _lib.fastcall  # the compiled call path, or None (docs/python.md, "The per-call path")
__version__ = _lib.version
__all__ = ["einsum", "run", "compile", "Compiled", "Error", "clear_cache", "library_path"]


def _check_target(e, target):
    if target is None:
        return
    want = {"host": _lib.KDLCPU, "cpu": _lib.KDLCPU, "cuda": _lib.KDLCUDA, "gpu": _lib.KDLCUDA}.get(target)
    if want is None:
        raise Error("einfuse: error: target must be 'host' or 'cuda', not %r" % (target,), 1)
    if want != e.device[0]:
        raise Error("einfuse: error: target %r but the arrays are on %s: einfuse runs where the arrays are"
                    % (target, "the host" if e.device[0] == _lib.KDLCPU else "a CUDA device"), 1)


def _call(expr, optstr, arrays, outs, target, entry=None):
    """Runs expr on arrays (positional, in the kernel's input order): the outputs, in order."""
    e = entry or _core.entry_for(expr, optstr, arrays)
    if target is not None:
        _check_target(e, target)
    if e.grad and _core.torch_hook.needs_grad(arrays):
        if outs is not None:
            raise Error("einfuse: error: out= cannot be used with tensors that require grad", 1)
        if _core.inspect(expr)[0]:
            return _core.torch_hook.run(expr, arrays, optstr)
        return (_core.torch_hook.einsum(expr, arrays, optstr),)
    return _core.execute(e, arrays, outs)


def _traced(expr, optstr, arrays, out, one):
    """Under jax.jit: the XLA custom call's results (an einsum's one array; a program's array, or
    a dict by output name when it has several)."""
    from . import _xla
    if out is not None:
        raise Error("einfuse: error: out= cannot be used under jax.jit (JAX arrays are immutable)", 1)
    results = _xla.call(expr, optstr, arrays)
    if one and len(results) != 1:
        raise Error("einfuse: error: einfuse.einsum computes one output; the program has %d (use einfuse.run)"
                    % len(results), 2)
    return results[0][1] if len(results) == 1 else dict(results)


def einsum(expr, *arrays, out=None, target=None, **options):
    """numpy.einsum's semantics (or a one-output index-notation program, inputs in order of first
    use) on any arrays with __dlpack__. `out`: an array to write into (any DLPack array of the
    result's shape and dtype). `target`: 'host' or 'cuda', checked against where the arrays are.
    Options: threads=N (host), arch='sm_90', allow_tf32=True, gemm='auto'|'library'|'emitted'|'loops'.
    Differentiable for torch tensors that require grad."""
    if _core.compiling():  # torch.compile traces the custom operator; out= becomes a copy into it
        result = _core.torch_hook.einsum(expr, arrays, _core.options_text(options))
        return result if out is None else out.copy_(result)
    plain_call = out is None and target is None and not options
    if plain_call and _fastcall is not None:
        result = _fastcall.lookup(expr, "", arrays, 1)  # a cached call on torch or numpy arrays, all in C
        if result is not None:
            return result[0]
    optstr = _core.options_text(options) if options else ""
    arrays = _core.plain(arrays)
    try:
        e = _core.entry_for(expr, optstr, arrays)
    except _core.Traced:
        return _traced(expr, optstr, arrays, out, one=True)
    if out is None and target is None and e.n_out == 1 and not (e.grad and _core.torch_hook.needs_grad(arrays)):
        result = e.run(arrays)[0]  # the common call, straight to the entry's hot path
        if plain_call and _fastcall is not None and isinstance(e.run, _fastcall.Runner):
            _fastcall.remember(expr, "", arrays, e.run)  # (a call the C cache does not take is not kept)
        return result
    if e.n_out != 1:
        raise Error("einfuse: error: einfuse.einsum computes one output; the program has %d (use einfuse.run)"
                    % e.n_out, 2)
    return _call(expr, optstr, arrays, None if out is None else (out,), target, e)[0]


def _ordered(expr, named, positional=()):
    names = _core.inspect(expr)[1]
    if positional:
        if named:
            raise Error("einfuse: error: give the inputs by position or by name, not both", 1)
        return positional
    missing = [n for n in names if n not in named]
    extra = [n for n in named if n not in names]
    if missing or extra:
        raise Error("einfuse: error: the expression reads %s; %s%s" % (
            ", ".join(names), "missing: " + ", ".join(missing) if missing else "",
            ("; " if missing and extra else "") + ("not read: " + ", ".join(extra) if extra else "")), 1)
    return tuple(named[n] for n in names)


def run(program, /, *, outputs=None, out=None, target=None, options=None, **arrays):
    """Runs an index-notation program (or an einsum, operands named "0", "1", ...) on named
    arrays. Returns the output array when there is one, else a dict {name: array} in the
    program's order. `outputs`: the tensors to return (default: those defined and not read
    later). `out`: an array, or a dict of arrays by output name, to write into. `options`: a dict,
    as einsum's keyword options."""
    opts = dict(options or {})
    if outputs:
        opts["outputs"] = [outputs] if isinstance(outputs, str) else list(outputs)
    optstr = _core.options_text(opts)
    ordered = _ordered(program, arrays)
    if _core.compiling():
        result = _core.torch_hook.run(program, ordered, optstr)
        names = _core.output_names(program, optstr, tuple(_core.torch_hook.dtype_name(x) for x in ordered),
                                   tuple(x.dim() for x in ordered))
        if out is not None:
            outs = [out[n] for n in names] if isinstance(out, dict) else [out]
            result = [o.copy_(r) for o, r in zip(outs, result)]
        return result[0] if len(result) == 1 else dict(zip(names, result))
    ordered = _core.plain(ordered)
    try:
        e = _core.entry_for(program, optstr, ordered)
    except _core.Traced:
        return _traced(program, optstr, ordered, out, one=False)
    names = [name for name, _, _ in e.kernel.outputs]
    outs = None
    if out is not None:
        outs = tuple(out[n] for n in names) if isinstance(out, dict) else (out,)
    result = _call(program, optstr, ordered, outs, target, e)
    return result[0] if len(result) == 1 else dict(zip(names, result))


class Compiled:
    """A reusable callable for one expression: f(*arrays) or f(**arrays) (a program's inputs by
    name). Kernels are compiled per dtypes, shapes and device at their first call and cached.
    `plan` and `cuda_source` describe the kernel of the last call (before any call: a float32
    host kernel at default sizes)."""

    def __init__(self, expr, target=None, outputs=None, **options):
        if outputs:
            options["outputs"] = [outputs] if isinstance(outputs, str) else list(outputs)
        self.expression = expr
        self.target = target
        self._optstr = _core.options_text(options)
        self.is_program, self.inputs = _core.inspect(expr)
        self._last = None

    def __call__(self, *arrays, out=None, **named):
        arrays = _ordered(self.expression, named, arrays)
        if _core.compiling():
            if not self.is_program:
                return _core.torch_hook.einsum(self.expression, arrays, self._optstr)
            result = _core.torch_hook.run(self.expression, arrays, self._optstr)
        else:
            outs = None if out is None else (tuple(out) if isinstance(out, (tuple, list)) else (out,))
            arrays = _core.plain(arrays)
            try:
                e = _core.entry_for(self.expression, self._optstr, arrays)
            except _core.Traced:
                result = _traced(self.expression, self._optstr, arrays, out, one=False)
                return tuple(result.values()) if isinstance(result, dict) else result
            self._last = e.kernel
            result = _call(self.expression, self._optstr, arrays, outs, self.target, e)
        return result[0] if len(result) == 1 else tuple(result)

    def _kernel(self):
        if self._last is None:  # float32 inputs of the expression's own ranks, at default sizes
            device = _lib.KDLCUDA if self.target in ("cuda", "gpu") else _lib.KDLCPU
            self._last = _core.Kernel(self.expression, ["float32"] * len(self.inputs), None, device, self._optstr)
        return self._last

    @property
    def plan(self):
        """`einfuse compile --emit plan` for the last call's kernel: strategies and why."""
        return self._kernel().plan

    @property
    def cuda_source(self):
        """The standalone CUDA source of the last call's kernel (`einfuse compile --target cuda`)."""
        return self._kernel().cuda_source

    @property
    def outputs(self):
        return [name for name, _, _ in self._kernel().outputs]

    def __repr__(self):
        return "einfuse.Compiled(%r)" % self.expression


def compile(expr, target=None, outputs=None, **options):
    """A reusable callable for `expr` (an einsum or a program), with `.plan` and `.cuda_source`."""
    return Compiled(expr, target=target, outputs=outputs, **options)


def clear_cache():
    """Drops every cached kernel (they are freed once no call holds them)."""
    _core._entries.clear()
    _core._kernels.clear()
    if _fastcall is not None:
        _fastcall.clear()


if "torch" in _sys.modules:  # so that torch.compile, tracing einfuse.einsum, sees the custom operators
    from . import _torch  # noqa: F401
