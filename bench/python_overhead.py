#!/usr/bin/env python3
"""Host time of a cached einfuse.einsum call against torch.einsum (and numpy.einsum on the host).

    PYTHONPATH=python EINFUSE_LIBRARY=build/api/libeinfuse.so python3 bench/python_overhead.py [--json]

On CUDA (when torch sees a GPU) the time is what the Python thread spends per call, calls queued
back to back with no synchronisation inside the loop (the work is small, so the GPU keeps up); on
the host the call also computes, so the problems are tiny and a cached call's cost is mostly
dispatch. Medians of 15 rounds of N calls, the variants' rounds interleaved. "C ABI run alone" is
einfuse_run_on_stream on the cached kernel, its DLTensors refilled from the same arrays, the same output
every time: einfuse.einsum minus that is the Python layer's cost (with the output's allocation).
For torch, each step of the hot path is also timed alone: the profile of a call. A cached call on
torch tensors runs in python/einfuse/_fastcall.c when it is built ("compiled call path" says
whether it was loaded).
The brief's target: <= 10 us and <= torch.einsum on CUDA."""
import json
import statistics
import sys
import time

import numpy as np

import einfuse

CASES = [("bij,bjk->bik", [(1024, 2, 2), (1024, 2, 2)]),
         ("bij,bjk->bik", [(16, 3, 3), (16, 3, 3)]),
         ("nc,nc->n", [(256, 8), (256, 8)])]


def per_call_us(variants, n, sync=None, rounds=15):
    """Median host time per call of each variant (a dict of calls), their rounds interleaved so
    that a machine's changing load falls on all of them alike."""
    for fn in variants.values():
        fn()
        fn()
    times = {k: [] for k in variants}
    for _ in range(rounds):
        for k, fn in variants.items():
            if sync:
                sync()
            t0 = time.perf_counter()
            for _ in range(n):
                fn()
            times[k].append((time.perf_counter() - t0) / n * 1e6)
            if sync:
                sync()
    return {k: statistics.median(v) for k, v in times.items()}


def c_abi_run_fn(expr, ops):
    """einfuse_run_on_stream on the cached kernel, the DLTensors refilled from the same arrays and
    the same output every call: what the C ABI and the kernel cost, without the rest of the
    Python layer (the entry is shared with einfuse.einsum, whose calls repoint its slots)."""
    from einfuse import _core, _lib
    out = einfuse.einsum(expr, *ops)
    e = _core.entry_for(expr, "", ops)
    stream = e.out_adapter.stream(e.device[1]) if e.device[0] == _lib.KDLCUDA else None
    run, h, n_in, ins, outs = _lib.run_on_stream, e.kernel.handle, e.n_in, e.ins, e.outs
    fills, out_fill = e.fills, e.out_fills[0]

    def call():
        keep = [f(x) for f, x in zip(fills, ops)] + [out_fill(out)]
        return run(h, n_in, ins, 1, outs, stream), keep
    return call


def hot_path_parts(expr, ops, n, sync):
    """The profile of a cached einfuse.einsum call on torch tensors: each step of its hot path
    (python/einfuse/__init__.py einsum, then python/einfuse/_fastcall.c) timed alone, the same
    way; and, to compare, the Python runner (ctypes) that takes the call without the module."""
    from einfuse import _core, _lib
    e = _core.entry_for(expr, "", ops)
    out = e.allocs[0]()
    stream = e.out_adapter.stream(e.device[1]) if e.device[0] == _lib.KDLCUDA else None
    run, h, n_in, ins, outs, fills = _lib.run_on_stream, e.kernel.handle, e.n_in, e.ins, e.outs, e.fills
    for f, x in zip(fills, ops):
        f(x)
    fill_out = e.out_fills[0]
    parts = {"torch.compile check": _core.compiling}
    if _lib.fastcall is not None:
        lookup = _lib.fastcall.lookup
        parts["compiled call: key, lookup, runner (all but the Python function)"] = lambda: lookup(expr, "", ops, 1)
        parts["compiled runner alone (no key)"] = lambda: e.run(ops)
    parts.update({
        "output allocation (torch.empty)": e.allocs[0],
        "  for comparison: ops[0].new_empty(shape)": lambda shape=tuple(out.shape): ops[0].new_empty(shape),
        # Its output slot is refilled: the Python runner's calls point it at outputs they drop.
        "C ABI through ctypes (the same arrays and output)": lambda: (fill_out(out), run(h, n_in, ins, 1, outs, stream)),
        "Python runner (ctypes path, without the module)": lambda r=_core.python_runner(e): r(ops),
    })
    if stream is not None:
        parts["current stream"] = lambda: e.out_adapter.stream(e.device[1])
    return per_call_us(parts, n, sync)


def main():
    rows = []
    try:
        import torch
    except ImportError:
        torch = None
    device = "cuda" if torch is not None and torch.cuda.is_available() else "cpu"
    n = 2000 if device == "cuda" else 500
    for expr, shapes in CASES:
        if torch is not None:
            ops = [torch.randn(*s, device=device) for s in shapes]
            sync = torch.cuda.synchronize if device == "cuda" else None
            with torch.no_grad():
                m = per_call_us({"e": lambda: einfuse.einsum(expr, *ops), "t": lambda: torch.einsum(expr, *ops),
                                 "c": c_abi_run_fn(expr, ops)}, n, sync)
                parts = hot_path_parts(expr, ops, n, sync)
            rows.append({"framework": "torch", "device": device, "expr": expr, "shapes": shapes,
                         "einfuse_us": round(m["e"], 2), "torch_einsum_us": round(m["t"], 2),
                         "c_abi_run_us": round(m["c"], 2), "parts_us": {k: round(v, 2) for k, v in parts.items()}})
        ops = [np.random.rand(*s).astype(np.float32) for s in shapes]
        try:
            m = per_call_us({"e": lambda: einfuse.einsum(expr, *ops), "t": lambda: np.einsum(expr, *ops),
                             "c": c_abi_run_fn(expr, ops)}, n)
        except einfuse.Error as e:  # a build without the host backend (the GPU machine's)
            print("numpy %s: skipped: %s" % (expr, str(e).splitlines()[0]), file=sys.stderr)
            continue
        rows.append({"framework": "numpy", "device": "cpu", "expr": expr, "shapes": shapes,
                     "einfuse_us": round(m["e"], 2), "numpy_einsum_us": round(m["t"], 2),
                     "c_abi_run_us": round(m["c"], 2)})
    print("compiled call path: %s" % ("loaded" if einfuse._lib.fastcall else "not loaded (%s)" % einfuse._lib.fastcall_problem),
          file=sys.stderr)
    if "--json" in sys.argv:
        print(json.dumps(rows, indent=1))
        return
    for r in rows:
        peer = "torch.einsum" if r["framework"] == "torch" else "numpy.einsum"
        peer_us = r.get("torch_einsum_us", r.get("numpy_einsum_us"))
        print("%-6s %-4s %-14s %-10s einfuse.einsum %7.2f us   %s %7.2f us   (C ABI run alone %6.2f us)" % (
            r["framework"], r["device"], r["expr"], "x".join(map(str, r["shapes"][0])), r["einfuse_us"], peer,
            peer_us, r["c_abi_run_us"]))
        for part, us in r.get("parts_us", {}).items():
            print("       %-66s %6.2f us" % (part, us))


if __name__ == "__main__":
    main()
