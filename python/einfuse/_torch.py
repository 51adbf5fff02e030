"""PyTorch: tensors as einfuse arrays (data pointers, no DLPack capsule on the hot path), the
caller's current CUDA stream, autograd for einsums, and custom operators (torch.library, with fake
implementations) so that torch.compile keeps einfuse calls in its graph.

Loaded on the first torch tensor einfuse sees, or at `import einfuse` when torch is already
imported (so that torch.compile, which traces einfuse.einsum, sees the custom operators)."""
import functools
import sys
from typing import List

import torch

from . import _core, _grad, _lib
from ._lib import Error, KDLCPU, KDLCUDA

_NAMES = {torch.float16: "float16", torch.bfloat16: "bfloat16", torch.float32: "float32",
          torch.float64: "float64", torch.int32: "int32", torch.int64: "int64", torch.bool: "bool",
          torch.int8: "int8", torch.int16: "int16", torch.uint8: "uint8", torch.complex64: "complex64",
          torch.complex128: "complex128"}
for _name in ("uint16", "uint32", "uint64"):  # torch 2.3 and later
    if hasattr(torch, _name):
        _NAMES[getattr(torch, _name)] = _name
_DTYPES = {v: k for k, v in _NAMES.items()}
_raw_stream = getattr(torch._C, "_cuda_getCurrentRawStream", None)
_devices = {}

PROGRAM_BACKWARD = ("einfuse: backward not yet supported for programs (einfuse.run and index-notation "
                    "programs); only einsums are differentiable until einfuse generates backward programs")


def _torch_device(device):
    d = _devices.get(device)
    if d is None:
        d = _devices[device] = torch.device("cpu") if device[0] == KDLCPU else torch.device("cuda", device[1])
    return d


class TorchAdapter(_core.Adapter):
    name = "torch"
    grad = True
    compiled = True
    pointer = staticmethod(torch.Tensor.data_ptr)

    def key(self, x):
        return (self, x.shape, x.stride(), x.dtype, x.device)

    def describe(self, x):
        name = _NAMES.get(x.dtype)
        if name is None:
            raise Error("einfuse: error: torch dtype %s is not supported; supported: float16, bfloat16, float32, "
                        "float64, int32, int64, complex64, complex128" % x.dtype, 1)
        dev = x.device
        if dev.type == "cpu":
            where = (KDLCPU, 0)
        elif dev.type == "cuda":
            where = (KDLCUDA, dev.index or 0)
        else:
            raise Error("einfuse: error: torch device %s is not supported (cpu or cuda)" % dev, 1)
        return (name, tuple(x.shape), tuple(x.stride())) + where

    def filler(self, slot, x):
        def fill(x):
            slot.data = x.data_ptr()
        return fill

    def out_filler(self, slot):
        return self.filler(slot, None)

    def empty(self, shape, dtype, device):
        return torch.empty(shape, dtype=_DTYPES[dtype], device=_torch_device(device))

    def allocator(self, shape, dtype, device):
        return functools.partial(torch.empty, shape, dtype=_DTYPES[dtype], device=_torch_device(device))

    def stream(self, device_id):
        if _raw_stream is not None:
            return _raw_stream(device_id) or None
        return torch.cuda.current_stream(device_id).cuda_stream or None

    def stream_function(self):
        return _raw_stream or self.stream


def lazy_view(x):
    """Whether x is torch's lazy conjugate or negative view (x.conj() of a complex tensor, or its
    .imag): it shares the data of x, whose pointer does not hold the view's values."""
    return isinstance(x, torch.Tensor) and (x.is_conj() or x.is_neg())


def resolved(arrays):
    """The arrays with lazy views (lazy_view) made real."""
    return tuple(x.resolve_conj().resolve_neg() if lazy_view(x) else x for x in arrays)


_adapter = TorchAdapter()


def adapter():
    return _adapter


def _eager(expr, operands, options):
    operands = resolved(operands)
    return _core.execute(_core.entry_for(expr, options, operands), operands)


_meta_kernels = {}


def _hint(s):
    """A size as an int: itself, or a symbolic size's example value (torch.compile, dynamic shapes)."""
    if isinstance(s, int):
        return s
    from torch.fx.experimental.symbolic_shapes import hint_int
    return hint_int(s)


def _meta(expr, options, operands):
    """[(shape, dtype name)] of the outputs for these operands' shapes and dtypes (no data read):
    the C ABI's einfuse_output_shapes on a host kernel of the same signature."""
    infos = [(_NAMES[x.dtype], tuple(_hint(s) for s in x.shape)) for x in operands]
    key = (expr, options, tuple(infos))
    meta = _meta_kernels.get(key)
    if meta is None:
        # Compiled for the tensors' device type (a build without the host backend still plans
        # host kernels, but the GPU machine's users hand CUDA tensors); nothing runs.
        device = KDLCUDA if operands and operands[0].device.type == "cuda" else KDLCPU
        k = _core.Kernel(expr, [i[0] for i in infos], [len(i[1]) for i in infos], device, options)
        slots = (_core.DLTensor * max(len(infos), 1))()
        keep = []
        for slot, (dtype, shape) in zip(slots, infos):
            _core._slot_from(slot, (dtype, shape, None, KDLCPU, 0), keep)
        meta = _meta_kernels[key] = k.output_meta(slots)
    return meta


def einsum_backward(expr, operands, grad, needs, einsum):
    """Each operand's gradient (None where not needed), the einsums run by `einsum(expr, tensors)`."""
    plans = _grad.plan(expr, [tuple(x.shape) for x in operands])
    grads = []
    for k, x in enumerate(operands):
        if not needs[k] or not (x.dtype.is_floating_point or x.dtype.is_complex):
            grads.append(None)
            continue
        p = plans[k]
        # Complex: torch's convention (the conjugate Wirtinger derivative) multiplies the output's
        # gradient by the other operands' conjugates; a real operand keeps the real part.
        others = [operands[j].conj().resolve_conj() if operands[j].is_complex() else operands[j] for j in p.others]
        t = grad if p.identity else einsum(p.expr, [grad] + others)
        if t.is_complex() and not x.is_complex():
            t = t.real
        t = t.reshape(p.view_shape).expand(p.sizes)
        if p.diagonal:
            z = t.new_zeros(p.shape)
            z.as_strided(p.sizes, p.diagonal_strides).copy_(t)
            t = z
        grads.append(t.to(x.dtype))
    return grads


# --- torch >= 2.4: custom operators, visible to torch.compile ----------------------------------

HAVE_CUSTOM_OPS = hasattr(torch, "library") and hasattr(torch.library, "custom_op") and \
    hasattr(torch.library, "register_fake")

if HAVE_CUSTOM_OPS:
    @torch.library.custom_op("einfuse::einsum", mutates_args=())
    def einsum_op(expr: str, operands: List[torch.Tensor], options: str) -> torch.Tensor:
        return _eager(expr, operands, options)[0]

    @einsum_op.register_fake
    def _einsum_fake(expr, operands, options):
        (shape, dtype), = _meta(expr, options, operands)  # checks the shapes (their example values)
        if not all(isinstance(s, int) for x in operands for s in x.shape) and not _core.inspect(expr)[0]:
            # Symbolic sizes (dynamic shapes): each output label's size is the largest of its
            # operands' sizes (numpy's rule: they agree or are 1), so no size is specialised.
            labels, out, _ = _grad.parse(expr, [x.dim() for x in operands])
            sizes = {}
            for lab, x in zip(labels, operands):
                for c, n in zip(lab, x.shape):
                    sizes[c] = torch.sym_max(sizes[c], n) if c in sizes else n
            shape = [sizes[c] for c in out]
        else:
            _specialise(operands)
        return operands[0].new_empty(shape, dtype=_DTYPES[dtype])

    def _einsum_setup(ctx, inputs, output):
        expr, operands, options = inputs
        ctx.expr, ctx.options = expr, options
        ctx.save_for_backward(*operands)

    def _einsum_grad(ctx, grad):
        opts = ctx.options
        # needs_input_grad has the inputs' structure here: (expr, [one per operand], options).
        grads = einsum_backward(ctx.expr, ctx.saved_tensors, grad, list(ctx.needs_input_grad[1]),
                                lambda e, ts: torch.ops.einfuse.einsum(e, ts, opts))
        return None, grads, None

    einsum_op.register_autograd(_einsum_grad, setup_context=_einsum_setup)

    @torch.library.custom_op("einfuse::run", mutates_args=())
    def run_op(program: str, inputs: List[torch.Tensor], options: str) -> List[torch.Tensor]:
        return list(_eager(program, inputs, options))

    @run_op.register_fake
    def _run_fake(program, inputs, options):
        _specialise(inputs)
        return [inputs[0].new_empty(shape, dtype=_DTYPES[dtype]) for shape, dtype in _meta(program, options, inputs)]

    def _specialise(tensors):
        """A program's output sizes follow from its statements, which only einfuse reads: under
        dynamic shapes the inputs' sizes are specialised (guarded: a new size recompiles)."""
        for x in tensors:
            for n in x.shape:
                if not isinstance(n, int):
                    int(n)

    def _run_setup(ctx, inputs, output):
        pass

    def _run_grad(ctx, *grads):
        raise NotImplementedError(PROGRAM_BACKWARD)

    run_op.register_autograd(_run_grad, setup_context=_run_setup)

    def einsum(expr, operands, options):
        return torch.ops.einfuse.einsum(expr, list(operands), options)

    def run(program, inputs, options):
        return tuple(torch.ops.einfuse.run(program, list(inputs), options))
else:
    # Older torch (Debian 12 has 1.13): autograd.Function, eager only.
    class _EinsumFunction(torch.autograd.Function):
        @staticmethod
        def forward(ctx, expr, options, *operands):
            ctx.expr, ctx.options = expr, options
            ctx.save_for_backward(*operands)
            return _eager(expr, operands, options)[0]

        @staticmethod
        def backward(ctx, grad):
            opts = ctx.options
            grads = einsum_backward(ctx.expr, ctx.saved_tensors, grad, ctx.needs_input_grad[2:],
                                    lambda e, ts: _EinsumFunction.apply(e, opts, *ts))
            return (None, None) + tuple(grads)

    class _ProgramFunction(torch.autograd.Function):
        @staticmethod
        def forward(ctx, program, options, *inputs):
            return tuple(_eager(program, inputs, options))

        @staticmethod
        def backward(ctx, *grads):
            raise NotImplementedError(PROGRAM_BACKWARD)

    def einsum(expr, operands, options):
        return _EinsumFunction.apply(expr, options, *operands)

    def run(program, inputs, options):
        out = _ProgramFunction.apply(program, options, *inputs)
        return out if isinstance(out, tuple) else (out,)


def dtype_name(x):
    return _NAMES.get(x.dtype, str(x.dtype))


def needs_grad(arrays):
    return torch.is_grad_enabled() and any(getattr(x, "requires_grad", False) for x in arrays)


_is_compiling = getattr(getattr(torch, "compiler", None), "is_compiling", None)
if _is_compiling is None:
    _is_compiling = getattr(getattr(torch, "_dynamo", None), "is_compiling", None)
if _is_compiling is not None and HAVE_CUSTOM_OPS:
    _core.compiling = _is_compiling
    # What the public calls ask of an expression's text is constant while torch.compile traces.
    _constant = getattr(torch.compiler, "assume_constant_result", None) or torch._dynamo.assume_constant_result
    _core.inspect = _constant(_core.inspect)
    _core.output_names = _constant(_core.output_names)
_core.torch_hook = sys.modules[__name__]
if _lib.fastcall is not None:  # cached calls on plain tensors go straight to the compiled runner
    _lib.fastcall.configure_torch((torch.Tensor, torch.nn.Parameter), torch.is_grad_enabled, _core.CACHE_ENTRIES)
